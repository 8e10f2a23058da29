"""trainer=multinode on one machine: two "nodes" of one process each, each started by its own torchrun
agent (--node_rank 0 and 1, rendezvous at 127.0.0.1), the way two machines start (README, Hardware).
Lightning reads torchrun's environment and launches nothing itself; both runs are subprocesses."""

from __future__ import annotations

import socket
import subprocess
import sys

import pyarrow.parquet as pq
import torch

from tests.conftest import BIN, subprocess_env, tiny_overrides


def synthgen(*args):
    proc = subprocess.run(
        [sys.executable, "-m", "synthgen.cli", *args], capture_output=True, text=True, env=subprocess_env(), timeout=400
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_nodes(stage: str, overrides: list[str]):
    """Start both torchrun agents at once (as two machines would) and wait for both."""
    port = free_port()
    cmd = [
        str(BIN / "torchrun"),
        "--nnodes=2",
        "--nproc_per_node=1",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        "-m",
        "synthgen.cli",
        stage,
        *overrides,
        "trainer=multinode",
    ]
    nodes = [
        subprocess.Popen(
            cmd[:3] + [f"--node_rank={rank}"] + cmd[3:],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=subprocess_env(),
        )
        for rank in range(2)
    ]
    try:
        outs = [p.communicate(timeout=300)[0] for p in nodes]
    finally:
        for p in nodes:
            if p.poll() is None:
                p.kill()
    for p, out in zip(nodes, outs):
        assert p.returncode == 0, out[-3000:]


def test_two_torchrun_nodes_train_and_generate_like_one_process(tmp_path):
    ov = tiny_overrides(tmp_path, "generate.n_rows=500", "generate.chunk_rows=100")  # 5 chunks: uneven split
    synthgen("prepare", *ov)
    synthgen("encode", *ov)
    two_nodes("train", [*ov, "trainer.max_epochs=2"])
    out = tmp_path / "out"
    state = torch.load(out / "model" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 1 and (out / "model" / "model.ckpt").exists()
    assert (out / "model" / "mlflow_run.json").exists()  # written once, by global rank 0

    two_nodes("generate", ov)
    nodes = {p.name: p.read_bytes() for p in (out / "synthetic").glob("part-*.parquet")}
    assert len(nodes) == 5
    synthgen("generate", *ov)  # one process
    single = {p.name: p.read_bytes() for p in (out / "synthetic").glob("part-*.parquet")}
    assert nodes == single
    assert pq.read_table(out / "synthetic").num_rows == 500
