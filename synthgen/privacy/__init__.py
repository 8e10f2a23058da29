"""Differential privacy for tables: one (epsilon, delta) budget that covers the whole path.

    privacy.epsilon=1 privacy.delta=1e-5      (delta null: min(1 / n^1.1, 1e-5), n training rows)

The budget is split by basic composition (the spends add up):
- the encoder's data-dependent state (category lists, numeric ranges, bin edges) gets
  `encoder_share` of epsilon and delta (synthgen/encoders/dp_stats.py); columns whose bounds or
  categories the user declares public (data.columns.<col>.bounds / .categories) spend nothing,
  and when every column is declared the training gets the whole budget;
- DP-SGD training (Opacus: per-sample clipping, Poisson sampling, an RDP or PRV accountant) gets
  the rest (synthgen/privacy/training.py); the noise multiplier follows from it, the epochs and
  the batch size. Batch size and epochs left `auto` follow the DP schedule (synthgen/sizing.py
  dp_schedule: at least DP_STEPS steps, the largest expected batch DP_EPOCHS passes allow), since
  the noise on the mean gradient is sigma / batch.
Nothing after training reads real rows: copy redraws (generate.redraw_copies) are off under DP.
The spend is written to model/privacy.json, then the manifest, metrics.json, the report and MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from synthgen.errors import SynthgenError, check_known_settings

ACCOUNTANTS = ("prv", "rdp")


@dataclass
class PrivacyConfig:
    epsilon: float | None = None  # None: no differential privacy
    delta: float | None = None  # None: min(1 / n^1.1, 1e-5) for n training rows
    max_grad_norm: float = 1.0  # per-sample gradient clipping norm
    accountant: str = "prv"  # prv (tighter) or rdp
    encoder_share: float = 0.1  # share of (epsilon, delta) for the encoder's statistics
    noise_multiplier: float | None = None  # None: derived from the budget; a number is checked against it

    @property
    def enabled(self) -> bool:
        return self.epsilon is not None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> "PrivacyConfig":
        raw = dict(raw or {})
        check_known_settings(raw, cls.__dataclass_fields__, "privacy")
        c = cls(**raw)
        if c.epsilon is not None and not (isinstance(c.epsilon, (int, float)) and c.epsilon > 0):
            raise SynthgenError(f"privacy.epsilon={c.epsilon!r} must be a positive number (or null for no DP)")
        if c.delta is not None and not (isinstance(c.delta, (int, float)) and 0 < c.delta < 1):
            raise SynthgenError(f"privacy.delta={c.delta!r} must lie in (0, 1); null: min(1/n^1.1, 1e-5)")
        if c.accountant not in ACCOUNTANTS:
            raise SynthgenError(f"privacy.accountant={c.accountant!r}; use one of {', '.join(ACCOUNTANTS)}")
        if not 0 < c.encoder_share < 1:
            raise SynthgenError(f"privacy.encoder_share={c.encoder_share!r} must lie strictly between 0 and 1")
        if not c.max_grad_norm > 0:
            raise SynthgenError(f"privacy.max_grad_norm={c.max_grad_norm!r} must be positive")
        if c.noise_multiplier is not None and not c.noise_multiplier > 0:
            raise SynthgenError(f"privacy.noise_multiplier={c.noise_multiplier!r} must be positive (or null)")
        return c

    def total_delta(self, n_rows: int) -> float:
        return float(self.delta) if self.delta is not None else min(1.0 / max(n_rows, 1) ** 1.1, 1e-5)


def privacy_config(cfg) -> PrivacyConfig:
    """The `privacy:` block of a composed config (absent: DP off)."""
    from omegaconf import OmegaConf

    raw = cfg.get("privacy") if hasattr(cfg, "get") else None
    return PrivacyConfig.from_mapping(OmegaConf.to_container(raw, resolve=True) if raw is not None else None)
