"""Early stopping that ends annealed (`train.cooldown`, off by default).

Plain early stopping exports the best validation epoch, and on a small table that epoch comes
early, at near-peak learning rate: on the suite's gapminder (1,363 rows) validation bottomed out at
step ~358 of 1,400 and the exported model drew its first column, `continent`, 7 points of mass off
(benchmarks/sizing.md). With this callback, once val_loss has not improved for `patience`
validation rounds, the weights and optimiser state of the best round come back and the learning
rate falls linearly from its value at that round to 0 over `share` x the steps trained up to it;
then training stops and the final (annealed) weights are exported.

The plateau is also called early when val_loss has stayed more than RISE (2 %) above its best for
RISE_ROUNDS (3) rounds in a row: a small table that over-fits climbs steadily away from its best
round, and waiting out the patience there (max(5, epochs / 3) rounds, 550 steps on diabetes) trains
weights the cool-down then throws away. It anneals from the best round the patience would have
annealed from (the dropout draws and batch order of the cool-down differ), only sooner. On the
suite's curves (benchmarks/sizing.md) it ends penguins at round 6 instead of 13, diabetes 5 / 12,
seattle_weather 19 / 25, gapminder 19 / 22, and never fires on the tables that improve to the end
(planes, whose val_loss wanders up to 1.3 % above its best, digits, compas).

Decisions use the logged val_loss, which every DDP rank sees alike (sync_dist), so all ranks restore
and stop together. On a resume (ckpt_path=last) the counters come back but not the best weights:
a plateau found after the resume anneals from the weights at hand.
"""

from __future__ import annotations

import copy

import pytorch_lightning as pl

from synthgen.errors import SynthgenError

RISE = 0.02  # a round's val_loss this share above the best counts as climbing away from it
RISE_ROUNDS = 3  # rounds in a row climbing away that call the plateau before the patience runs out


def configured_share(cfg, training: dict) -> float | None:
    """train.cooldown when set (0: off), else the family's training.<modality>.cooldown (None: off)."""
    from omegaconf import OmegaConf

    share = OmegaConf.select(cfg, "train.cooldown")
    return check_share(training.get("cooldown") if share is None else share)


def check_share(share) -> float | None:
    """train.cooldown: 0 or null (off) or a share in (0, 1]; anything else is a one-line error."""
    if share is None or (share == 0 and not isinstance(share, bool)):
        return None
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
        raise SynthgenError(f"train.cooldown={share!r}: expected 0 (off) or a share of the steps in (0, 1]")
    return float(share)


class PlateauCooldown(pl.Callback):
    def __init__(self, patience: int, share: float, monitor: str = "val_loss"):
        self.patience, self.share, self.monitor = int(patience), float(share), monitor
        self.best, self.best_step, self.wait, self.above = float("inf"), 0, 0, 0
        self.cool_steps, self.cool_done = 0, 0  # cool_steps > 0: cooling down
        self.start_lrs: list[float] = []
        self._weights = self._optimizer = None  # copies taken at the best round

    @property
    def cooling(self) -> bool:
        return self.cool_steps > 0

    @property
    def finished(self) -> bool:
        """True once the cool-down ran to a rate of 0 (the weights at hand are the annealed ones)."""
        return self.cooling and self.cool_done >= self.cool_steps

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or self.cooling or value is None:
            return
        if float(value) < self.best:
            self.best, self.best_step, self.wait, self.above = float(value), trainer.global_step, 0, 0
            self._weights = copy.deepcopy(pl_module.state_dict())
            self._optimizer = copy.deepcopy(trainer.optimizers[0].state_dict())
            self.start_lrs = [g["lr"] for g in trainer.optimizers[0].param_groups]
            return
        self.wait += 1
        self.above = self.above + 1 if float(value) > self.best * (1 + RISE) else 0
        if self.wait >= self.patience or self.above >= RISE_ROUNDS:
            if self._weights is not None:
                pl_module.load_state_dict(self._weights)
                trainer.optimizers[0].load_state_dict(self._optimizer)
            self.start_lrs = self.start_lrs or [g["lr"] for g in trainer.optimizers[0].param_groups]
            self.cool_steps = max(1, round(self.share * max(self.best_step, 1)))

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.cooling:  # set before this step's optimiser step; the schedule's own value is ignored
            factor = max(0.0, 1 - self.cool_done / self.cool_steps)
            for group, lr in zip(trainer.optimizers[0].param_groups, self.start_lrs):
                group["lr"] = lr * factor

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.cooling:
            self.cool_done += 1
            if self.finished:
                flush = getattr(pl_module, "flush_train_losses", None)  # the round ends here: its losses
                if flush is not None:
                    flush()
                trainer.should_stop = True

    def on_train_end(self, trainer, pl_module) -> None:
        if self.finished:  # the rate the last step ended on, for ended_annealed and the logs
            for group in trainer.optimizers[0].param_groups:
                group["lr"] = 0.0

    def state_dict(self) -> dict:
        keys = ("best", "best_step", "wait", "above", "cool_steps", "cool_done", "start_lrs")
        return {k: getattr(self, k) for k in keys}

    def load_state_dict(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)


def cooldown_callback(share, patience: int, automatic: bool) -> PlateauCooldown | None:
    """The callback for train.cooldown=share (None when off, or for a family that steps its own
    optimisers: the GANs have no schedule to cool down)."""
    share = check_share(share)
    if share is None or not automatic:
        return None
    return PlateauCooldown(patience, share)
