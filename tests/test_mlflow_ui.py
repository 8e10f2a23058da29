"""The dashboard a person opens: a real `mlflow ui` server on 127.0.0.1 lists a logged run."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request

from synthgen.config import load_config
from synthgen.paths import RunPaths
from synthgen.tracking import client, experiment_id, log_metrics, ui_command, ui_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_dashboard_lists_run_with_metrics(tmp_path):
    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}", f"paths.mlflow_dir={tmp_path / 'mlruns'}"])
    paths = RunPaths.from_config(cfg)
    c = client(cfg, paths)
    exp = experiment_id(c, cfg, paths)
    run = c.create_run(exp, run_name="evaluate-demo")
    log_metrics(c, run.info.run_id, {"fidelity.shape": 0.97})
    c.set_terminated(run.info.run_id)

    port = _free_port()
    server = subprocess.Popen(
        ui_command(paths, port), env=ui_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.5)
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert r.status == 200 and b"<html" in r.read().lower()
        found = _post(base + "/api/2.0/mlflow/runs/search", {"experiment_ids": [exp]})
        runs = found["runs"]
        assert [r["info"]["run_name"] for r in runs] == ["evaluate-demo"]
        metrics = {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]}
        assert metrics == {"fidelity.shape": 0.97}
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_experiment_carries_the_runs_list_view_and_ui_prints_its_url(tmp_path):
    """The comparison columns are the UI's shared view (an experiment tag); a store made before it
    exists gets the tag when `synthgen ui` looks the experiment up (tests/test_dashboard_browser.py
    checks the columns in a real browser)."""
    from synthgen.cli import _runs_url
    from synthgen.dashboard import METRIC_COLUMNS, VIEW_TAG

    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}", f"paths.mlflow_dir={tmp_path / 'mlruns'}"])
    paths = RunPaths.from_config(cfg)
    assert _runs_url(cfg, paths, "http://h") == "http://h/#/experiments?workflowType=machine_learning"
    assert not (tmp_path / "mlruns").exists()  # looking does not create a store
    c = client(cfg, paths)
    old = c.create_experiment(cfg.logger.experiment_name)  # as an older synthgen left it: no tags
    assert _runs_url(cfg, paths, "http://h") == (
        f"http://h/#/experiments/{old}/runs?viewStateShareKey=synthgen&workflowType=machine_learning"
    )
    tags = c.get_experiment(old).tags
    view = json.loads(tags[VIEW_TAG])
    assert [f"metrics.`{m}`" for m in METRIC_COLUMNS] == view["selectedColumns"][: len(METRIC_COLUMNS)]
    assert {"params.`data.name`", "tags.`synthgen.family`"} <= set(view["selectedColumns"])
    assert tags["mlflow.experimentKind"] == "custom_model_development"
