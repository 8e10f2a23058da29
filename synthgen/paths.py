"""Every artifact path of a run, made absolute once, before any DDP process starts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig


@dataclass(frozen=True)
class RunPaths:
    out: Path
    mlflow_dir: Path

    @classmethod
    def from_config(cls, cfg: DictConfig) -> "RunPaths":
        return cls(Path(cfg.paths.out_dir).resolve(), Path(cfg.paths.mlflow_dir).resolve())

    # prepare
    @property
    def prepared(self) -> Path:
        return self.out / "prepared"

    @property
    def train_table(self) -> Path:
        return self.prepared / "train.parquet"

    @property
    def holdout_table(self) -> Path:
        return self.prepared / "holdout.parquet"

    @property
    def schema(self) -> Path:
        return self.prepared / "schema.json"

    # encode
    @property
    def encoder_dir(self) -> Path:
        return self.out / "encoder"

    @property
    def encoder(self) -> Path:
        return self.encoder_dir / "encoder.json"

    # train
    @property
    def model_dir(self) -> Path:
        return self.out / "model"

    @property
    def checkpoints(self) -> Path:
        return self.model_dir / "checkpoints"

    @property
    def model(self) -> Path:
        return self.model_dir / "model.ckpt"

    @property
    def run_info(self) -> Path:
        return self.model_dir / "mlflow_run.json"

    # generate / evaluate
    @property
    def synthetic(self) -> Path:
        return self.out / "synthetic"

    @property
    def evaluation(self) -> Path:
        return self.out / "evaluation"

    # tracking
    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"
