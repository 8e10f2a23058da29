"""MLflow's helper process (synthgen/tracking_agent.py): the run's own process never imports MLflow,
the runs it logs are what Lightning's MLflow logger logged, and a failure comes back as one line."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from mlflow.tracking import MlflowClient

from synthgen import tracking, tracking_agent
from synthgen.config import load_config
from synthgen.paths import RunPaths
from tests.conftest import ROOT, tiny_overrides


def test_a_whole_pipeline_runs_without_importing_mlflow_and_logs_its_runs(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, sys
        from synthgen import pipeline
        from synthgen.config import load_config
        cfg = load_config({tiny_overrides(tmp_path, "evaluate.gate.enabled=false")!r})
        pipeline.run_all(cfg)
        print(os.getpid(), "mlflow" in sys.modules)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pid, mlflow_imported = proc.stdout.split()[-2:]
    assert mlflow_imported == "False"

    cfg = load_config(tiny_overrides(tmp_path))
    c = MlflowClient(tracking_uri=RunPaths.from_config(cfg).tracking_uri)
    exp = c.get_experiment_by_name(cfg.logger.experiment_name)
    runs = {r.data.tags[tracking.STAGE_TAG]: r for r in c.search_runs([exp.experiment_id])}
    train = runs["train"]
    # what Lightning's MLflow logger wrote: the run's name, MLflow's context tags, the module's
    # hyperparameters as params, every logged step's metrics, FINISHED at the end
    assert train.info.run_name == f"train-adult-{tracking._family(cfg)}"
    assert train.data.tags["mlflow.source.type"] == "LOCAL" and train.data.tags["mlflow.user"]
    assert train.data.params["d_model"] == "16"  # save_hyperparameters() of the module
    assert len(c.get_metric_history(train.info.run_id, "val_loss")) == 1  # one epoch (trainer.max_epochs=1)
    assert train.info.status == "FINISHED"
    # the process that trained owns the runs, not the helper
    assert {r.data.tags[tracking.PID_TAG] for r in runs.values()} == {pid}
    assert all(r.info.status == "FINISHED" for r in runs.values())


def test_a_refused_request_is_one_line_and_the_helper_serves_the_next(tmp_path):
    agent = tracking_agent.Agent()
    try:
        bad = load_config([f"paths.out_dir={tmp_path / 'out'}", "logger.tracking_uri=nosuchscheme://x"])
        with pytest.raises(tracking_agent.TrackingError) as err:
            agent.call("open_train_run", bad)
        assert str(err.value).startswith("MLflow: ") and "\n" not in str(err.value)

        good = load_config(tiny_overrides(tmp_path))
        agent.send("prepare_model_log", good)  # what train sends first
        run_id = agent.call("open_train_run", good)
        agent.send("log_step_metrics", good, "no-such-run", {"loss": 1.0}, 0, 0)  # nobody waits for this one
        with pytest.raises(tracking_agent.TrackingError, match="no-such-run"):  # the next reply reports it
            agent.call("terminate_run", good, run_id, "FINISHED")
        agent.call("terminate_run", good, run_id, "FINISHED")  # and then serves as before
        c = MlflowClient(tracking_uri=RunPaths.from_config(good).tracking_uri)
        assert c.get_run(run_id).info.status == "FINISHED"
        assert c.get_run(run_id).data.tags[tracking.PID_TAG] == str(os.getpid())
        with pytest.raises(tracking_agent.TrackingError, match="unknown operation"):
            agent.call("log_run", good)  # only tracking's operations, none of its helpers
    finally:
        agent.close()


def test_relative_paths_mean_the_callers_folder(tmp_path, monkeypatch):
    agent = tracking_agent.Agent()  # started in another folder than the one the request comes from
    try:
        monkeypatch.chdir(tmp_path)
        cfg = load_config(["paths.out_dir=out", "paths.mlflow_dir=mlruns"])
        run_id = agent.call("open_train_run", cfg)
        assert (tmp_path / "mlruns" / "mlflow.db").exists()
        assert MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}").get_run(run_id)
    finally:
        agent.close()


def test_a_helper_that_ended_is_an_error_and_the_next_stage_starts_another(tmp_path):
    cfg = load_config(tiny_overrides(tmp_path))
    first = tracking_agent.shared()
    first.proc.kill()
    with pytest.raises(tracking_agent.TrackingError, match="helper process ended"):
        first.call("open_train_run", cfg)
    second = tracking_agent.shared()
    assert second is not first and second.call("open_train_run", cfg)
