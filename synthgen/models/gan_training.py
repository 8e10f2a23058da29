"""What the two GANs (models/gan.py: tables, models/image_gan.py: images) share in training.

- `optimiser_step(module, opt, loss)`: one manual optimiser step (both GANs optimise by hand:
  `critic_steps` critic steps, then one generator step per batch). Call it inside Lightning's
  `module.toggled_optimizer(opt)`, which freezes the other network's parameters meanwhile.
- `WeightAverage`: a mixin giving a LightningModule `generator_ema`, an exponential moving average
  of its `generator`'s weights that sampling uses, and `ema_steps`, the number of averaging steps
  so far. `ema_steps` is a saved buffer, so a run resumed from last.ckpt continues the decay ramp
  where it stopped rather than starting it over; model files written before it existed (tabular
  GAN) load with ema_steps = 0, which only matters if their training is resumed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

EMA_STEPS = "ema_steps"  # the buffer's state_dict key (the image GAN's since its first model files)


def optimiser_step(module, opt, loss: torch.Tensor) -> None:
    """zero_grad, Lightning's manual_backward (precision plugins, DDP gradient sync), step."""
    opt.zero_grad(set_to_none=True)
    module.manual_backward(loss)
    opt.step()


@torch.no_grad()
def update_average(average: nn.Module, model: nn.Module, max_decay: float, step: int) -> None:
    """average <- decay * average + (1 - decay) * model, at averaging step `step` (1, 2, ...).

    The decay is ramped up as (1 + step) / (10 + step), capped at `max_decay`, so that the average
    does not lag behind the untrained start; buffers (batch-norm statistics) are copied as they are.
    """
    decay = min(max_decay, (1 + step) / (10 + step))
    for avg, p in zip(average.parameters(), model.parameters()):
        avg.lerp_(p, 1 - decay)
    for avg, b in zip(average.buffers(), model.buffers()):
        avg.copy_(b)


class WeightAverage:
    """Mixin for a LightningModule with a `generator` network (see the module docstring)."""

    generator: nn.Module
    generator_ema: nn.Module | None
    ema_decay: float

    def init_average(self, decay: float) -> None:
        """Call once `self.generator` exists; decay 0 means no average (sampling uses the generator)."""
        self.ema_decay = decay
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if decay else None
        self.register_buffer(EMA_STEPS, torch.zeros((), dtype=torch.long))
        self.register_load_state_dict_pre_hook(_default_ema_steps)

    def update_average(self) -> None:
        """One averaging step, after each generator step."""
        if self.generator_ema is not None:
            update_average(self.generator_ema, self.generator, self.ema_decay, int(self.ema_steps.add_(1)))

    @property
    def sampler(self) -> nn.Module:
        """The generator that samples: the weight average when there is one."""
        return self.generator_ema if self.generator_ema is not None else self.generator


def _default_ema_steps(module, state_dict, prefix, *args) -> None:
    """A state_dict from before ema_steps was saved (tabular GAN model files) loads with 0."""
    state_dict.setdefault(prefix + EMA_STEPS, torch.zeros((), dtype=torch.long))
