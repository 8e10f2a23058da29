"""Real two-process DDP (gloo on CPU), launched as subprocesses: Lightning re-executes the command
line once per extra rank, which must not happen inside pytest itself (see shared STACK.md)."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest
import torch

from tests.conftest import subprocess_env, tiny_overrides


def synthgen(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "synthgen.cli", *args], capture_output=True, text=True, env=subprocess_env(), timeout=400
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_ddp_trains_and_generates_like_one_process(tmp_path):
    ov = tiny_overrides(tmp_path, "generate.n_rows=700", "generate.chunk_rows=100")  # 7 chunks: uneven split
    synthgen("prepare", *ov)
    synthgen("encode", *ov)
    synthgen("train", *ov, "trainer=ddp", "trainer.devices=2", "trainer.max_epochs=2")
    out = tmp_path / "out"
    # Same artifacts as a one-process run: an exported generator, checkpoints and the MLflow link.
    assert (out / "model" / "model.ckpt").exists() and (out / "model" / "checkpoints" / "last.ckpt").exists()
    assert (out / "model" / "mlflow_run.json").exists()
    state = torch.load(out / "model" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 1

    synthgen("generate", *ov, "trainer=ddp", "trainer.devices=2")
    ddp = {p.name: p.read_bytes() for p in (out / "synthetic").glob("part-*.parquet")}
    assert len(ddp) == 7
    synthgen("generate", *ov)  # one process
    single = {p.name: p.read_bytes() for p in (out / "synthetic").glob("part-*.parquet")}
    assert ddp == single
    assert pq.read_table(out / "synthetic").num_rows == 700

    # Fewer chunks than ranks (a table of at most generate.chunk_rows rows): rank 1 gets no chunk and
    # writes nothing; the output is the one-process output, and no staging folder is left.
    small = ["generate.n_rows=50", "generate.chunk_rows=100"]
    synthgen("generate", *ov, *small, "trainer=ddp", "trainer.devices=2")
    assert [p.name for p in sorted((out / "synthetic").iterdir())] == ["_manifest.json", "part-000000.parquet"]
    ddp_one = (out / "synthetic" / "part-000000.parquet").read_bytes()
    synthgen("generate", *ov, *small)
    assert (out / "synthetic" / "part-000000.parquet").read_bytes() == ddp_one
    assert not (out / ".synthetic.partial").exists()


@pytest.mark.parametrize("data", ["adult", "digits"])  # the tabular GAN and the image GAN
def test_gans_train_under_ddp(tmp_path, data):
    # the critic step's loss leaves the generator's weights out: plain DDP stops at its first backward
    ov = [o for o in tiny_overrides(tmp_path) if not o.startswith("model.")] + ["model=gan", f"data={data}"]
    synthgen("prepare", *ov)
    synthgen("encode", *ov)
    synthgen("train", *ov, "trainer=ddp", "trainer.devices=2", "trainer.max_epochs=1")
    assert (tmp_path / "out" / "model" / "model.ckpt").exists()


def test_entity_groups_are_the_same_bytes_on_two_processes(tmp_path):
    """Entity tables (synthgen/entities.py): chunks end where a group ends and each chunk draws its
    own heads, so two ranks write what one process writes."""
    from tests.test_entities import orders

    path = tmp_path / "orders.parquet"
    orders(customers=150).to_parquet(path)
    ov = tiny_overrides(tmp_path, "data=file", f"data.path={path}", "data.max_rows=null", "generate.chunk_rows=60")
    for stage in ("prepare", "encode", "train"):
        synthgen(stage, *ov)
    out = tmp_path / "out"
    synthgen("generate", *ov, "trainer=ddp", "trainer.devices=2")
    ddp = {p.name: p.read_bytes() for p in (out / "synthetic").glob("part-*.parquet")}
    synthgen("generate", *ov)
    single = {p.name: p.read_bytes() for p in (out / "synthetic").glob("part-*.parquet")}
    assert len(ddp) > 2 and ddp == single
    syn = pq.read_table(out / "synthetic").to_pandas()
    assert (syn.groupby("customer_id")["tier"].nunique() == 1).all() and syn["customer_id"].nunique() > 20
