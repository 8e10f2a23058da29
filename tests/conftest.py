"""Shared fixtures: small real tables and configs that write under a temporary folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import settings

from synthgen.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
BIN = Path(sys.executable).parent  # the venv's console scripts (synthgen, dvc, mlflow)
os.environ.setdefault("DVC_NO_ANALYTICS", "1")

# Property tests replay the same examples on every run, so a red `make test` is a regression and
# not a lucky new draw; `HYPOTHESIS_PROFILE=explore make test` draws fresh ones to hunt for bugs.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

# Small runs: a few hundred Adult rows, one short epoch, two detection folds.
TINY = [
    "data.max_rows=400",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "generate.n_rows=300",
    "generate.chunk_rows=128",
    "evaluate.detection_folds=2",
    "model.tabular.d_model=16",
    "model.tabular.n_layers=1",
    "model.tabular.n_heads=2",
]


def tiny_overrides(tmp_path: Path, *extra: str) -> list[str]:
    return [f"paths.out_dir={tmp_path / 'out'}", f"paths.mlflow_dir={tmp_path / 'mlruns'}", *TINY, *extra]


@pytest.fixture
def tiny_cfg(tmp_path):
    def make(*extra):
        return load_config(tiny_overrides(tmp_path, *extra))

    return make


@pytest.fixture(scope="session")
def adult_small(tmp_path_factory) -> Path:
    """400 real Adult rows as Parquet."""
    path = tmp_path_factory.mktemp("data") / "adult_small.parquet"
    pq.write_table(pq.read_table(ROOT / "data/adult/adult_train.parquet").slice(0, 400), path)
    return path


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module: small convolutions and hundreds of tiny sampling steps gain
    nothing from a second thread, which on a shared 2-core machine stalls each step."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def subprocess_env() -> dict:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        "PYTHONWARNINGS": "ignore",
    }
    return env


def read_synthetic(out: Path) -> pa.Table:
    return pq.read_table(out / "synthetic")
