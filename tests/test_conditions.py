"""Conditional generation and rebalancing through `synthgen generate` (synthgen/conditions.py).

Conditioned rows must carry exactly the requested values, and their other columns must follow
the real conditional distribution: compared with the real rows that have those values.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.encoders import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.paths import RunPaths
from tests.conftest import ROOT

ADULT = ROOT / "data/adult/adult_train.parquet"
# Six real Adult columns (8,000 rows), so that a small transformer learns them in a few epochs.
COLUMNS = ["age", "marital_status", "relationship", "race", "sex", "income"]
TRAINED = [
    "trainer.max_epochs=4",
    "trainer.enable_progress_bar=false",
    "model.tabular.d_model=32",
    "model.tabular.n_layers=1",
    "model.tabular.n_heads=2",
    "model.tabular.batch_size=128",
    "generate.chunk_rows=1000",
    "data.holdout_path=null",
    "data.sensitive=[sex]",
    "model.tabular.random_order_share=1.0",
]  # every row a random subset first: conditioning is tested


def tv(a: pd.Series, b: pd.Series) -> float:
    """Total variation distance between two categorical samples."""
    p, q = a.value_counts(normalize=True), b.value_counts(normalize=True)
    return 0.5 * p.subtract(q, fill_value=0).abs().sum()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cond")
    pq.write_table(pq.read_table(ADULT, columns=COLUMNS).slice(0, 8000), tmp / "adult6.parquet")
    base = [
        f"paths.out_dir={tmp / 'out'}",
        f"paths.mlflow_dir={tmp / 'mlruns'}",
        f"data.path={tmp / 'adult6.parquet'}",
        *TRAINED,
    ]
    cfg = load_config(base)
    for stage in ("prepare", "encode", "train"):
        pipeline.STAGES[stage](cfg)
    real = pq.read_table(RunPaths.from_config(cfg).train_table).to_pandas()
    return tmp, base, real


def generate(trained, name: str, *overrides: str) -> pd.DataFrame:
    tmp, base, _ = trained
    out = tmp / name
    shutil.copytree(tmp / "out", out, ignore=shutil.ignore_patterns("synthetic", "evaluation"))
    cfg = load_config([*base, f"paths.out_dir={out}", *overrides])
    pipeline.generate(cfg)
    return pq.read_table(out / "synthetic").to_pandas(), json.loads((out / "synthetic/_manifest.json").read_text())


def test_fixed_values_and_the_real_conditional_distribution(trained):
    _, _, real = trained
    df, manifest = generate(trained, "female", "generate.condition.sex=Female", "generate.n_rows=3000")
    assert (df["sex"] == "Female").all() and len(df) == 3000
    women, men = real[real["sex"] == "Female"], real[real["sex"] == "Male"]
    # relationship depends strongly on sex (no female "Husband"): the conditioned rows follow the women
    assert tv(df["relationship"], women["relationship"]) < 0.12
    assert tv(df["relationship"], men["relationship"]) > 0.4
    assert manifest["condition"] == {"sex": "Female"}


def test_rebalancing_gives_the_requested_share_and_keeps_relations(trained):
    _, _, real = trained
    df, manifest = generate(
        trained, "rebal", "generate.rebalance.column=income", "generate.rebalance.share=0.5", "generate.n_rows=3000"
    )
    assert (df["income"] == ">50K").sum() == 1500  # the rarest level gets exactly half
    assert manifest["rebalance"]["counts"] == {"<=50K": 1500, ">50K": 1500}
    # rows are mixed over chunks, not sorted by level
    assert 0.3 < (df["income"].iloc[:1000] == ">50K").mean() < 0.7
    rich, poor = real[real["income"] == ">50K"], real[real["income"] == "<=50K"]
    syn_rich = df[df["income"] == ">50K"]
    assert tv(syn_rich["relationship"], rich["relationship"]) < tv(syn_rich["relationship"], poor["relationship"])
    equal, _ = generate(trained, "equal", "generate.rebalance.column=race", "generate.n_rows=1000")
    counts = equal["race"].value_counts()
    assert counts.max() - counts.min() <= 1  # every level equally often


def test_condition_rows_from_parquet(trained, tmp_path):
    rows = pa.table(
        {"age": pa.array([25, 61, None, 40] * 50, pa.int64()), "sex": pa.array(["Female", None, "Male", "Female"] * 50)}
    )
    path = tmp_path / "conditions.parquet"
    pq.write_table(rows, path)
    df, manifest = generate(trained, "file", f"generate.condition_file={path}")
    assert len(df) == 200
    want = rows.to_pandas()
    set_age, set_sex = want["age"].notna(), want["sex"].notna()
    assert (df.loc[set_age, "age"].to_numpy() == want.loc[set_age, "age"].to_numpy()).all()  # exact numbers
    assert (df.loc[set_sex, "sex"] == want.loc[set_sex, "sex"]).all()
    assert df.loc[~set_age, "age"].nunique() > 5  # free cells are generated
    assert manifest["condition_file"] == str(path)


@pytest.mark.parametrize(
    "overrides,message",
    [
        (["generate.rebalance.column=age"], "rebalance a categorical column"),
        (["generate.rebalance.column=nosuch"], "nosuch"),
        (["generate.rebalance.column=income", "generate.rebalance.share=1.5"], "strictly between 0 and 1"),
        (
            ["generate.rebalance.column=income", "generate.rebalance.share=0.3", "generate.rebalance.value=rich"],
            "not a level",
        ),
        (["generate.rebalance.column=sex", "generate.condition.sex=Female"], "both rebalanced and fixed"),
    ],
)
def test_bad_rebalancing_is_one_line(trained, overrides, message):
    tmp, base, _ = trained
    cfg = load_config([*base, f"paths.out_dir={tmp / 'bad'}", *overrides])
    enc = TabularEncoder.load(RunPaths.from_config(load_config(base)).encoder)
    from synthgen.conditions import RowConditions

    with pytest.raises(SynthgenError, match=message) as e:
        RowConditions(enc, 100, dict(cfg.generate.condition), None, dict(cfg.generate.rebalance), 0)
    assert "\n" not in str(e.value)


def test_bad_condition_file(trained, tmp_path):
    tmp, base, _ = trained
    enc = TabularEncoder.load(RunPaths.from_config(load_config(base)).encoder)
    from synthgen.conditions import RowConditions

    bad_col = tmp_path / "bad_col.parquet"
    pq.write_table(pa.table({"planet": ["Mars"]}), bad_col)
    with pytest.raises(SynthgenError, match="not modelled columns"):
        RowConditions(enc, None, {}, str(bad_col), {}, 0)
    bad_value = tmp_path / "bad_value.parquet"
    pq.write_table(pa.table({"race": ["Martian"]}), bad_value)
    with pytest.raises(SynthgenError, match="Martian"):
        RowConditions(enc, None, {}, str(bad_value), {}, 0)
    ok = tmp_path / "ok.parquet"
    pq.write_table(pa.table({"race": ["White"] * 3}), ok)
    with pytest.raises(SynthgenError, match="leave generate.n_rows null"):
        RowConditions(enc, 10, {}, str(ok), {}, 0)
    with pytest.raises(SynthgenError, match="not found.*generate.condition_file"):
        RowConditions(enc, None, {}, str(tmp_path / "missing.parquet"), {}, 0)
    one = tmp_path / "one.parquet"  # a single condition row is fine
    pq.write_table(pa.table({"race": ["White"], "sex": pa.array([None], pa.string())}), one)
    assert RowConditions(enc, None, {}, str(one), {}, 0).tokens(0, 1).shape == (1, len(enc.layout.columns))


def test_rejection_sampling_reports_its_acceptance_rate(tmp_path):
    """The VAE meets conditions by rejection: the measured rate goes to the manifest and MLflow."""
    from mlflow.tracking import MlflowClient

    cfg = load_config(
        [
            f"paths.out_dir={tmp_path / 'out'}",
            f"paths.mlflow_dir={tmp_path / 'mlruns'}",
            "model=vae",
            "data.max_rows=2000",
            "trainer.max_epochs=2",
            "trainer.enable_progress_bar=false",
            "generate.n_rows=500",
            "generate.chunk_rows=200",
            "generate.condition.sex=Female",
        ]
    )
    for stage in ("prepare", "encode", "train", "generate"):
        pipeline.STAGES[stage](cfg)
    paths = RunPaths.from_config(cfg)
    manifest = json.loads((paths.synthetic / "_manifest.json").read_text())
    rates = [f["acceptance_rate"] for f in manifest["files"]]
    assert len(rates) == 3 and all(0 < r <= 1 for r in rates)
    assert np.isclose(manifest["metrics"]["acceptance_rate"], np.average(rates, weights=[200, 200, 100]))
    client = MlflowClient(tracking_uri=paths.tracking_uri)
    runs = client.search_runs(
        [client.get_experiment_by_name(cfg.logger.experiment_name).experiment_id], "tags.`synthgen.stage` = 'generate'"
    )
    assert runs[0].data.metrics["generate.acceptance_rate"] == pytest.approx(manifest["metrics"]["acceptance_rate"])
