"""The optimiser and learning-rate schedule shared by the families that train with automatic optimisation."""

from __future__ import annotations

import math

import torch

FUSED_DEVICES = ("cpu", "cuda")  # where torch's AdamW has a fused kernel for float parameters
FUSED_PRECISIONS = ("32-true", "64-true")  # Lightning precisions whose plugin steps a fused optimizer


def fused_kernel(module, params: list) -> bool | None:
    """`fused=` for torch's Adam/AdamW over `params` of `module`: True where the device has the fused
    kernel, None (torch's default) elsewhere. Adam(W).step 4-5x faster on CPU (2 ms -> 0.4 ms for the
    default transformer), a tenth of a small table's step (benchmarks/bench_optimizer_step.py). Not
    under Lightning's mixed precision (trainer.precision=16-mixed/bf16-mixed), whose plugin refuses
    gradient clipping with an optimizer that unscales its own gradients."""
    trainer = module._trainer
    ok = (
        bool(params)
        and all(p.device.type in FUSED_DEVICES and p.is_floating_point() for p in params)
        and (trainer is None or str(trainer.precision) in FUSED_PRECISIONS)
    )
    return True if ok else None


def adamw_warmup_cosine(module, lr: float, weight_decay: float, warmup_steps: int, betas=(0.9, 0.95)) -> dict:
    """Lightning optimiser config: AdamW with a linear warm-up, then a cosine decay to 0 over the run
    (when its length is known). Decaying to 0 matters for tables: with a constant or plateau-halved
    rate the last iterate keeps enough noise to miss a column's marginal by a few points of TV."""
    params = list(module.parameters())
    trainer = module._trainer
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas, fused=fused_kernel(module, params))
    total = trainer.estimated_stepping_batches if trainer is not None else math.inf
    warm = max(1, min(warmup_steps, int(total) // 10 if math.isfinite(total) else warmup_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if not math.isfinite(total):
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))

    # When the run's length is known the rate ends at exactly 0 (cos(pi) = -1); the pipeline then
    # keeps the final weights.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
