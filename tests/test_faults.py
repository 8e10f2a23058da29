"""kill -9 at stage boundaries and in the middle of each stage, then rerun: the outputs are the old
complete state (never a mix, never half a folder), and the rerun writes the same bytes as a run
that was never interrupted.

The kill is real (SIGKILL, no cleanup code runs) and lands at a named point, not after a timed
delay: a small runner patches one function of synthgen to SIGKILL its own process after the N-th
call returns (@N, or on entry with @0), then runs the CLI stage.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import pytest

from synthgen import pipeline
from synthgen.config import load_config
from tests.conftest import subprocess_env, tiny_overrides
from tests.hardening_helpers import complete_run, tree

# Two epochs of several batches each, so that "mid-epoch" exists.
EXTRA = ("model.tabular.batch_size=64", "trainer.max_epochs=2")

KILLER = r"""
import importlib, os, signal, sys
spec, args = sys.argv[1], sys.argv[2:]
where, _, n = spec.partition("@")
module, _, qualname = where.partition(":")
owner = importlib.import_module(module)
*parents, name = qualname.split(".")
for p in parents:
    owner = getattr(owner, p)
real = getattr(owner, name)
calls = [0]
def wrapper(*a, **k):
    if int(n) == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    out = real(*a, **k)
    calls[0] += 1
    if calls[0] >= int(n):
        os.kill(os.getpid(), signal.SIGKILL)
    return out
setattr(owner, name, wrapper)
from synthgen.cli import main
sys.exit(main(args))
"""


def run_until_killed(spec: str, stage: str, overrides) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, spec, stage, *overrides],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=600,
    )
    assert proc.returncode == -signal.SIGKILL, f"{spec} was never reached:\n{proc.stderr[-2000:]}"


def visible(root) -> dict:
    """The outputs a reader sees: every file except hidden names (staging, the lock) and Lightning's
    resume checkpoints, and except the MLflow run id (a new run has a new id)."""
    return {
        k: v
        for k, v in tree(root).items()
        if not any(part.startswith(".") for part in k.split("/"))
        and not k.startswith("model/checkpoints/")
        and k != "model/mlflow_run.json"
    }


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """An uninterrupted tiny run (prepare -> generate) and its visible outputs."""
    root = tmp_path_factory.mktemp("baseline")
    complete_run(root, *EXTRA)
    return root, visible(root / "out")


# (kill point, stage killed): the middle of each stage and the moment just before its output is swapped in
FAULTS = [
    ("synthgen.modalities.tabular:write_parquet_atomic@1", "prepare"),  # train.parquet staged, holdout not
    ("synthgen.io:replace_dir@0", "prepare"),  # staged complete, not swapped in
    ("synthgen.encoders.tabular:TabularEncoder.save@1", "encode"),  # encoder.json staged
    (
        "synthgen.models.transformer:TabularTransformer.training_step@9",
        "train",
    ),  # epoch 2 of 2 (6 steps each), mid-epoch
    ("synthgen.checkpoint:export_generator@0", "train"),  # trained, not exported
    ("synthgen.writers.table:TableChunkWriter.write_chunk@1", "generate"),  # chunk 1 of 3 written
    ("synthgen.writers.table:write_manifest@1", "generate"),  # every shard + manifest staged
]


@pytest.mark.parametrize("spec,stage", FAULTS, ids=[f"{s}-{p.split(':')[1]}" for p, s in FAULTS])
def test_killed_stage_leaves_old_outputs_and_rerun_gives_same_bytes(baseline, tmp_path, spec, stage):
    root, expected = baseline
    shutil.copytree(root / "out", tmp_path / "out")
    ov = tiny_overrides(tmp_path, *EXTRA)
    run_until_killed(spec, stage, ov)
    assert visible(tmp_path / "out") == expected  # the old complete state, nothing half-replaced
    pipeline.STAGES[stage](load_config(ov))  # the rerun: recovers, then writes the same bytes
    assert visible(tmp_path / "out") == expected
    leftovers = [k for k in tree(tmp_path / "out") if any(p.startswith(".") for p in k.split("/"))]
    assert leftovers == []  # the killed run's staging folders and temporary files are gone


def test_killed_first_prepare_leaves_nothing(tmp_path):
    """Killed before its first output exists: no prepared/ at all, and the rerun completes."""
    ov = tiny_overrides(tmp_path, *EXTRA)
    run_until_killed("synthgen.modalities.tabular:write_parquet_atomic@2", "prepare", ov)
    assert not (tmp_path / "out" / "prepared").exists()
    pipeline.prepare(load_config(ov))
    assert sorted(p.name for p in (tmp_path / "out" / "prepared").iterdir()) == [
        "holdout.parquet",
        "schema.json",
        "train.parquet",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["prepared"]


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["synthgen.evaluate.report:_html@0", "synthgen.evaluate:check_gate@0"])
def test_killed_evaluate_leaves_old_evaluation(baseline, tmp_path, spec):
    """Mid-report (plots written, report not) and after the report was swapped in, before MLflow."""
    root, _ = baseline
    shutil.copytree(root / "out", tmp_path / "out")
    ov = tiny_overrides(tmp_path, *EXTRA)
    pipeline.evaluate(load_config(ov))
    old = visible(tmp_path / "out")
    run_until_killed(spec, "evaluate", ov)
    assert visible(tmp_path / "out") == old
    pipeline.evaluate(load_config(ov))
    now = visible(tmp_path / "out")
    assert now["evaluation/metrics.json"] == old["evaluation/metrics.json"] and now.keys() == old.keys()
