"""The dashboard as a person sees it: `synthgen ui` on a real store with one tiny pipeline run, opened
in headless Chromium (Debian's `chromium`, driven by Playwright: `pip install -e ".[ui-test]"`).
The runs list must show one row for the pipeline run with the headline metrics and key params as
columns (synthgen/dashboard.py). SYNTHGEN_SCREENSHOTS=docs also writes the README's screenshots."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from synthgen import cli
from tests.conftest import subprocess_env, tiny_overrides

CHROMIUM = os.environ.get("SYNTHGEN_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason='needs Playwright: pip install -e ".[ui-test]"'),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"needs Chromium at {CHROMIUM}: apt-get install chromium (or set SYNTHGEN_CHROMIUM)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(base: str, server: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.time() > deadline or server.poll() is not None:
                raise
            time.sleep(0.5)


def test_runs_list_shows_one_row_per_pipeline_run_with_metric_columns(tmp_path):
    overrides = tiny_overrides(tmp_path, "evaluate.gate.enabled=false", "logger.log_model=false")
    assert cli.main(["run", *overrides]) == 0
    metrics = json.loads((tmp_path / "out/evaluation/metrics.json").read_text())

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "synthgen.cli", "ui", f"paths.mlflow_dir={tmp_path / 'mlruns'}", f"port={port}"],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    shots = tmp_path / "shots"
    shots.mkdir()
    try:
        url = server.stdout.readline().split("MLflow dashboard: ", 1)[1].strip()
        assert "viewStateShareKey=synthgen" in url and "workflowType=machine_learning" in url, url
        _wait_healthy(f"http://127.0.0.1:{port}", server)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 2000, "height": 480})
            page.goto(url, timeout=120_000)
            # the UI polls the server all the time: wait for the column text, not for network idle
            page.get_by_text("fidelity.detection_auc").first.wait_for(timeout=120_000)
            page.get_by_text("train-adult-", exact=False).first.wait_for(timeout=60_000)
            _close_assistant(page)
            page.screenshot(path=str(shots / "mlflow-runs.png"))
            table = page.inner_text("body")
            for column in (
                "fidelity.shape",
                "fidelity.pair_trends",
                "fidelity.detection_auc",
                "privacy.dcr_share",
                "gate.passed",
                "data.name",
                "trainer.max_epochs",
                "seed",
                "generate.n_rows",
                "synthgen.family",
            ):
                assert column in table, column
            for key in ("fidelity.shape", "fidelity.detection_auc", "privacy.dcr_share"):
                assert str(metrics[key])[:6] in table, (key, metrics[key])  # the value in its cell
            # one row per pipeline run: the train run; its generate/evaluate children stay folded
            assert table.count("train-adult-") == 1 and "evaluate-adult-" not in table

            page.get_by_text("train-adult-", exact=False).first.click()
            page.get_by_text("utility.roc_auc_ratio").first.wait_for(timeout=120_000)
            # the run's own page; the link drops workflowType, and MLflow's default view is GenAI's
            page.goto(page.url + "?workflowType=machine_learning", timeout=120_000)
            page.get_by_text("utility.roc_auc_ratio").first.wait_for(timeout=120_000)
            assert "Child runs" in page.inner_text("body")
            _close_assistant(page)
            assert "Parameters" in page.inner_text("body")
            page.set_viewport_size({"width": 1300, "height": 820})
            page.screenshot(path=str(shots / "mlflow-run.png"))
            browser.close()
    finally:
        _keep_screenshots(shots)
        os.killpg(server.pid, signal.SIGTERM)  # mlflow ui and the server workers it started
        server.wait(timeout=30)


def _keep_screenshots(shots: Path) -> None:
    """SYNTHGEN_SCREENSHOTS=<folder>: copy what the browser saw there (also after a failed check)."""
    if os.environ.get("SYNTHGEN_SCREENSHOTS"):
        for png in shots.glob("*.png"):
            shutil.copy(png, Path(os.environ["SYNTHGEN_SCREENSHOTS"]) / png.name)


def _close_assistant(page) -> None:
    """The MLflow Assistant side panel (an LLM chat that needs a provider) only takes room here."""
    panel = page.get_by_text("MLflow Assistant").first
    if panel.count():
        close = page.locator("button[aria-label='Close']")
        if close.count():
            close.first.click()
            page.get_by_text("Ask a question").first.wait_for(state="hidden", timeout=10_000)
