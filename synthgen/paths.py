"""Every artifact path of a run, made absolute once, before any DDP process starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig


@dataclass(frozen=True)
class RunPaths:
    out: Path
    mlflow_dir: Path
    synthetic_dir: Path | None = None  # generate.out_dir (null: <out>/synthetic)
    evaluation_dir: Path | None = None  # evaluate.out_dir (null: see `evaluation`)
    synthetic_file: Path | None = None  # synthetic.path: a table from any tool, scored by evaluate

    @classmethod
    def from_config(cls, cfg: DictConfig) -> "RunPaths":
        def opt(node, key):
            value = node.get(key) if node is not None else None
            return Path(value).resolve() if value not in (None, "") else None

        return cls(
            Path(cfg.paths.out_dir).resolve(),
            Path(cfg.paths.mlflow_dir).resolve(),
            opt(cfg.get("generate"), "out_dir"),
            opt(cfg.get("evaluate"), "out_dir"),
            opt(cfg.get("synthetic"), "path"),
        )

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
        return self.synthetic_dir or self.out / "synthetic"

    @property
    def evaluation(self) -> Path:
        """evaluate.out_dir if set; else the scored set's own: <out>/evaluation for the default set,
        <generate.out_dir>-evaluation for another generated set, <out>/evaluation-<file stem> for
        synthetic.path, so scoring another set never overwrites the DVC-tracked evaluation."""
        if self.evaluation_dir is not None:
            return self.evaluation_dir
        if self.synthetic_file is not None:
            return self.out / f"evaluation-{self.synthetic_file.stem}"
        if self.synthetic_dir is not None and self.synthetic_dir != self.out / "synthetic":
            return self.synthetic_dir.with_name(self.synthetic_dir.name + "-evaluation")
        return self.out / "evaluation"

    # tracking
    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"
