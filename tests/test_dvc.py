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
    (repo / "data").mkdir()
    shutil.copy(adult_small, repo / "data" / "small.parquet")
    overrides = ["paths.out_dir=outputs", "paths.mlflow_dir=mlruns", "data.path=data/small.parquet",
                 "data.holdout_path=null", *TINY, "evaluate.gate.enabled=false"]
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

    plots = sh(dvc_repo, "dvc", "plots", "show", "-o", "plots_html").stdout
    assert (dvc_repo / "plots_html" / "index.html").exists(), plots

    second = sh(dvc_repo, "dvc", "repro").stdout
    assert ran(second) == set(), second
    assert "up to date" in second.lower()

    # One model parameter: only train and what follows it rerun.
    params = (dvc_repo / "params.yaml").read_text().replace("d_model: 16", "d_model: 8")
    (dvc_repo / "params.yaml").write_text(params)
    third = sh(dvc_repo, "dvc", "repro").stdout
    assert ran(third) == {"train", "generate", "evaluate"}, third
    shown = sh(dvc_repo, "dvc", "metrics", "show", "--json").stdout
    assert "fidelity.shape" in shown


@pytest.mark.slow
def test_exp_run_switches_family_through_hydra(dvc_repo):
    """`dvc exp run -S model=<family>` composes conf/ into params.yaml (Hydra) and reproduces."""
    import yaml

    tiny = {"paths": {"out_dir": "outputs", "mlflow_dir": "mlruns"},
            "data": {"path": "data/small.parquet", "holdout_path": None, "max_rows": 400},
            "trainer": {"max_epochs": 1, "enable_progress_bar": False},
            "generate": {"n_rows": 300, "chunk_rows": 128},
            "evaluate": {"detection_folds": 2, "gate": {"enabled": False}}}
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
    small = ["data.max_rows=300", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
             "generate.n_rows=200", "generate.chunk_rows=64", "evaluate.images.classifier_epochs=1"]
    (repo / "pipelines/mnist/params.yaml").write_text(composed_yaml(line.split("=", 1)[1].split() + small))
    (repo / ".gitignore").write_text("mlruns/\n")
    for cmd in (["git", "init", "-q"], ["git", "config", "user.email", "ci@example.invalid"],
                ["git", "config", "user.name", "ci"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                ["git", "commit", "-qm", "pipeline"]):
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
