"""The sizing rule (synthgen/sizing.py): its properties over 300 to 1,000,000 rows, `auto` keys and
explicit overrides, and that pipeline.train trains with it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.modalities import model_spec, training_spec
from synthgen.sizing import PROFILES, REF_ROWS, TableSize, plan, steps_per_epoch

FAMILIES = list(PROFILES)
SIZES = [300, 500, 800, 2_000, 5_000, 20_000, 24_000, 100_000, 500_000, 1_000_000]


def size(rows, columns=15, vocabulary=1_000):
    return TableSize(rows, columns, vocabulary)


@pytest.mark.parametrize("family", FAMILIES)
def test_monotone_in_rows(family):
    plans = [plan(family, size(n)) for n in SIZES]
    for a, b in zip(plans, plans[1:]):
        assert b["batch_size"] >= a["batch_size"]
        assert b["steps"] >= a["steps"]
        assert b["val_share"] <= a["val_share"]
        assert b.get("dropout", 0) <= a.get("dropout", 0)
        assert b["weight_decay"] <= a["weight_decay"]
    # ...and strictly: small tables are regularised more and take more epochs than large ones
    small, large = plans[0], plans[-1]
    assert small["weight_decay"] > large["weight_decay"] and small["epochs"] > large["epochs"]


@settings(max_examples=100, deadline=None)
@given(
    rows=st.integers(1, 2_000_000),
    columns=st.integers(1, 300),
    vocabulary=st.integers(2, 100_000),
    family=st.sampled_from(FAMILIES),
)
def test_bounds(rows, columns, vocabulary, family):
    p, ref = plan(family, TableSize(rows, columns, vocabulary)), PROFILES[family]
    assert 1 <= p["batch_size"] <= ref["batch_size"] and p["batch_size"] <= rows
    assert ref["steps"] <= p["steps"] <= 8 * ref["steps"]
    assert 0.02 <= p["val_share"] <= 0.15
    assert p["epochs"] >= 1 and 5 <= p["patience"] <= max(5, p["epochs"])
    # the epochs deliver at least the planned optimizer steps
    assert p["epochs"] * p["repeats"] * steps_per_epoch(rows, p["batch_size"], p["val_share"]) >= p["steps"]
    if "dropout" in p:
        assert ref["dropout"] <= p["dropout"] <= 0.3
        assert 1 <= p["warmup_steps"] <= p["steps"] // 10


def test_warmup_fits_in_the_run_of_a_500_row_table():
    """The known failure: 800 rows at epochs=30, batch 512 gave ~60 steps, fewer than the 100 warm-up steps."""
    for rows in (500, 800):
        p = plan("TabularTransformer", size(rows, 20))
        total = p["epochs"] * p["repeats"] * steps_per_epoch(rows, p["batch_size"], p["val_share"])
        assert p["warmup_steps"] < total / 10 and total >= 1_000


def test_reference_table_keeps_the_adult_settings():
    p = plan("TabularTransformer", size(REF_ROWS))
    assert (p["batch_size"], p["d_model"], p["dropout"], p["weight_decay"], p["warmup_steps"]) == (
        512,
        64,
        0.1,
        0.01,
        100,
    )
    assert 28 <= p["epochs"] <= 34  # Adult's 30 epochs of ~46 steps


def test_validation_rows_enough_to_stop_on():
    for rows in (4_000, 19_500, 50_000):  # 390 Adult rows (2 % of 19,500) were too few
        p = plan("TabularTransformer", size(rows))
        assert rows * p["val_share"] >= 500


def test_wide_tables_get_smaller_batches():
    assert plan("TabularTransformer", size(100_000, 128))["batch_size"] * 128 <= 16_384
    assert (
        plan("TabularTransformer", size(100_000, 128))["batch_size"]
        < plan("TabularTransformer", size(100_000))["batch_size"]
    )


def test_gan_batch_is_a_multiple_of_pac():
    assert plan("TabularGAN", size(5_000), multiple=10)["batch_size"] % 10 == 0


def test_auto_keys_resolve_and_explicit_values_win():
    cfg = load_config(
        [
            "model=transformer",
            "model.tabular.d_model=32",
            "model.tabular.batch_size=100",
            "trainer.max_epochs=3",
            "train.val_share=0.2",
        ]
    )
    spec, training, rule = training_spec(cfg, size(800, 20))
    assert spec["d_model"] == 32 and spec["batch_size"] == 100 and training["epochs"] == 3
    assert training["val_share"] == 0.2 and spec["dropout"] == rule["dropout"] > 0.1
    assert training["patience"] == 5  # follows the explicit 3 epochs
    assert all(v != "auto" for v in {**spec, **training}.values())
    # without a table: the reference size (what the model tests instantiate)
    assert model_spec(load_config(["model=transformer"]))[0]["batch_size"] == 512


def test_epochs_follow_an_explicit_batch_size():
    a = training_spec(load_config(["model=transformer"]), size(5_000))[1]["epochs"]
    b = training_spec(load_config(["model=transformer", "model.tabular.batch_size=32"]), size(5_000))[1]["epochs"]
    assert b < a  # smaller batches: more steps per epoch, fewer epochs for the same steps


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.tabular.batch_size=many", "expected a number or auto"),
        ("model.tabular.dropout=high", "expected a number or auto"),
    ],
)
def test_bad_values_are_one_line_errors(override, message):
    with pytest.raises(SynthgenError, match=message) as e:
        training_spec(load_config(["model=transformer", override]), size(1_000))
    assert "\n" not in str(e.value)


def test_auto_where_the_family_has_no_rule():
    from synthgen.sizing import resolve

    spec = {"_target_": "synthgen.models.image_vae.ImageVAE", "batch_size": "auto"}
    with pytest.raises(SynthgenError, match="does not support"):
        resolve(spec, {}, size(1_000))
    # an integer key of the image blocks refuses `auto` at composition already
    with pytest.raises(SynthgenError, match="expected an integer"):
        load_config(["model=vae", "data=mnist5k", "model.image.batch_size=auto"])


def test_pipeline_trains_with_the_rule(tiny_cfg):
    """400 Adult rows (holdout from the official test file): the trained model and the MLflow tags
    carry the rule's batch size, validation share and patience for this table."""
    from mlflow.tracking import MlflowClient

    from synthgen import pipeline, tracking
    from synthgen.checkpoint import load_generator

    cfg = tiny_cfg("trainer.max_epochs=2")
    pipeline.prepare(cfg)
    paths = pipeline.encode(cfg)
    pipeline.train(cfg)
    model = load_generator(paths.model)
    tags = MlflowClient(tracking_uri=paths.tracking_uri).get_run(tracking.read_run_info(paths)).data.tags
    rule = json.loads(tags["synthgen.sizing"])
    expected = plan("TabularTransformer", TableSize(400, rule_columns(paths), 0))
    assert model.batch_size == rule["batch_size"] == expected["batch_size"] == 32
    assert tags["synthgen.val_share"] == str(rule["val_share"]) == "0.15"
    assert tags["synthgen.max_epochs"] == "2" and tags["synthgen.patience"] == "5"  # follows the explicit epochs
    assert model.hparams.dropout == rule["dropout"] > 0.1 and model.hparams.d_model == 16  # explicit d_model stays


def rule_columns(paths) -> int:
    from synthgen.encoders import TabularEncoder

    return len(TabularEncoder.load(paths.encoder).layout.cardinalities)


def test_small_tables_validate_every_50_steps_or_so():
    for rows in (300, 442, 800):
        p = plan("TabularTransformer", size(rows))
        per_epoch = p["repeats"] * steps_per_epoch(rows, p["batch_size"], p["val_share"])
        assert p["repeats"] > 1 and 25 <= per_epoch <= 50
    assert plan("TabularTransformer", size(REF_ROWS))["repeats"] == 1


def test_datamodule_repeats_are_whole_passes():
    import numpy as np

    from synthgen.data import TokenDataModule

    dm = TokenDataModule(np.arange(400).reshape(-1, 1), 32, 0.1, seed=0)
    one = [int(i) for b in dm.train_dataloader() for i in b[0].flatten()]
    dm.repeats = 3
    three = [int(i) for b in dm.train_dataloader() for i in b[0].flatten()]
    assert len(three) == 3 * 360 - (3 * 360) % 32 and len(one) == 360 - 360 % 32
    counts = np.bincount(three, minlength=400)
    assert counts.max() == 3 and (counts[counts > 0] >= 2).all()  # every training row in every full pass


def test_numeric_bins_follow_the_rows():
    from synthgen.sizing import n_bins

    assert [n_bins(r) for r in (50, 442, 1_000, 2_000, 4_000, 500_000)] == [10, 11, 25, 50, 100, 100]


def test_encode_uses_the_bins_rule(tiny_cfg):
    from synthgen import pipeline
    from synthgen.encoders import TabularEncoder

    cfg = tiny_cfg()  # 400 rows: 10 bins
    pipeline.prepare(cfg)
    paths = pipeline.encode(cfg)
    assert TabularEncoder.load(paths.encoder).settings["n_bins"] == 10
    cfg = tiny_cfg("encoder.n_bins=7")
    paths = pipeline.encode(cfg)
    assert TabularEncoder.load(paths.encoder).settings["n_bins"] == 7


def test_final_weights_once_the_schedule_is_in_its_tail():
    """Early stopping at epoch 29 of 30 (rate ~0.3 % of the peak) exports the final weights, as a run
    to the end does; a run stopped at mid-schedule, or without a schedule, exports the best."""
    import torch

    from synthgen.models.schedules import adamw_warmup_cosine
    from synthgen.pipeline import ended_annealed

    class Net(torch.nn.Module):
        _trainer = None

    def after(steps, total):
        net = Net()
        net.lin = torch.nn.Linear(2, 2)
        net._trainer = type("T", (), {"estimated_stepping_batches": total, "precision": "32-true"})()
        net.trainer = net._trainer
        conf = adamw_warmup_cosine(net, 1e-3, 0.0, warmup_steps=10)
        for _ in range(steps):
            conf["optimizer"].step()
            conf["lr_scheduler"]["scheduler"].step()
        return [conf["optimizer"]]

    assert ended_annealed(after(1000, 1000)) and ended_annealed(after(967, 1000))
    assert not ended_annealed(after(633, 1000)) and not ended_annealed(after(5, 1000))
    assert not ended_annealed([torch.optim.Adam(torch.nn.Linear(2, 2).parameters())])


def test_adamw_takes_the_fused_kernel_except_under_lightning_mixed_precision():
    """Fused on CPU in float32 (as torch's single-tensor AdamW, step for step); not under
    16-mixed/bf16-mixed, whose Lightning plugin refuses gradient clipping with a fused optimizer."""
    import torch

    from synthgen.models.schedules import adamw_warmup_cosine

    def optimizer(precision):
        torch.manual_seed(0)
        net = torch.nn.Linear(3, 2)
        net._trainer = type("T", (), {"estimated_stepping_batches": 100, "precision": precision})()
        net.trainer = net._trainer
        return net, adamw_warmup_cosine(net, 1e-2, 0.1, warmup_steps=1)["optimizer"]

    (net, fused), (ref, plain) = optimizer("32-true"), optimizer("bf16-mixed")
    assert fused.defaults["fused"] is True and not plain.defaults["fused"]
    x = torch.randn(16, 3)
    for _ in range(5):  # the same updates as the single-tensor loop
        for model, opt in ((net, fused), (ref, plain)):
            opt.zero_grad()
            model(x).square().sum().backward()
            opt.step()
    torch.testing.assert_close(net.weight, ref.weight)


def test_image_blocks_set_numbers():
    """The rule is for tables: the model files' image blocks keep explicit values."""
    import yaml

    from synthgen.config import CONF_DIR

    for path in (CONF_DIR / "model").glob("*.yaml"):
        node = yaml.safe_load(path.read_text())
        image = {**node.get("image", {}), **node.get("training", {}).get("image", {})}
        assert "auto" not in image.values(), path.name


def test_sampling_block_follows_the_kv_cache_of_a_row():
    """sample_block=auto: a 256 MB KV cache (columns x layers x 2 x d_model float32 a row), a power of
    two within [2,048, 32,768]; it follows an explicit width and depth."""
    from synthgen.sizing import sample_block

    assert sample_block(8, 64, 2) == 32768 and sample_block(15, 64, 2) == 16384 and sample_block(65, 64, 2) == 2048
    cfg = load_config(["model=transformer", "model.tabular.d_model=128", "model.tabular.n_layers=4"])
    spec, _, _ = training_spec(cfg, size(800, 15))
    assert spec["sample_block"] == sample_block(15, 128, 4) == 4096
    spec, _, _ = training_spec(load_config(["model=transformer", "model.tabular.sample_block=1000"]), size(800, 15))
    assert spec["sample_block"] == 1000
