"""A real `dvc repro` of the default dvc.yaml in a temporary git repository."""

from __future__ import annotations

import json
import shutil
import subprocess

import pyarrow.parquet as pq
import pytest

from synthgen.config import composed_yaml
from tests.conftest import ROOT, TINY, subprocess_env

STAGES = ("prepare", "encode", "train", "generate", "evaluate")


def sh(cwd, *cmd, check=True):
    proc = subprocess.run(list(cmd), cwd=cwd, capture_output=True, text=True, env=subprocess_env(), timeout=600)
    if check:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


def ran(output: str) -> set[str]:
    return {s for s in STAGES if f"Running stage '{s}'" in output}


@pytest.fixture
def dvc_repo(tmp_path, adult_small):
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copy(ROOT / "dvc.yaml", repo)
    shutil.copytree(ROOT / "synthgen", repo / "synthgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "conf", repo / "conf")
    shutil.copytree(
        ROOT / "pipelines/mnist",
        repo / "pipelines/mnist",  # a DVC project of its own
        ignore=shutil.ignore_patterns("outputs", "tmp", "cache", "dvc.lock", "dvc_plots"),
    )
    (repo / "data").mkdir()
    shutil.copy(adult_small, repo / "data" / "small.parquet")
    overrides = [
        "paths.out_dir=outputs",
        "paths.mlflow_dir=mlruns",
        "data.path=data/small.parquet",
        "data.holdout_path=null",
        *TINY,
        "evaluate.gate.enabled=false",
    ]
    (repo / "params.yaml").write_text(composed_yaml(overrides))
    (repo / ".gitignore").write_text("mlruns/\n")
    sh(repo, "git", "init", "-q")
    sh(repo, "git", "config", "user.email", "ci@example.invalid")
    sh(repo, "git", "config", "user.name", "ci")
    sh(repo, "dvc", "init", "-q")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", "pipeline")
    return repo


def test_repro_twice_then_param_change(dvc_repo):
    first = sh(dvc_repo, "dvc", "repro").stdout
    assert ran(first) == set(STAGES)
    metrics = json.loads((dvc_repo / "outputs/evaluation/metrics.json").read_text())
    assert metrics["fidelity.shape"] > 0.5
    assert pq.read_table(dvc_repo / "outputs/synthetic").num_rows == 300

    losses = (dvc_repo / "outputs/model/losses.csv").read_text().splitlines()
    assert losses[0] == "epoch,train_loss,val_loss" and losses[1].startswith("0,"), losses
    plots = sh(dvc_repo, "dvc", "plots", "show", "-o", "plots_html").stdout
    page = (dvc_repo / "plots_html" / "index.html").read_text()
    # dvc.yaml's own plots, each with its template's axes (not the default line over row numbers)
    for title in ("Training loss by epoch", "Column shape score", "Pair trend score"):
        assert title in page, (title, plots)
    assert '"field": "epoch"' in page and '"field": "score"' in page and "pair_trends.png" in page
    offline = _offline_page(dvc_repo)
    if offline is not None:  # the plots extra: vega inlined, nothing fetched from a CDN
        assert "cdn.jsdelivr" not in offline and "window.vegaEmbed" in offline and "Training loss by epoch" in offline
    # `dvc metrics show` reads the headline file: a dozen figures, not the ~100 keys of metrics.json
    shown_metrics = json.loads(sh(dvc_repo, "dvc", "metrics", "show", "--json").stdout)
    keys = next(iter(shown_metrics.values()))["data"]["outputs/evaluation/headline.json"]["data"]
    assert "fidelity.shape" in keys and "verdict.fidelity" in keys and len(keys) < 25, sorted(keys)

    second = sh(dvc_repo, "dvc", "repro").stdout
    assert ran(second) == set(), second
    assert "up to date" in second.lower()
    status = sh(dvc_repo, "dvc", "status").stdout  # the never-run image pipeline is not listed
    assert "up to date" in status.lower() and "mnist" not in status, status

    # One model parameter: only train and what follows it rerun.
    params = (dvc_repo / "params.yaml").read_text().replace("d_model: 16", "d_model: 8")
    (dvc_repo / "params.yaml").write_text(params)
    third = sh(dvc_repo, "dvc", "repro").stdout
    assert ran(third) == {"train", "generate", "evaluate"}, third
    shown = sh(dvc_repo, "dvc", "metrics", "show", "--json").stdout
    assert "fidelity.shape" in shown


def _offline_page(repo):
    """`make plots`' page (synthgen/dvc_plots.py) when vl-convert-python is installed, else None."""
    try:
        import vl_convert  # noqa: F401
    except ImportError:
        return None
    from synthgen.dvc_plots import write_template

    template = write_template(repo / ".dvc/tmp/plots-offline.html")
    sh(repo, "dvc", "plots", "show", "--html-template", str(template), "-o", "offline_html")
    return (repo / "offline_html" / "index.html").read_text()


@pytest.mark.slow
def test_exp_run_switches_family_through_hydra(dvc_repo):
    """`dvc exp run -S model=<family>` composes conf/ into params.yaml (Hydra) and reproduces."""
    import yaml

    tiny = {
        "paths": {"out_dir": "outputs", "mlflow_dir": "mlruns"},
        "data": {"path": "data/small.parquet", "holdout_path": None, "max_rows": 400},
        "trainer": {"max_epochs": 1, "enable_progress_bar": False},
        "generate": {"n_rows": 300, "chunk_rows": 128},
        "evaluate": {"detection_folds": 2, "gate": {"enabled": False}},
    }
    (dvc_repo / "conf/experiment/tiny.yaml").write_text("# @package _global_\n" + yaml.safe_dump(tiny))
    sh(dvc_repo, "dvc", "config", "hydra.enabled", "true")
    sh(dvc_repo, "git", "add", "-A")
    sh(dvc_repo, "git", "commit", "-qm", "tiny experiment")
    from synthgen.modalities import families

    for family in families("tabular"):
        out = sh(dvc_repo, "dvc", "exp", "run", "-S", "experiment=tiny", "-S", f"model={family}").stdout
        assert "train" in ran(out), out
        params = yaml.safe_load((dvc_repo / "params.yaml").read_text())
        assert params["model"]["tabular"]["_target_"].split(".")[-2] == family
        assert params["trainer"]["max_epochs"] == 1
    shown = sh(dvc_repo, "dvc", "exp", "show", "--json").stdout
    assert "fidelity.shape" in shown


def test_image_pipeline_repro_in_its_folder(tmp_path):
    """pipelines/mnist: the same five stages for images; `dvc repro` there runs them, then nothing."""
    repo = tmp_path / "repo"
    (repo / "pipelines").mkdir(parents=True)
    shutil.copytree(ROOT / "pipelines/mnist", repo / "pipelines/mnist")
    shutil.copytree(ROOT / "synthgen", repo / "synthgen", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "data/mnist5k", repo / "data/mnist5k")
    line = next(ln for ln in (ROOT / "Makefile").read_text().splitlines() if ln.startswith("MNIST_OVERRIDES ="))
    small = [
        "data.max_rows=300",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "generate.n_rows=200",
        "generate.chunk_rows=64",
        "evaluate.images.classifier_epochs=1",
    ]
    (repo / "pipelines/mnist/params.yaml").write_text(composed_yaml(line.split("=", 1)[1].split() + small))
    (repo / ".gitignore").write_text("mlruns/\n")
    for cmd in (
        ["git", "init", "-q"],
        ["git", "config", "user.email", "ci@example.invalid"],
        ["git", "config", "user.name", "ci"],
        ["dvc", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "commit", "-qm", "pipeline"],
    ):
        sh(repo, *cmd)
    folder = repo / "pipelines/mnist"
    first = sh(folder, "dvc", "repro").stdout
    assert ran(first) == set(STAGES), first
    metrics = json.loads((folder / "outputs/evaluation/metrics.json").read_text())
    assert 0 <= metrics["utility.cas"] <= 1 and metrics["counts.synthetic"] == 200
    assert len(pq.read_table(folder / "outputs/synthetic/_manifest.parquet")) == 200
    assert (repo / "mlruns/mlflow.db").exists(), "the image pipeline logs to the project's MLflow store"
    second = sh(folder, "dvc", "repro").stdout
    assert ran(second) == set() and "up to date" in second.lower()
