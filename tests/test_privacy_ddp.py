"""DP-SGD under DDP: two real gloo processes. The mechanics (each rank's Poisson draws, one noise
draw per global step, the ranks' average) against one process stepping the union of the ranks'
batches; then a whole `synthgen train trainer=ddp` DP run (launched as subprocesses: Lightning's
ddp re-executes the command line per rank, which must not happen inside pytest, see STACK.md)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from synthgen import seeding
from synthgen.privacy.dpsgd import dp_optimizer, poisson_loader

# Spawned ranks import this module: only light imports at the top (no Lightning, Hydra or pyarrow).

N_ROWS, BATCH, EPOCHS, SEED, CLIP = 40, 8, 2, 3, 0.5  # q = 8 / 40 = 0.2: 5 steps per epoch


def _data():
    """Rows x [40, 3] with their index, in the family's kind of loader (batch_size = the global batch)."""
    x = torch.randn(N_ROWS, 3, generator=torch.Generator().manual_seed(1))
    return DataLoader(TensorDataset(x, torch.arange(N_ROWS)), batch_size=BATCH, drop_last=True)


def _model():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def _step(model, dp, xb):
    dp.zero_grad()
    model(xb).pow(2).sum(1).mean().backward()  # per-row losses, mean over the batch
    dp.step()


def _rank(rank: int, world: int, port: int, out: str):
    """One DDP rank: Poisson draws over its share, DistributedDPOptimizer steps; writes what it saw."""
    from opacus import GradSampleModule

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    model = _model()
    GradSampleModule(model, loss_reduction="mean")
    g = seeding.torch_generator(seeding.DP_NOISE, SEED)
    dp = dp_optimizer(torch.optim.SGD(model.parameters(), lr=1.0), 4.0, CLIP, BATCH, world, g)
    loader = poisson_loader(_data(), SEED, rank, world)
    batches = []
    for _ in range(EPOCHS):
        for xb, idx in loader:
            batches.append(idx.tolist())
            _step(model, dp, xb)
    # 4 rows at q = 1/4 (2 rows per rank): most local draws are empty, and each is still a step
    tiny = poisson_loader(DataLoader(TensorDataset(torch.arange(4)), batch_size=1), SEED, rank, world)
    sizes = [len(b) for _ in range(5) for (b,) in tiny]
    torch.save({"batches": batches, "state": model.state_dict(), "sizes": sizes}, os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _replay(batches, noise_multiplier: float, noise_draws: int = 1):
    """One process: DPOptimizer on the union of the ranks' batches, the same noise stream;
    noise_draws=2 adds a second draw per step (what noise on every rank would amount to)."""
    from opacus import GradSampleModule

    x = _data().dataset.tensors[0]
    model = _model()
    GradSampleModule(model, loss_reduction="mean")
    g = seeding.torch_generator(seeding.DP_NOISE, SEED)
    dp = dp_optimizer(torch.optim.SGD(model.parameters(), lr=1.0), noise_multiplier, CLIP, BATCH, 1, g)
    extra = torch.Generator().manual_seed(99)
    for rows in batches:
        dp.zero_grad()
        model(x[rows]).pow(2).sum(1).mean().backward()
        dp.pre_step()
        for _ in range(noise_draws - 1):
            for p in dp.params:
                p.grad += torch.normal(0, 4.0 * CLIP, p.shape, generator=extra) / BATCH
        dp.original_optimizer.step()
    return model.state_dict()


def test_two_ranks_step_like_one_process_on_the_union_batch_with_one_noise_draw(tmp_path):
    torch.multiprocessing.spawn(_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    steps = EPOCHS * N_ROWS // BATCH
    # every rank took every step (an empty draw is still a step), from its own share of the rows
    assert len(r0["batches"]) == len(r1["batches"]) == steps
    assert all(i % 2 == 0 for b in r0["batches"] for i in b) and all(i % 2 == 1 for b in r1["batches"] for i in b)
    assert r0["batches"] != [[i - 1 for i in b] for b in r1["batches"]]  # the ranks' streams are not one stream
    assert len(r0["sizes"]) == len(r1["sizes"]) == 5 * 4 and 0 in r0["sizes"] and 0 in r1["sizes"]
    union = [sorted(a + b) for a, b in zip(r0["batches"], r1["batches"])]
    assert sum(map(len, union)) == pytest.approx(steps * BATCH, rel=0.5)
    # the ranks ended with the same weights, the one-process DP-SGD weights for the union batches
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k])
    one, noiseless, twice = _replay(union, 4.0), _replay(union, 1e-9), _replay(union, 4.0, noise_draws=2)
    for k in one:
        assert torch.allclose(r0["state"][k], one[k], atol=1e-5), k
    gap = max((r0["state"][k] - noiseless[k]).abs().max().item() for k in one)
    assert gap > 0.1  # the noise is there (std 4 * 0.5 / 8 per step) ...
    assert max((r0["state"][k] - twice[k]).abs().max().item() for k in one) > 0.1  # ... drawn once per step


# ---- a whole DP run on two processes --------------------------------------------------------------------
def synthgen(*args):
    from tests.conftest import subprocess_env

    proc = subprocess.run(
        [sys.executable, "-m", "synthgen.cli", *args], capture_output=True, text=True, env=subprocess_env(), timeout=400
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_a_ddp_dp_run_spends_what_the_same_schedule_spends_on_one_process(tmp_path):
    import pyarrow.parquet as pq

    from synthgen.config import load_config
    from synthgen.paths import RunPaths
    from tests.conftest import tiny_overrides

    ov = tiny_overrides(
        tmp_path, "privacy.epsilon=3", "model.tabular.batch_size=100", "trainer.max_epochs=2", "generate.n_rows=300"
    )
    paths = RunPaths.from_config(load_config(ov))
    synthgen("prepare", *ov)
    synthgen("encode", *ov)
    synthgen("train", *ov, "trainer=ddp", "trainer.devices=2")
    ddp = json.loads((paths.model_dir / "privacy.json").read_text())
    assert 2.5 < ddp["epsilon_spent"] <= 3.0
    # the global schedule: model.tabular.batch_size is the global expected batch, q = 100 / rows,
    # epochs x (rows // 100) steps, each counted once (rank 0's accountant; the checkpoint keeps it)
    n_train = pq.read_table(paths.train_table).num_rows
    assert ddp["steps"] == 2 * (n_train // 100) and ddp["sample_rate"] == 1 / (n_train // 100)
    last = torch.load(paths.checkpoints / "last.ckpt", map_location="cpu", weights_only=False)
    history = next(v["history"] for k, v in last["callbacks"].items() if k.startswith("DPCallback"))
    assert sum(h[2] for h in history) == ddp["steps"]

    # generating from the DDP-trained DP model: valid, and the same bytes at one and two processes
    synthgen("generate", *ov, "trainer=ddp", "trainer.devices=2")
    two = {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")}
    synthgen("generate", *ov)
    assert {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")} == two
    table = pq.read_table(paths.synthetic)
    assert table.num_rows == 300 and table.schema.names == pq.read_table(paths.train_table).schema.names
    manifest = json.loads((paths.synthetic / "_manifest.json").read_text())
    assert (
        manifest["privacy"]["epsilon_spent"] == ddp["epsilon_spent"] and manifest["privacy"]["redraw_copies"] is False
    )

    # the same schedule on one process: the same plan and the same spend, field by field
    synthgen("train", *ov)
    assert json.loads((paths.model_dir / "privacy.json").read_text()) == ddp
