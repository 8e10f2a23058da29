"""train.cooldown (synthgen/cooldown.py): on a validation plateau, back to the best weights, the
rate falls linearly to 0, then training stops. A real Lightning Trainer on a one-weight module whose
val_loss per round is scripted."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from synthgen.cooldown import PlateauCooldown, check_share, cooldown_callback
from synthgen.errors import SynthgenError

BATCHES, LR = 4, 0.1


class Scripted(pl.LightningModule):
    def __init__(self, val_losses: list[float]):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.val_losses = val_losses
        self.steps: list[tuple[float, float]] = []  # (rate used, w before the step) per step
        self.w_at_round: list[float] = []

    def training_step(self, batch, batch_idx):
        self.steps.append((self.trainer.optimizers[0].param_groups[0]["lr"], float(self.w.detach())))
        return ((self.w - 10) ** 2).sum()

    def validation_step(self, batch, batch_idx):
        self.w_at_round.append(float(self.w.detach()))
        self.log("val_loss", self.val_losses[self.current_epoch])

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=LR)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)  # the schedule would keep LR
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.zeros(BATCHES, 1)), batch_size=1)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.zeros(1, 1)), batch_size=1)


def fit(val_losses, patience=2, share=0.5, epochs=None, module=None, callbacks=()):
    module, cb = module or Scripted(val_losses), PlateauCooldown(patience, share)
    trainer = pl.Trainer(
        max_epochs=epochs or len(val_losses),
        callbacks=[cb, *callbacks],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module)
    return module, cb, trainer


def test_a_plateau_restores_the_best_round_and_anneals_the_rate_to_zero():
    # best after round 2 (12 steps); rounds 3 and 4 are worse -> patience 2 reached after round 4
    module, cb, trainer = fit([5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9])
    cool = round(0.5 * 12)
    assert cb.finished and cb.cool_steps == cool and cb.best_step == 12
    assert trainer.global_step == 20 + cool  # 5 rounds of 4 steps, then the cool-down, then stop
    rates = [lr for lr, _ in module.steps[20:]]
    assert rates == pytest.approx([LR * (1 - k / cool) for k in range(cool)])
    assert module.steps[20][1] == pytest.approx(module.w_at_round[2])  # the best round's weight is back
    assert module.steps[19][1] != pytest.approx(module.w_at_round[2])  # (it had moved on since)
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.0


def test_climbing_away_from_the_best_calls_the_plateau_before_the_patience():
    """val_loss more than 2 % above its best for 3 rounds in a row starts the cool-down from the best
    round at once; one within 2 % (or a streak broken by a round within it) waits out the patience."""
    losses = [5.0, 4.0, 3.0, 3.01, 3.1, 3.2, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7]
    module, cb, trainer = fit(losses, patience=20)
    # rounds 4, 5 climb, round 6 (3.0, not a new best) breaks the streak; 7, 8, 9 climb -> after round 9
    assert cb.finished and cb.best_step == 12 and cb.cool_steps == 6
    assert trainer.global_step == 10 * BATCHES + 6
    assert module.steps[40][1] == pytest.approx(module.w_at_round[2])
    wander = [5.0, 4.0, 3.0, 3.05, 3.06, 3.04, 3.06, 3.05, 3.03, 3.06]  # within 2 % of the best
    _, cb, trainer = fit(wander, patience=20)
    assert not cb.cooling and trainer.global_step == len(wander) * BATCHES


def test_without_a_plateau_the_run_is_untouched():
    module, cb, trainer = fit([5.0, 4.0, 3.0, 2.0, 1.0])
    assert not cb.cooling and not cb.finished
    assert trainer.global_step == 5 * BATCHES
    assert {lr for lr, _ in module.steps} == {LR}


def test_counters_survive_a_checkpoint_round_trip():
    _, cb, _ = fit([5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9])
    again = PlateauCooldown(2, 0.5)
    again.load_state_dict(cb.state_dict())
    assert again.state_dict() == cb.state_dict() and again.finished


@pytest.mark.parametrize("bad", [1.5, -0.1, "half", True])
def test_a_bad_share_is_a_one_line_error(bad):
    with pytest.raises(SynthgenError, match=r"train.cooldown=.*expected 0 \(off\) or a share") as e:
        check_share(bad)
    assert "\n" not in str(e.value)


def test_off_when_unset_or_zero_and_never_for_families_that_step_their_own_optimisers():
    assert cooldown_callback(None, 5, automatic=True) is None and cooldown_callback(0, 5, automatic=True) is None
    assert cooldown_callback(0.2, 5, automatic=False) is None
    assert isinstance(cooldown_callback(0.2, 5, automatic=True), PlateauCooldown)


def test_the_transformer_cools_down_by_default_and_train_cooldown_overrides_it():
    from synthgen.config import load_config
    from synthgen.cooldown import configured_share
    from synthgen.modalities import training_spec

    def share(*overrides):
        cfg = load_config(list(overrides))
        return configured_share(cfg, training_spec(cfg)[1])

    assert share("model=transformer") == 0.2 and share("model=vae") is None
    assert share("model=transformer", "train.cooldown=0") is None and share("model=vae", "train.cooldown=0.5") == 0.5


class ScriptedLosses(Scripted):
    """Logs its training loss as synthgen's models do: the epoch's mean, once, on its last batch."""

    from synthgen.models.base import Generator as _G

    log_train_losses, flush_train_losses = _G.log_train_losses, _G.flush_train_losses

    def __init__(self, val_losses):
        super().__init__(val_losses)
        self.batch_losses: list[tuple[int, float]] = []  # (epoch, loss) per step

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.batch_losses.append((self.current_epoch, float(loss.detach())))
        self.log_train_losses(1, train_loss=loss)
        return loss


class EpochTrainLoss(pl.Callback):
    def __init__(self):
        self.logged: list[float] = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.logged.append(float(trainer.callback_metrics["train_loss"]))


def test_a_cool_down_that_ends_within_a_round_logs_that_rounds_training_loss():
    """The cool-down stops after 6 steps: one full round and 2 of the next round's 4 batches. That
    last round's train_loss is the mean of its own 2 batches, not the round before's value."""
    losses, epochs = [5.0, 4.0, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9], EpochTrainLoss()
    module, _, trainer = fit(losses, module=ScriptedLosses(losses), callbacks=[epochs])
    assert trainer.global_step == 26 and len(epochs.logged) == 7  # rounds 0-5 full, round 6 cut at 2 steps
    for epoch, logged in enumerate(epochs.logged):
        mine = [loss for e, loss in module.batch_losses if e == epoch]
        assert len(mine) == (2 if epoch == 6 else BATCHES)
        assert logged == pytest.approx(sum(mine) / len(mine))
    assert epochs.logged[6] != pytest.approx(epochs.logged[5])
