"""Differential privacy: the accountant, DP-SGD under Lightning, the DP encoder state, the reports."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.paths import RunPaths
from synthgen.privacy import PrivacyConfig
from synthgen.privacy.training import epsilon_of
from tests.conftest import tiny_overrides


# ---- accountant -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["rdp", "prv"])
def test_accountant_epsilon_equals_opacus_stepping_its_own_accountant(name):
    from opacus.accountants import PRVAccountant, RDPAccountant

    acc = RDPAccountant() if name == "rdp" else PRVAccountant()
    for _ in range(300):  # Opacus's accountant fed one step at a time, as its optimiser hook does
        acc.step(noise_multiplier=1.1, sample_rate=0.02)
    assert epsilon_of(name, 1.1, 0.02, 300, 1e-5) == pytest.approx(acc.get_epsilon(delta=1e-5), rel=1e-9)
    # and it moves the right way: more noise, less epsilon
    assert epsilon_of(name, 2.0, 0.02, 300, 1e-5) < epsilon_of(name, 1.1, 0.02, 300, 1e-5)


def test_default_delta_is_the_smaller_of_1_over_n_to_the_1_1_and_1e_5():
    assert PrivacyConfig(epsilon=1).total_delta(100) == pytest.approx(1e-5)
    assert PrivacyConfig(epsilon=1).total_delta(10**6) == pytest.approx(1 / 10**6.6)
    assert PrivacyConfig(epsilon=1, delta=1e-7).total_delta(100) == 1e-7


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"epsilon": -1}, "positive"),
        ({"epsilon": 1, "delta": 2}, "delta"),
        ({"epsilon": 1, "accountant": "gdp"}, "accountant"),
        ({"epsilon": 1, "encoder_share": 1.0}, "encoder_share"),
        ({"epsilon": 1, "budget": 3}, "unknown privacy"),
    ],
)
def test_bad_privacy_settings_are_one_line(raw, needle):
    with pytest.raises(SynthgenError, match=needle) as e:
        PrivacyConfig.from_mapping(raw)
    assert "\n" not in str(e.value)


# ---- per-sample gradients of synthgen's own layers ----------------------------------------------------
def test_per_sample_gradients_equal_one_backward_per_row():
    from synthgen.models.vae import TabularVAE
    from synthgen.privacy.grad_samplers import SynthgenGradSampleModule

    torch.manual_seed(0)
    m = TabularVAE({"columns": ["a", "b", "c"], "cardinalities": [3, 5, 7]})
    x = torch.stack([torch.randint(0, k, (6,)) for k in (3, 5, 7)], 1)
    eps = torch.randn(6, m.latent_dim)
    single = []
    for i in range(6):  # the reference: each row's gradient on its own
        m.zero_grad()
        m._loss(x[i : i + 1], eps[i : i + 1])[0].backward()
        single.append({n: p.grad.clone() for n, p in m.named_parameters()})
    m.zero_grad()
    gsm = SynthgenGradSampleModule(m, batch_first=True, loss_reduction="mean", strict=False)
    m._loss(x, eps)[0].backward()
    for n, p in m.named_parameters():
        for i in range(6):
            assert torch.allclose(p.grad_sample[i], single[i][n], atol=1e-5), n
    gsm.remove_hooks()


def test_transformer_loss_is_the_same_on_the_per_sample_path():
    from synthgen.models.transformer import TabularTransformer

    torch.manual_seed(0)
    m = TabularTransformer(
        {"columns": ["a", "b", "c"], "cardinalities": [3, 5, 7]}, d_model=16, n_layers=1, n_heads=2, dropout=0.0
    ).eval()
    x = torch.stack([torch.randint(0, k, (8,)) for k in (3, 5, 7)], 1)
    fast = m._loss(x)
    m.per_sample_grads = True
    assert torch.allclose(m._loss(x), fast, atol=1e-6)


# ---- the DP encoder -----------------------------------------------------------------------------------
def _long_tail_table(n_frequent=6000, seed=0) -> pa.Table:
    """A city column with 3 frequent levels and 40 levels held by 1-5 rows; a skewed number."""
    rng = np.random.default_rng(seed)
    frequent = rng.choice(["Oslo", "Lima", "Pune"], n_frequent, p=[0.5, 0.3, 0.2]).tolist()
    rare = [f"village-{i}" for i in range(40) for _ in range(1 + i % 5)]
    city = frequent + rare
    n = len(city)
    return pa.table(
        {
            "city": city,
            "amount": np.round(np.exp(rng.normal(5, 1, n)), 2),
            "age": rng.integers(18, 90, n),
            "member": rng.random(n) < 0.3,
        }
    )


def _fit(table, columns=None, epsilon=1.0, **kw):
    from synthgen.encoders.dp_stats import fit_dp_encoder
    from synthgen.schema import infer_schema

    schema = infer_schema(table)
    settings = {"n_bins": 100, "max_categories": 1000, "rare_min_count": 1, "text_strategy": "drop"}
    return fit_dp_encoder(table, schema, settings, columns, PrivacyConfig(epsilon=epsilon, **kw), seed=0)


def test_dp_encoder_never_lists_a_category_rarer_than_the_threshold(tmp_path):
    table = _long_tail_table()
    enc = _fit(table)
    enc.save(tmp_path / "encoder.json")
    state = json.loads((tmp_path / "encoder.json").read_text())
    city = next(c for c in state["schema"]["columns"] if c["name"] == "city")
    tau = state["settings"]["privacy"]["columns"]["city"]["threshold"]
    real = dict(zip(*np.unique(table.column("city").to_numpy(zero_copy_only=False), return_counts=True)))
    listed = city["categories"][:-1]  # the last entry is the merged rare slot
    assert city["categories"][-1] == "<other>"
    assert set(listed) == {"Oslo", "Lima", "Pune"}
    assert all(real[v] >= tau for v in listed)
    assert not any(v.startswith("village") for v in json.dumps(state).split('"'))  # nowhere in the state
    # the real rows still encode (rare ones to the merged token) and decode to listed values or <other>
    tokens = enc.encode(table)
    out = enc.decode(tokens, np.random.default_rng(0)).column("city").to_pylist()
    assert set(out) <= {"Oslo", "Lima", "Pune", "<other>"}
    assert out.count("<other>") == sum(v.startswith("village") for v in table.column("city").to_pylist())


def test_dp_encoder_numbers_come_from_the_noisy_histogram():
    table = _long_tail_table()
    enc = _fit(table, epsilon=4.0)
    age = enc.schema.column("age")
    assert 18 - 5 <= age.min and age.max <= 90 + 10  # near the real range, not read from it
    spent = enc.settings["privacy"]
    assert spent["epsilon_spent"] == pytest.approx(0.4) and spent["epsilon_total"] == 4.0
    assert spent["columns"]["member"]["epsilon"] == 0.0  # booleans: public domain
    vals = enc.decode(enc.encode(table), np.random.default_rng(0)).column("amount").to_numpy()
    real = table.column("amount").to_numpy()
    assert abs(np.median(vals) - np.median(real)) < 0.25 * np.median(real)


def test_dp_dates_on_a_calendar_grid_keep_day_resolution():
    """A monthly column under DP: its noisy histogram is counted in days, so the DP encoder drops
    the calendar grid (schema.json says so) and decodes dates inside the noisy range."""
    rng = np.random.default_rng(3)
    months = pd.DatetimeIndex(
        [pd.Timestamp("2000-01-01") + pd.DateOffset(months=int(k)) for k in rng.integers(0, 120, 2000)]
    )
    table = pa.table({"month": pa.array(months.date, pa.date32()), "member": rng.random(2000) < 0.3})
    enc = _fit(table, epsilon=4.0)
    assert enc.schema.column("month").calendar is None
    out = pd.to_datetime(pd.Series(enc.decode(enc.encode(table), np.random.default_rng(0)).column("month").to_pylist()))
    assert out.between(pd.Timestamp("1999-01-01"), pd.Timestamp("2011-01-01")).all()


def test_a_dp_encoder_that_lists_no_level_says_which_columns_and_what_to_do():
    """800 rows at epsilon 2: every level of a city column fell under the listing threshold (about 200
    rows here) and the synthetic rows said '<other>' throughout, silently."""
    rng = np.random.default_rng(4)
    cities = ["Köln", "Görlitz", "Bonn", "Kiel", "Jena", "Trier", "Ulm", "Hof"]  # ~100 rows each
    table = pa.table({"city": rng.choice(cities, 800), "age": rng.integers(18, 80, 800)})
    with pytest.warns(UserWarning) as caught:
        enc = _fit(table, epsilon=2.0)
    said = [str(w.message) for w in caught if "no level of" in str(w.message)]
    assert (
        len(said) == 1
        and "no level of city is frequent enough" in said[0]
        and "data.columns.<name>.categories" in said[0]
    )
    assert enc.schema.column("city").categories == ["<other>"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough rows: no warning
        _fit(pa.table({"city": rng.choice(["Köln", "Bonn"], 40_000), "age": rng.integers(18, 80, 40_000)}), epsilon=2.0)


def test_a_dp_encoder_whose_number_histograms_hold_only_noise_says_which_columns_and_what_to_do():
    """800 rows at epsilon 2: no range cell of N(0, 1) scores stood above the noise, the noisiest
    cell's range was taken, and the scores came back as 316,232-318,047, silently."""
    rng = np.random.default_rng(4)
    n = 800
    table = pa.table({"score": rng.normal(0, 1, n), "age": rng.integers(18, 80, n)})
    with pytest.warns(UserWarning) as caught:
        _fit(table, epsilon=2.0)
    said = [str(w.message) for w in caught if "above the noise" in str(w.message)]
    assert len(said) == 1 and "histograms of score" in said[0] and "data.columns.<name>.bounds" in said[0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        enc = _fit(table, {"score": {"bounds": [-5, 5]}}, epsilon=2.0)  # a public range: no guess
    assert not any("histograms of score" in str(w.message) for w in caught)
    out = enc.decode(enc.encode(table), np.random.default_rng(0)).to_pandas()
    assert out["score"].between(-5, 5).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # enough rows: no warning
        _fit(pa.table({"score": rng.normal(0, 1, 20_000), "age": rng.integers(18, 80, 20_000)}), epsilon=4.0)


def test_dp_encoder_reads_numbers_dates_and_times_written_as_text():
    """A CSV's "12.345,67", "31.12.2020", "Yes"/"No" and a Parquet time of day are parsed before the
    DP histograms ("column 'Einkommen' is string, not numeric as at fitting time" stopped every DP
    run on such a table) and come back in their spelling and type."""
    rng = np.random.default_rng(5)
    n = 4000
    amount = np.round(np.exp(rng.normal(8, 0.5, n)), 2)
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    table = pa.table(
        {
            "amount": [f"{x:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for x in amount],
            "day": days.strftime("%d.%m.%Y").tolist(),
            "ok": rng.choice(["Yes", "No"], n).tolist(),
            "opens": pa.array(rng.integers(8 * 3600, 18 * 3600, n), pa.int32()).cast(pa.time32("s")),
        }
    )
    enc = _fit(table, epsilon=8.0)
    out = enc.decode(enc.encode(table), np.random.default_rng(0))
    assert out.schema == table.schema
    values = [float(x.replace(".", "").replace(",", ".")) for x in out.column("amount").to_pylist()]
    assert abs(np.median(values) - np.median(amount)) < 0.25 * np.median(amount)
    dates = pd.to_datetime(pd.Series(out.column("day").to_pylist()), format="%d.%m.%Y")
    assert dates.between(pd.Timestamp("2019-06-01"), pd.Timestamp("2021-06-01")).all()
    assert set(out.column("ok").to_pylist()) <= {"Yes", "No"}
    hours = out.column("opens").cast(pa.time64("us")).cast(pa.int64()).to_numpy() / 3.6e9
    assert 6 <= np.median(hours) <= 20


def test_dp_numbers_keep_their_shape_at_a_small_budget():
    """8,000 rows, 0.025 of epsilon per column: a skewed age with a 10 % tail past the range
    threshold keeps its distribution through the DP codec with or without declared bounds, and an
    amount that is 0 in 90 % of rows keeps its zeros in declared bounds (before: every age became
    56, the cut-off tail piled into the last cell, and cells below a high threshold were dropped)."""
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(1)
    n = 8000
    age = np.clip(np.round(rng.gamma(3.0, 7.0, n) + 17), 17, 90).astype(np.int64)
    gain = np.where(rng.random(n) < 0.9, 0, np.round(np.exp(rng.normal(8, 1, n)))).astype(np.int64)
    table = pa.table({"age": age, "gain": gain, "member": rng.random(n) < 0.3})
    for columns in (None, {"gain": {"bounds": [0, 99999]}, "age": {"bounds": [0, 120]}}):
        enc = _fit(table, columns, epsilon=0.75)  # 0.075 for the encoder: 0.025 per mechanism
        assert enc.settings["privacy"]["epsilon_per_mechanism"] == pytest.approx(0.025)
        out = enc.decode(enc.encode(table), np.random.default_rng(0))
        assert ks_2samp(out.column("age").to_numpy(), age).statistic < 0.05
        if columns:  # in declared bounds the zeros stay zeros and the amounts keep their shape
            g = out.column("gain").to_numpy()
            assert abs((g == 0).mean() - (gain == 0).mean()) < 0.02
            assert ks_2samp(g, gain).statistic < 0.03
        # (without bounds, the 10 % of nonzero amounts spread over log cells each below the range
        # threshold at this budget: they come back as 0, the honest answer to so little epsilon)


def test_declared_categories_and_bounds_are_public():
    table = _long_tail_table()
    enc = _fit(table, {"city": {"categories": ["Oslo", "Lima", "Pune", "Rome"]}, "age": {"bounds": [0, 120]}})
    city = enc.schema.column("city")
    assert city.categories == ["Oslo", "Lima", "Pune", "Rome", "<other>"]
    info = enc.settings["privacy"]["columns"]
    assert info["city"]["epsilon"] == 0.0 and info["age"]["range"] == "public"


@pytest.mark.parametrize(
    "columns, needle",
    [
        ({"age": {"bounds": [5]}}, "bounds must be"),
        ({"age": {"bounds": [9, 1]}}, "low <= high"),
        ({"city": {"categories": ["a", "a"]}}, "distinct"),
    ],
)
def test_bad_declarations_are_one_line(columns, needle):
    with pytest.raises(SynthgenError, match=needle) as e:
        _fit(_long_tail_table(600), columns)
    assert "\n" not in str(e.value)


# ---- a whole DP run -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dp_run(tmp_path_factory, adult_small):
    tmp = tmp_path_factory.mktemp("dp")
    cfg = load_config(
        tiny_overrides(
            tmp,
            "evaluate.gate.enabled=false",
            "privacy.epsilon=3",
            "trainer.max_epochs=2",
            "model.tabular.batch_size=100",
        )
    )
    result = pipeline.run_all(cfg)
    return cfg, RunPaths.from_config(cfg), result


def test_a_dp_run_spends_at_most_the_budget_and_says_so_everywhere(dp_run):
    cfg, paths, result = dp_run
    spent = json.loads((paths.model_dir / "privacy.json").read_text())
    assert spent["epsilon_spent"] <= 3.0 and spent["epsilon_spent"] > 2.5  # the budget is used, not exceeded
    # Poisson sampling: each step draws each row with probability q; an epoch is 1/q steps of
    # about one batch (model.tabular.batch_size=100) on average
    assert spent["steps"] == 2 * round(1 / spent["sample_rate"])
    assert spent["expected_batch_size"] == pytest.approx(100, rel=0.25)
    assert spent["epsilon_training"] == pytest.approx(spent["epsilon_spent"] - spent["epsilon_encoder"])
    manifest = json.loads((paths.synthetic / "_manifest.json").read_text())
    assert manifest["privacy"]["epsilon_spent"] == spent["epsilon_spent"]
    assert manifest["privacy"]["redraw_copies"] is False
    assert "copies_redrawn" not in manifest.get("metrics", {})
    metrics = json.loads((paths.evaluation / "metrics.json").read_text())
    assert metrics["privacy.dp_epsilon_spent"] == spent["epsilon_spent"]
    assert metrics["privacy.dp_accountant"] == "prv" and metrics["privacy.dp_max_grad_norm"] == 1.0
    assert metrics["privacy.dp_noise_multiplier"] == spent["noise_multiplier"] > 0
    page = (paths.evaluation / "report.html").read_text()
    assert "Differential privacy</b>: the whole path spent epsilon" in page and "Copy redraws" in page


def test_a_dp_run_is_logged_to_mlflow(dp_run):
    from mlflow.tracking import MlflowClient

    cfg, paths, _ = dp_run
    client = MlflowClient(tracking_uri=paths.tracking_uri)
    exp = client.get_experiment_by_name(cfg.logger.experiment_name)
    train = client.search_runs([exp.experiment_id], "tags.`synthgen.stage` = 'train'")[0]
    assert train.data.metrics["privacy.dp_epsilon_spent"] <= 3.0
    assert train.data.tags["synthgen.dp_accountant"] == "prv"
    assert "synthgen.calibration_max_shift" not in train.data.tags  # no real rows read outside DP-SGD
    ev = client.search_runs([exp.experiment_id], "tags.`synthgen.stage` = 'evaluate'")[0]
    assert "privacy.dp_noise_multiplier" in ev.data.metrics and "privacy.mia_auc" in ev.data.metrics


def test_a_dp_run_keeps_rare_categories_out_of_encoder_json(dp_run):
    _, paths, _ = dp_run
    state = json.loads(paths.encoder.read_text())
    train = pq.read_table(paths.train_table)
    for col in state["schema"]["columns"]:
        info = state["settings"]["privacy"]["columns"].get(col["name"], {})
        if "threshold" not in info:
            continue
        values, counts = np.unique(
            train.column(col["name"]).drop_null().to_numpy(zero_copy_only=False), return_counts=True
        )
        real = dict(zip(values.tolist(), counts.tolist()))
        for v in col["categories"][:-1]:
            assert real[v] >= info["threshold"], (col["name"], v)


def _family_cfg(tmp_path, *extra):
    """The tiny settings without the transformer's model.* keys, for any family."""
    return load_config([o for o in tiny_overrides(tmp_path) if not o.startswith("model.")] + list(extra))


def test_the_vae_trains_under_dp_and_a_later_plain_run_drops_the_report(tmp_path):
    for stage in ("prepare", "encode", "train"):
        pipeline.STAGES[stage](_family_cfg(tmp_path, "model=vae", "privacy.epsilon=5", "model.tabular.batch_size=100"))
    paths = RunPaths.from_config(_family_cfg(tmp_path))
    assert json.loads((paths.model_dir / "privacy.json").read_text())["epsilon_spent"] <= 5.0
    for stage in ("encode", "train"):
        pipeline.STAGES[stage](_family_cfg(tmp_path, "model=vae"))
    assert not (paths.model_dir / "privacy.json").exists()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["privacy.noise_multiplier=0.3"], "would spend epsilon"),
        (["model=gan"], "model=transformer and model=vae"),
        (["trainer=ddp", "trainer.devices=2", "trainer.strategy=ddp_spawn"], "strategy=ddp"),
    ],
)
def test_refusals_stop_before_training_with_one_line(tmp_path, extra, needle):
    cfg = _family_cfg(tmp_path, "privacy.epsilon=1", *extra)
    for stage in ("prepare", "encode"):
        pipeline.STAGES[stage](cfg)
    with pytest.raises(SynthgenError, match=needle) as e:
        pipeline.train(cfg)
    assert "\n" not in str(e.value)
    assert not RunPaths.from_config(cfg).model.exists()


def test_training_refuses_an_encoder_fitted_without_dp(tiny_cfg):
    for stage in ("prepare", "encode"):
        pipeline.STAGES[stage](tiny_cfg())
    with pytest.raises(SynthgenError, match="without differential privacy"):
        pipeline.train(tiny_cfg("privacy.epsilon=1"))
