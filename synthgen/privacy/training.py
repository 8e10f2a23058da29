"""DP-SGD under Lightning: Opacus's per-sample gradient hooks, its DPOptimizer around the family's
own optimiser, Poisson-sampled batches, and an accountant that records every step.

The pipeline calls `plan_training` before `trainer.fit`: it reads the budget the encoder left
(encoder.json settings.privacy), derives the noise multiplier for the planned steps (or checks a
given one) and stops with one line when the accountant would exceed the budget. The returned
plan wraps the datamodule (Poisson sampling: every row joins a batch with probability
q = 1 / steps per epoch) and makes the callback that wraps the optimiser when fit starts.
Validation is off under DP (a validation split of real rows choosing epochs or weights would be
a release the accountant does not count); the run trains its planned epochs and keeps the final
weights.

Under DDP (trainer=ddp, Lightning's DDPStrategy, `trainer.strategy=ddp`) the plan is the one-process
plan: q and the steps come from the GLOBAL rows and model.tabular.batch_size, which under DP is the
global expected batch (Opacus's convention: its distributed loader keeps q = 1 / len(loader)). Each
rank Poisson-samples its own share of the rows (rank r: rows r, r + W, ...) with probability q from
its own stream, so the union of the ranks' batches is a Poisson batch of the whole table, as in one
process; Opacus's DistributedDPOptimizer clips per row on each rank, adds the noise on rank 0 only
(std noise_multiplier * max_grad_norm, once per global step), sums the ranks' gradients and divides
by the global expected batch. Every rank's accountant records the same (sigma, q) steps; rank 0
reports. So a W-process run spends exactly the epsilon of the same schedule on one process. Lightning's
own DDP wrapper stays (Opacus accepts torch DDP as well as its DPDDP: PrivacyEngine.make_private
treats both as distributed); its all-reduce of the unclipped mean gradient is overwritten by the
optimiser's clipped, noised one before the step, so nothing but that noised sum moves the weights.
The weights are NOT the same bytes at different world sizes (other Poisson draws, another summation
order); generating from a trained model still is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl

from synthgen import seeding
from synthgen.errors import SynthgenError
from synthgen.privacy import PrivacyConfig
from synthgen.privacy.dpsgd import dp_optimizer, poisson_loader
from synthgen.sizing import DP_FAMILIES  # one list for the DP schedule and the family check


@dataclass
class DPPlan:
    epsilon_total: float  # the whole budget (encoder + training)
    delta_total: float
    epsilon_encoder: float  # what the encoder's statistics spent (0 when every column is public)
    delta_encoder: float
    epsilon_training: float  # what training may spend
    delta_training: float
    noise_multiplier: float
    max_grad_norm: float
    sample_rate: float  # q: each row's chance to join a batch
    steps: int  # planned optimiser steps
    expected_batch_size: float
    accountant: str
    epsilon_training_planned: float  # the accountant's epsilon after `steps` steps

    def report(self, spent_training: float, steps_done: int) -> dict:
        """The spend as reported everywhere (model/privacy.json, manifest, metrics, MLflow)."""
        return {
            "epsilon_requested": self.epsilon_total,
            "delta": self.delta_total,
            "epsilon_spent": self.epsilon_encoder + spent_training,
            "epsilon_training": spent_training,
            "epsilon_encoder": self.epsilon_encoder,
            "delta_training": self.delta_training,
            "delta_encoder": self.delta_encoder,
            "noise_multiplier": self.noise_multiplier,
            "max_grad_norm": self.max_grad_norm,
            "sample_rate": self.sample_rate,
            "steps": steps_done,
            "expected_batch_size": self.expected_batch_size,
            "accountant": self.accountant,
        }


def make_accountant(name: str):
    from opacus.accountants import create_accountant

    return create_accountant(mechanism=name)


def epsilon_of(accountant: str, noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """The accountant's epsilon for `steps` Poisson-sampled Gaussian steps (Opacus's computation)."""
    acc = make_accountant(accountant)
    acc.history = [(noise_multiplier, sample_rate, steps)]
    return float(acc.get_epsilon(delta=delta))


def training_budget(encoder_privacy: dict) -> tuple[float, float]:
    """(epsilon, delta) left for training after the encoder's DP statistics."""
    return (
        encoder_privacy["epsilon_total"] - encoder_privacy["epsilon_spent"],
        encoder_privacy["delta_total"] - encoder_privacy["delta_spent"],
    )


def training_noise(accountant: str, encoder_privacy: dict, sample_rate: float, steps: int) -> float | None:
    """The noise multiplier that spends the training budget on `steps` Poisson steps at `sample_rate`
    (Opacus's search, to 1 % of epsilon); None when no noise is enough."""
    from opacus.accountants.utils import get_noise_multiplier

    eps_t, delta_t = training_budget(encoder_privacy)
    try:
        return float(
            get_noise_multiplier(
                target_epsilon=eps_t,
                target_delta=delta_t,
                sample_rate=sample_rate,
                steps=steps,
                accountant=accountant,
                epsilon_tolerance=0.01 * eps_t,
            )
        )
    except ValueError:
        return None


def plan_training(
    pcfg: PrivacyConfig,
    encoder_privacy: dict | None,
    family: str,
    n_train: int,
    steps_per_epoch: int,
    epochs: int,
    trainer_cfg,
) -> DPPlan:
    """Check the setting and derive the noise; every refusal is one SynthgenError line."""
    if family not in DP_FAMILIES:
        raise SynthgenError(
            f"privacy.epsilon is supported for model=transformer and model=vae on tables, "
            f"not {family}; pick one of those or set privacy.epsilon=null"
        )
    world = int(trainer_cfg.get("devices", 1) or 1) * int(trainer_cfg.get("num_nodes", 1) or 1)
    if world > 1 and trainer_cfg.get("strategy") != "ddp":
        # ddp_spawn and the like: only the launcher comes back from fit, without the ranks' accountant
        raise SynthgenError(
            f"privacy.epsilon on several processes needs trainer.strategy=ddp (trainer=ddp), "
            f"not {trainer_cfg.get('strategy')!r}"
        )
    if not encoder_privacy:
        raise SynthgenError(
            "the encoder was fitted without differential privacy; rerun `synthgen encode` with the same privacy.epsilon"
        )
    if not (
        math.isclose(encoder_privacy["epsilon_total"], pcfg.epsilon)
        and (pcfg.delta is None or math.isclose(encoder_privacy["delta_total"], pcfg.delta))
    ):
        raise SynthgenError(
            f"the encoder was fitted for privacy.epsilon={encoder_privacy['epsilon_total']:g}, "
            f"delta={encoder_privacy['delta_total']:g}; rerun `synthgen encode` with this budget"
        )
    eps_t, delta_t = training_budget(encoder_privacy)
    q = 1.0 / max(steps_per_epoch, 1)
    steps = epochs * max(steps_per_epoch, 1)
    if pcfg.noise_multiplier is None:
        sigma = training_noise(pcfg.accountant, encoder_privacy, q, steps)
        if sigma is None:
            raise SynthgenError(
                f"privacy.epsilon={pcfg.epsilon:g} is too small for {epochs} epochs of "
                f"{steps_per_epoch} steps; use fewer epochs or a larger batch"
            )
    else:
        sigma = float(pcfg.noise_multiplier)
    planned = epsilon_of(pcfg.accountant, sigma, q, steps, delta_t)
    if planned > eps_t:
        raise SynthgenError(
            f"the {pcfg.accountant} accountant would spend epsilon {planned:.3f} on training, "
            f"more than the {eps_t:.3f} left of privacy.epsilon={pcfg.epsilon:g}; raise "
            f"privacy.noise_multiplier (now {sigma:g}) or train fewer epochs"
        )
    return DPPlan(
        epsilon_total=float(pcfg.epsilon),
        delta_total=encoder_privacy["delta_total"],
        epsilon_encoder=encoder_privacy["epsilon_spent"],
        delta_encoder=encoder_privacy["delta_spent"],
        epsilon_training=eps_t,
        delta_training=delta_t,
        noise_multiplier=float(sigma),
        max_grad_norm=float(pcfg.max_grad_norm),
        sample_rate=q,
        steps=steps,
        expected_batch_size=n_train * q,
        accountant=pcfg.accountant,
        epsilon_training_planned=planned,
    )


class PoissonDataModule(pl.LightningDataModule):
    """The family's datamodule with Poisson-sampled training batches and no validation batches.
    The trainer runs with use_distributed_sampler=False so Lightning leaves the sampler alone."""

    def __init__(self, dm, seed: int):
        super().__init__()
        self.dm, self.seed = dm, seed

    def train_dataloader(self):
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        # the family's batch_size is the global expected batch: q = 1 / len(its loader)
        return poisson_loader(self.dm.train_dataloader(), self.seed, rank, world)


class DPCallback(pl.Callback):
    """Adds Opacus's per-sample gradient hooks at setup (before Lightning wraps the module in DDP,
    which must see the frozen parameters as frozen) and wraps the optimiser in Opacus's DPOptimizer
    (DistributedDPOptimizer under DDP) when fit starts; the accountant's history is part of the
    checkpoint, so a resumed run keeps counting."""

    def __init__(self, plan: DPPlan, seed: int):
        from opacus.accountants import create_accountant

        self.plan, self.seed = plan, seed
        self.accountant = create_accountant(mechanism=plan.accountant)
        self.gsm = None
        self._frozen: list = []

    def setup(self, trainer, pl_module, stage):
        from synthgen.privacy.grad_samplers import SynthgenGradSampleModule

        if stage != "fit" or self.gsm is not None:
            return
        # Parameters held by the top module itself (the transformer's BOS vector, redundant with its
        # first column query) stay at their initial values: Opacus would otherwise treat the whole
        # model as one layer.
        self._frozen = [p for p in pl_module.parameters(recurse=False) if p.requires_grad]
        for p in self._frozen:
            p.requires_grad_(False)
        if hasattr(pl_module, "per_sample_grads"):
            pl_module.per_sample_grads = True
        # strict=False: the layers' buffers are the token layout's index tensors, not data statistics.
        self.gsm = SynthgenGradSampleModule(pl_module, batch_first=True, loss_reduction="mean", strict=False)

    def on_fit_start(self, trainer, pl_module):
        (opt,) = trainer.strategy.optimizers
        g = seeding.torch_generator(seeding.DP_NOISE, self.seed, device=pl_module.device)  # rank 0's under DDP
        plan = self.plan
        dp = dp_optimizer(
            opt, plan.noise_multiplier, plan.max_grad_norm, plan.expected_batch_size, trainer.world_size, g
        )
        dp.attach_step_hook(
            self.accountant.get_optimizer_hook_fn(
                sample_rate=self.plan.sample_rate,
            )
        )
        trainer.strategy.optimizers = [dp]

    def teardown(self, trainer, pl_module, stage):
        if self.gsm is not None:
            self.gsm.remove_hooks()
            self.gsm = None
        for p in self._frozen:
            p.requires_grad_(True)
        if hasattr(pl_module, "per_sample_grads"):
            pl_module.per_sample_grads = False

    @property
    def steps(self) -> int:
        return sum(h[2] for h in self.accountant.history)

    def epsilon_spent(self) -> float:
        return float(self.accountant.get_epsilon(delta=self.plan.delta_training)) if self.steps else 0.0

    def state_dict(self):
        return {"history": [list(h) for h in self.accountant.history]}

    def load_state_dict(self, state_dict):
        self.accountant.history = [tuple(h) for h in state_dict.get("history", [])]


# ---- the spend on disk -----------------------------------------------------------------------------
def report_path(paths) -> Path:
    return Path(paths.model_dir) / "privacy.json"


def write_report(paths, report: dict) -> None:
    from synthgen.io import write_json

    write_json(report_path(paths), report)


def read_report(paths) -> dict | None:
    p = report_path(paths)
    return json.loads(p.read_text()) if p.exists() else None


def clear_report(paths) -> None:
    report_path(paths).unlink(missing_ok=True)


__all__ = ["DPPlan", "DPCallback", "PoissonDataModule", "plan_training", "epsilon_of"]


def report_metrics(report: dict) -> dict:
    """The spend as flat evaluation keys (privacy.dp_*); the accountant's name is the one string."""
    keys = (
        "epsilon_requested",
        "epsilon_spent",
        "epsilon_training",
        "epsilon_encoder",
        "delta",
        "noise_multiplier",
        "max_grad_norm",
        "sample_rate",
        "steps",
    )
    out = {f"privacy.dp_{k}": report[k] for k in keys if k in report}
    out["privacy.dp_accountant"] = report.get("accountant", "")
    return out
