"""The DP-SGD parts below Lightning, the same in one process and under DDP (no Lightning import here,
so a bare torch.distributed process can use them: tests/test_privacy_ddp.py).

- `poisson_loader`: every row joins a step's batch with probability q = 1 / len(base loader), for
  len(base loader) steps; under DDP each rank draws over its own share of the rows from its own
  stream, so the union of the ranks' batches is one Poisson batch of the whole table.
- `dp_optimizer`: Opacus's DPOptimizer, or under DDP its DistributedDPOptimizer (noise on rank 0 only,
  once per global step; the ranks' clipped sums averaged).
"""

from __future__ import annotations

import torch

from synthgen import seeding


def _rank_sampler_class():
    from opacus.utils.uniform_sampler import DistributedUniformWithReplacementSampler

    class RankPoissonSampler(DistributedUniformWithReplacementSampler):
        """Opacus's per-rank Poisson sampler (each row of this rank's share joins a step's batch with
        probability q), yielding every step's batch even when it is empty: Opacus's skips an empty
        draw, and a rank one step short of the others would hang DDP's all-reduce. Shares are fixed
        (rank r: rows r, r + W, ...); no shuffle is needed since every row is drawn on its own."""

        def __iter__(self):
            rows = torch.arange(self.rank, self.total_size, self.num_replicas)  # [num_samples]
            for _ in range(self.num_batches):
                yield rows[torch.rand(self.num_samples, generator=self.generator) < self.sample_rate].tolist()

    return RankPoissonSampler


def poisson_loader(base, seed: int, rank: int = 0, world: int = 1):
    """Poisson batches of `base`'s rows at q = 1 / len(base) for len(base) steps: Opacus's DPDataLoader
    in one process; under DDP (torch.distributed initialised) this rank's draws over its share."""
    from opacus.data_loader import DPDataLoader
    from torch.utils.data import DataLoader

    if world == 1:
        return DPDataLoader.from_data_loader(base, generator=seeding.torch_generator(seeding.DP_BATCHES, seed))
    g = seeding.torch_generator(seeding.DP_RANK_BATCHES, seed, rank)
    dp = DPDataLoader.from_data_loader(base, distributed=True, generator=g)  # q and the empty-batch collate
    sampler = _rank_sampler_class()(
        total_size=len(base.dataset), sample_rate=dp.sample_rate, steps=len(base), generator=g
    )
    return DataLoader(base.dataset, batch_sampler=sampler, collate_fn=dp.collate_fn)


def dp_optimizer(opt, noise_multiplier: float, max_grad_norm: float, expected_batch: float, world: int, generator):
    """Opacus's DPOptimizer around `opt`; under DDP its DistributedDPOptimizer, which adds the noise
    on rank 0 only (so once per global step) and averages the ranks' gradients. `expected_batch` is
    the global one; per rank (as in Opacus's make_private) each rank divides by batch / W, and the
    mean over W ranks gives (sum of all ranks' clipped rows + one noise draw) / batch, as in one process."""
    from opacus.optimizers import DistributedDPOptimizer, DPOptimizer

    batch = max(1, round(expected_batch))
    return (DistributedDPOptimizer if world > 1 else DPOptimizer)(
        opt,
        noise_multiplier=noise_multiplier,
        max_grad_norm=max_grad_norm,
        expected_batch_size=batch / world if world > 1 else batch,
        loss_reduction="mean",
        generator=generator,
    )
