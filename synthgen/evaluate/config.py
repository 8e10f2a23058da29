"""Evaluation settings: one small dataclass, Hydra-friendly (plain fields, nested gate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from synthgen.errors import SynthgenError, check_known_settings

TASKS = ("auto", "classification", "regression")


@dataclass
class GateConfig:
    """Privacy gate: a synthetic set that fails it should not be released."""

    enabled: bool = True
    dcr_share_max: float = 0.6  # share of synthetic rows closer to train than to holdout (ideal 0.5)
    dcr_noise_allowance: bool = True  # on a holdout under ~50 rows, judge the share against the limit
    # a generator reaches by chance there (privacy.dcr_share_noise_limit), where that is higher
    exact_copy_margin: float = 0.0  # allowed excess of synthetic exact-copy share over holdout's
    copy_noise_allowance: bool = True  # on a holdout under COPY_NOISE_ROWS rows, the holdout's share
    # plus twice its standard error where that is higher (gate.copy_limit)
    mia_auc_max: float | None = None  # fail when the membership attack's AUC is above this (0.5 is
    # chance); None: reported, not gating


@dataclass
class EvalConfig:
    target: str | None = None
    task: str = "auto"  # "auto" | "classification" | "regression"
    sensitive: list[str] = field(default_factory=list)
    bias_threshold_points: float = 5.0
    detection_folds: int = 5
    max_rows: int = 50_000  # each table is subsampled (seeded) to at most this many rows
    seed: int = 0
    # The two costly metrics look at fewer rows than max_rows: at 25,000 rows their sampling
    # error (~0.003) is already below the differences between generators worth reporting.
    detection_max_rows: int = 25_000  # per side (real, synthetic)
    dcr_max_rows: int = 25_000  # synthetic queries, and train/holdout reference rows each
    gate: GateConfig = field(default_factory=GateConfig)
    # From the schema: column groups that identify a person (checked for copies by the gate), and
    # what was done to each column that is not modelled (listed in the report).
    identifying: list[list[str]] = field(default_factory=list)
    # The entity key (schema.entity's column): the holdout holds whole entities, and so do the
    # train samples the DCR share compares it with
    entity: str | None = None
    treatment: dict[str, str] = field(default_factory=dict)
    # {limit name: [pass limit, warn limit]} over verdicts.DEFAULTS (synthgen/evaluate/verdicts.py)
    verdicts: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Hydra/OmegaConf hands nested groups over as mappings; accept them.
        if isinstance(self.gate, Mapping):
            self.gate = GateConfig(**dict(self.gate))
        self.sensitive = list(self.sensitive or [])
        from synthgen.evaluate.verdicts import limits

        self.verdicts = {k: list(v) for k, v in limits(self.verdicts).items()}  # checked here, once
        if self.task not in TASKS:
            raise SynthgenError(f"evaluate.task is '{self.task}'; use one of {', '.join(TASKS)}")
        if self.detection_folds < 2:
            raise SynthgenError(f"evaluate.detection_folds is {self.detection_folds}; use 2 or more")
        if self.max_rows < 10:
            raise SynthgenError(f"evaluate.max_rows is {self.max_rows}; use at least 10")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> "EvalConfig":
        raw = dict(raw or {})
        check_known_settings(raw, cls.__dataclass_fields__, "evaluate")
        return cls(**raw)
