"""Exponential moving average of a network's weights, shared by the GANs (tables and images)."""
from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, max_decay: float, step: int) -> None:
    """average <- decay * average + (1 - decay) * model, at optimiser step `step` (1, 2, ...).

    The decay is ramped up as (1 + step) / (10 + step), capped at `max_decay`, so that the average
    does not lag behind the untrained start; buffers (batch-norm statistics) are copied as they are.
    """
    decay = min(max_decay, (1 + step) / (10 + step))
    for avg, p in zip(average.parameters(), model.parameters()):
        avg.lerp_(p, 1 - decay)
    for avg, b in zip(average.buffers(), model.buffers()):
        avg.copy_(b)
