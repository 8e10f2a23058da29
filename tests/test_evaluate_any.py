"""`synthgen evaluate synthetic.path=...`: any tool's table scored with synthgen's metrics, report,
verdicts, MLflow run and gate; and the per-area verdicts on a column-shuffled table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from synthgen import cli
from synthgen.errors import SynthgenError
from synthgen.evaluate import EvalConfig, evaluate_tables, write_evaluation
from synthgen.evaluate.verdicts import limits
from synthgen.schema import infer_schema
from tests.conftest import ROOT

ADULT = ROOT / "data/adult/adult_train.parquet"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("any")
    real = pq.read_table(ADULT).slice(0, 1000).to_pandas()
    real.iloc[:600].to_parquet(tmp / "real.parquet", index=False)
    real.iloc[600:800].to_parquet(tmp / "holdout.parquet", index=False)
    # Another tool's output: other rows, columns reversed, as CSV (types come back as the CSV reader guesses)
    real.iloc[800:][list(reversed(real.columns))].to_csv(tmp / "other.csv", index=False)
    real.iloc[:600].to_csv(tmp / "copy.csv", index=False)
    return tmp


def _args(tmp, synthetic: str, *extra):
    return [
        "evaluate",
        f"data.path={tmp / 'real.parquet'}",
        f"data.holdout_path={tmp / 'holdout.parquet'}",
        f"synthetic.path={tmp / synthetic}",
        "data.target=income",
        f"paths.out_dir={tmp / 'out'}",
        f"paths.mlflow_dir={tmp / 'mlruns'}",
        "evaluate.detection_folds=2",
        *extra,
    ]


def test_any_csv_is_scored_with_metrics_report_and_its_own_mlflow_run(files):
    assert cli.main(_args(files, "other.csv")) == 0
    ev = files / "out" / "evaluation-other"  # not <out>/evaluation, which a pipeline's set owns
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["rows.synthetic"] == 200 and metrics["gate.passed"] == 1
    assert metrics["validity.schema_mismatches"] == 0  # columns reordered, types cast to the real ones
    assert {f"verdict.{a}" for a in ("fidelity", "utility", "privacy", "bias", "validity")} <= set(metrics)
    assert "Privacy gate PASSED" in (ev / "report.html").read_text(encoding="utf-8")
    assert not (files / "out" / "prepared").exists()  # nothing else of the out dir is written
    c = MlflowClient(f"sqlite:///{files / 'mlruns' / 'mlflow.db'}")
    (run,) = c.search_runs([c.get_experiment_by_name("synthgen-adult").experiment_id])
    assert run.data.tags["synthgen.stage"] == "evaluate" and "mlflow.parentRunId" not in run.data.tags
    assert run.data.tags["synthgen.synthetic"] == str(files / "other.csv")
    assert run.data.metrics["fidelity.shape"] == pytest.approx(metrics["fidelity.shape"])


def test_the_gate_applies_and_bad_tables_fail_in_one_line(files, capsys):
    assert cli.main(_args(files, "copy.csv")) == 2  # the training rows themselves
    printed = capsys.readouterr()
    err = printed.err
    assert "privacy gate failed: exact copies" in err and "the limits are evaluate.gate.*" in err
    # the figures that failed it are printed before the reason, read from the metrics just written
    metrics = json.loads((files / "out" / "evaluation-copy" / "metrics.json").read_text())
    copies = metrics["privacy.exact_copies_synthetic_share"]
    assert f"Exact copies of train rows                    {copies:.4f}" in printed.out
    assert "Privacy gate passed                           0.0000" in printed.out
    assert "FAILED" in (files / "out" / "evaluation-copy" / "report.html").read_text(encoding="utf-8")

    pd.read_csv(files / "other.csv").drop(columns="income").to_csv(files / "notarget.csv", index=False)
    pd.DataFrame({"x": [1, 2]}).to_csv(files / "unrelated.csv", index=False)
    for name, message in (
        ("notarget.csv", "lacks column 'income'"),
        ("unrelated.csv", "no column of the real"),
        ("absent.csv", "input file not found"),
    ):
        assert cli.main(_args(files, name)) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert not (files / "out" / f"evaluation-{name[:-4]}").exists()


def test_a_column_shuffled_table_is_not_all_green(tmp_path):
    """Each column shuffled on its own keeps every column's shape but no relation between them:
    the gate passes, and the verdicts must still say fidelity and utility fail."""
    real = pq.read_table(ADULT).slice(0, 3000).to_pandas()
    train, holdout = real.iloc[:2000].reset_index(drop=True), real.iloc[2000:].reset_index(drop=True)
    rng = np.random.default_rng(0)
    shuffled = pd.DataFrame({c: rng.permutation(train[c].to_numpy()) for c in train.columns}).astype(train.dtypes)
    kinds = infer_schema(pq.read_table(ADULT).slice(0, 2000)).kinds()
    cfg = EvalConfig(target="income", sensitive=["sex"], detection_folds=2)
    result = evaluate_tables(train, holdout, shuffled, kinds, cfg)
    assert result["gate.passed"] == 1 and result["fidelity.shape"] > 0.95
    assert result["verdict.fidelity"] == 0.0 and result["verdict.utility"] == 0.0  # fail, fail
    write_evaluation(result, train, holdout, shuffled, kinds, cfg, tmp_path / "ev")
    page = (tmp_path / "ev" / "report.html").read_text(encoding="utf-8")
    assert "background:#1a7f37" not in page  # no green banner
    assert "but fidelity FAIL, utility FAIL" in page

    fair = evaluate_tables(train, holdout, holdout, kinds, cfg)  # real rows never trained on: a good set
    assert fair["verdict.fidelity"] == 1.0 and fair["verdict.utility"] == 1.0 and fair["verdict.privacy"] == 1.0


def test_verdict_limits_are_checked():
    assert limits({"shape": [0.95, 0.5]})["shape"] == (0.95, 0.5)
    for bad, message in (
        ({"shapes": [1, 0]}, "unknown evaluate.verdicts key"),
        ({"shape": [0.5, 0.9]}, "pass limit must be above"),
        ({"detection_auc": [0.9, 0.8]}, "pass limit must be below"),
        ({"shape": 0.9}, r"give \[pass limit, warn limit\]"),
    ):
        with pytest.raises(SynthgenError, match=message):
            EvalConfig(verdicts=bad)
