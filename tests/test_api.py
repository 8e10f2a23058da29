"""The Python API (synthgen/api.py) on real Adult rows: fit in a fresh process (quiet, with log lines
per epoch and per chunk), then sample, save/load, load from MLflow, evaluate, generate.out_dir."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

import synthgen
from synthgen import cli
from synthgen.api import Synthesizer
from synthgen.errors import SynthgenError
from tests.conftest import ROOT, subprocess_env

TINY_MODEL = dict(
    trainer={"max_epochs": 1},
    model__tabular__d_model=16,
    model__tabular__n_layers=1,
    model__tabular__n_heads=2,
    evaluate={"detection_folds": 2},
)
FIT = """
import json, logging, pandas as pd, synthgen
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
df = pd.read_parquet({data!r}).head(400)
s = synthgen.Synthesizer(model="transformer", **{tiny!r}).fit(df, target="income", holdout=0.25)
rows = s.sample(60, seed=3)
s.save("saved")
print(json.dumps({{"out": str(s.out_dir), "run_id": s.run_id, "rows": len(rows)}}))
"""


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One tiny fit in a fresh process, as a notebook would run it (cwd = a temporary project)."""
    tmp = tmp_path_factory.mktemp("api")
    script = FIT.format(data=str(ROOT / "data/adult/adult_train.parquet"), tiny=TINY_MODEL)
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=tmp,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return tmp, info, proc.stdout + proc.stderr


def test_fit_is_quiet_logs_progress_and_writes_the_cli_layout(fitted):
    tmp, info, output = fitted
    for banner in ("GPU available", "Tip:", "Total params", "LOCAL_RANK"):
        assert banner not in output, banner
    assert "synthgen: epoch 1/1 train_loss" in output and "ETA" in output  # one line per epoch
    assert "synthgen: generated 60/60 rows (" in output and "rows/s)" in output
    out = tmp / "outputs" / "api"
    (run_dir,) = out.iterdir()
    assert str(run_dir) == info["out"]
    for rel in ("prepared/train.parquet", "prepared/holdout.parquet", "encoder/encoder.json", "model/model.ckpt"):
        assert (run_dir / rel).exists(), rel
    assert pq.read_metadata(run_dir / "prepared/holdout.parquet").num_rows == 100  # holdout=0.25 of 400
    assert not (run_dir / "samples").exists() or not any((run_dir / "samples").iterdir())
    run = MlflowClient(f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}").get_run(info["run_id"])
    assert run.data.params["data.name"] == "dataframe" and run.data.params["model.tabular.d_model"] == "16"


@pytest.fixture(scope="module")
def loaded(fitted):
    tmp, _, _ = fitted
    return Synthesizer.load(tmp / "saved")


def test_sample_is_a_conditioned_reproducible_dataframe(fitted, loaded):
    tmp, info, _ = fitted
    real = pq.read_table(tmp / "saved" / "prepared" / "train.parquet").to_pandas()
    a = loaded.sample(60, conditions={"sex": "Female", "age": 40}, seed=3)
    assert isinstance(a, pd.DataFrame) and len(a) == 60
    assert list(a.columns) == list(real.columns) and list(a.dtypes) == list(real.dtypes)
    assert set(a["sex"]) == {"Female"} and set(a["age"]) == {40}
    assert a.equals(loaded.sample(60, conditions={"sex": "Female", "age": 40}, seed=3))
    assert not a.equals(loaded.sample(60, conditions={"sex": "Female", "age": 40}, seed=4))
    rows = pd.DataFrame({"sex": ["Male", None, "Female"], "race": ["White", "Black", None]})
    b = loaded.sample(conditions=rows, seed=1)  # row i carries condition row i; nulls are free
    assert len(b) == 3 and b.loc[0, "sex"] == "Male" and b.loc[2, "sex"] == "Female"
    assert list(b["race"][:2]) == ["White", "Black"]
    assert not any((tmp / "saved" / "samples").iterdir())  # nothing left behind


def test_loading_from_a_run_id_and_a_runs_uri(fitted, tmp_path):
    tmp, info, _ = fitted
    mlruns = tmp / "mlruns"
    for i, ref in enumerate((info["run_id"], f"runs:/{info['run_id']}")):
        s = Synthesizer.load(ref, mlflow_dir=mlruns, out_dir=tmp_path / f"dl{i}")
        assert s.config.generate.redraw_copies is False  # no training rows in MLflow: no copy guard
        rows = s.sample(25, seed=2)
        assert len(rows) == 25 and "income" in rows.columns
    with pytest.raises(SynthgenError, match="not found in the MLflow store"):
        Synthesizer.load("0" * 32, mlflow_dir=mlruns, out_dir=tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    # the CLI: synthgen generate run_id=<id> (or model=runs:/<id>, model=models:/<name>/<version>)
    common = [f"paths.out_dir={tmp_path / 'cli'}", f"paths.mlflow_dir={mlruns}", "trainer.enable_progress_bar=false"]
    assert cli.main(["generate", f"run_id={info['run_id']}", *common, "generate.n_rows=30"]) == 0
    assert pq.read_table(tmp_path / "cli" / "registry" / info["run_id"] / "synthetic").num_rows == 30
    assert cli.main(["generate", f"model=runs:/{info['run_id']}", *common, "generate.n_rows=20", "seed=5"]) == 0
    assert cli.main(["generate", "run_id=abc", *common]) == 2


def test_evaluate_any_dataframe(fitted, tmp_path):
    tmp, _, _ = fitted
    real = pd.read_parquet(ROOT / "data/adult/adult_train.parquet")
    other = real.iloc[600:900][list(reversed(real.columns))].astype({"age": "float64"})  # any order, other types
    result = synthgen.evaluate(
        real.iloc[:400],
        other,
        holdout=real.iloc[400:600],
        target="income",
        out_dir=tmp_path / "ev",
        evaluate={"detection_folds": 2},
        paths={"mlflow_dir": str(tmp / "mlruns")},
    )
    assert result.passed and set(result.verdicts) == {"fidelity", "utility", "privacy", "bias", "validity"}
    assert result.metrics["validity.schema_mismatches"] == 0  # age cast back to the real int64
    assert result.metrics["rows.synthetic"] == 300
    page = result.to_html(tmp_path / "copy" / "report.html").read_text(encoding="utf-8")
    assert "Privacy gate PASSED" in page
    assert json.loads((tmp_path / "ev" / "evaluation" / "metrics.json").read_text()) == result.metrics


def test_generate_out_dir_keeps_the_default_set(fitted, tmp_path):
    tmp, info, _ = fitted
    out = info["out"]
    common = [f"paths.out_dir={out}", f"paths.mlflow_dir={tmp / 'mlruns'}", "trainer.enable_progress_bar=false"]
    assert cli.main(["generate", *common, "generate.n_rows=40"]) == 0
    default = pq.read_table(f"{out}/synthetic")
    assert cli.main(["generate", *common, f"generate.out_dir={tmp_path / 'big'}", "generate.n_rows=90"]) == 0
    assert pq.read_table(tmp_path / "big").num_rows == 90
    assert pq.read_table(f"{out}/synthetic").equals(default)  # untouched
    assert (
        cli.main(
            [
                "evaluate",
                *common,
                f"generate.out_dir={tmp_path / 'big'}",
                "data.target=income",
                "evaluate.detection_folds=2",
                "evaluate.gate.enabled=false",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "big-evaluation" / "metrics.json").read_text())["rows.synthetic"] == 90
    # the dashboard: the default set's headline figures land on the pipeline's top-level (train) run,
    # and the experiment opens in MLflow's model-training view
    assert (
        cli.main(
            ["evaluate", *common, "data.target=income", "evaluate.detection_folds=2", "evaluate.gate.enabled=false"]
        )
        == 0
    )
    c = MlflowClient(f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}")
    top = c.get_run(info["run_id"])
    assert {"fidelity.shape", "fidelity.detection_auc", "privacy.dcr_share", "verdict.fidelity"} <= set(
        top.data.metrics
    )
    assert top.data.metrics["fidelity.shape"] == pytest.approx(
        json.loads((tmp / "outputs" / "api").glob("*/evaluation/metrics.json").__next__().read_text())["fidelity.shape"]
    )
    exp = c.get_experiment(top.info.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_bad_input_gives_one_line_errors_and_leaves_nothing(fitted, tmp_path):
    tmp, _, _ = fitted
    df = pd.read_parquet(ROOT / "data/adult/adult_train.parquet").head(50)
    with pytest.raises(SynthgenError, match="not fitted"):
        Synthesizer().sample(10)
    with pytest.raises(SynthgenError, match="expected an integer"):
        Synthesizer(trainer={"max_epochs": "many"}, out_dir=tmp_path / "a").fit(df)
    with pytest.raises(SynthgenError, match="unknown config key"):
        Synthesizer(trainer={"max_epoch": 1}, out_dir=tmp_path / "b").fit(df)
    with pytest.raises(SynthgenError, match="expected a pandas DataFrame"):
        Synthesizer(out_dir=tmp_path / "c").fit([1, 2, 3])
    with pytest.raises(SynthgenError, match="lacks column 'income'"):
        synthgen.evaluate(df, df.drop(columns="income"), target="income", out_dir=tmp_path / "d")
    assert not any(tmp_path.iterdir())
    loaded = Synthesizer.load(tmp / "saved")
    with pytest.raises(SynthgenError, match="positive whole number"):
        loaded.sample(0)
    with pytest.raises(SynthgenError, match="not a saved Synthesizer folder"):
        Synthesizer.load(tmp_path / "nowhere")


def _predict_registered(tmp, frame, params):
    import mlflow

    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}")
    try:
        return mlflow.pyfunc.load_model("models:/synthgen-dataframe/1").predict(frame, params=params)
    finally:
        mlflow.set_tracking_uri(before)


def test_the_generator_is_a_registered_pyfunc_model(fitted, tmp_path):
    tmp, info, _ = fitted
    c = MlflowClient(f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}")
    (version,) = c.search_model_versions("name='synthgen-dataframe'")
    assert str(version.version) == "1" and version.run_id == info["run_id"]
    rows = _predict_registered(tmp, pd.DataFrame({"n_rows": [7]}), {"seed": 2, "conditions": '{"sex": "Female"}'})
    assert len(rows) == 7 and set(rows["sex"]) == {"Female"}
    # the same rows as the API and the CLI give from that registered model, seed and condition
    same = Synthesizer.load("models:/synthgen-dataframe/1", mlflow_dir=tmp / "mlruns", out_dir=tmp_path / "m")
    assert same.sample(7, conditions={"sex": "Female"}, seed=2).equals(rows)
    common = [
        f"paths.out_dir={tmp_path / 'cli'}",
        f"paths.mlflow_dir={tmp / 'mlruns'}",
        "seed=2",
        "generate.n_rows=7",
        "generate.condition.sex=Female",
    ]
    assert cli.main(["generate", "model=models:/synthgen-dataframe/1", *common]) == 0
    assert pq.read_table(tmp_path / "cli/registry/models_synthgen-dataframe_1/synthetic").to_pandas().equals(rows)


def test_the_pyfunc_model_class_imports_without_mlflows_type_hint_warning():
    # MLflow checks a PythonModel's predict when the class is defined, which the helper process does on
    # every train run: an untyped model_input printed a yellow "Add type hints" warning in every run's log
    env = {**subprocess_env(), "PYTHONWARNINGS": "always"}
    done = subprocess.run(
        [sys.executable, "-c", "import synthgen.mlflow_model"], env=env, capture_output=True, text=True, check=True
    )
    assert "type hint" not in done.stderr.lower(), done.stderr


@pytest.mark.slow
def test_mlflow_models_serve_answers_invocations(fitted):
    """`mlflow models serve -m models:/synthgen-dataframe/1` on 127.0.0.1 returns synthetic rows."""
    import os
    import socket
    import time
    import urllib.request

    tmp, _, _ = fitted
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**subprocess_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}"}
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/mlflow") if (ROOT / ".venv/bin/mlflow").exists() else "mlflow",
            "models",
            "serve",
            "-m",
            "models:/synthgen-dataframe/1",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "-p",
            str(port),
            "--workers",
            "1",
        ],
        cwd=tmp,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=5)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-2000:]
                assert time.monotonic() < deadline, "the model server did not start"
                time.sleep(2)
        body = json.dumps(
            {"dataframe_records": [{"n_rows": 5, "seed": 1}], "params": {"conditions": '{"race": "White"}'}}
        ).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
        )
        answer = json.loads(urllib.request.urlopen(req, timeout=120).read())
        rows = pd.DataFrame(answer["predictions"])
        assert len(rows) == 5 and set(rows["race"]) == {"White"} and "income" in rows.columns
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
