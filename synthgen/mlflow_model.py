"""The trained generator as an MLflow pyfunc model, logged on the train run and registered.

    mlflow.pyfunc.load_model("models:/synthgen-adult/1").predict(
        pd.DataFrame({"n_rows": [1000]}), params={"seed": 1, "conditions": '{"sex": "Female"}'})
    mlflow models serve -m models:/synthgen-adult/1 --env-manager local --host 127.0.0.1
    curl -d '{"dataframe_records": [{"n_rows": 5, "seed": 1}]}' -H 'Content-Type: application/json' \\
         http://127.0.0.1:5000/invocations

Input: one row with n_rows (required), seed and conditions (a JSON object {column: value});
params of the same names are used where the row leaves them out. Output: n_rows synthetic rows,
the same as `synthgen generate` writes for that seed and those conditions, except that the copy
guard is off (the training rows are not part of the model). Artifacts: model.ckpt, encoder.json,
schema.json and the run's config.yaml; sampling needs synthgen installed where the model is loaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import uuid
import warnings
from pathlib import Path

import mlflow.pyfunc
import pandas as pd

DEFAULTS = {"n_rows": 100, "seed": 0, "conditions": ""}
ARTIFACT_PATH = "generator"


class SynthgenModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        # An out dir laid out as the pipeline's, which write_synthetic reads.
        self.root = Path(tempfile.mkdtemp(prefix="synthgen-model-"))
        a = context.artifacts
        for key, rel in (
            ("model", "model/model.ckpt"),
            ("encoder", "encoder/encoder.json"),
            ("schema", "prepared/schema.json"),
        ):
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(a[key], self.root / rel)
        from omegaconf import OmegaConf

        self.config_text = Path(a["config"]).read_text(encoding="utf-8")
        OmegaConf.create(self.config_text)  # fails here, at load, if unreadable

    # model_input typed as a DataFrame: MLflow then neither wraps predict nor warns, at every import of
    # this module, that a predict without type hints gets no data validation (the signature below does it)
    def predict(self, context, model_input: pd.DataFrame, params=None):
        import pyarrow.parquet as pq
        from omegaconf import OmegaConf

        from synthgen import pipeline
        from synthgen.errors import SynthgenError
        from synthgen.paths import RunPaths

        values = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
        if isinstance(model_input, pd.DataFrame) and len(model_input):
            first = model_input.iloc[0]
            values.update({k: first[k] for k in DEFAULTS if k in model_input.columns and pd.notna(first[k])})
        conditions = values["conditions"]
        if isinstance(conditions, str):
            try:
                conditions = json.loads(conditions) if conditions.strip() else {}
            except json.JSONDecodeError:
                raise SynthgenError(
                    f'conditions={conditions!r}: give a JSON object, e.g. {{"sex": "Female"}}'
                ) from None
        out = self.root / "requests" / uuid.uuid4().hex
        cfg = OmegaConf.create(self.config_text)
        cfg.paths.out_dir = str(self.root)
        cfg.generate.n_rows = int(values["n_rows"])
        cfg.seed = int(values["seed"])
        cfg.generate.condition = dict(conditions or {})
        cfg.generate.condition_file = None
        cfg.generate.redraw_copies = False
        cfg.trainer.enable_progress_bar = False
        OmegaConf.update(cfg, "generate.out_dir", str(out / "synthetic"), force_add=True)
        try:
            from synthgen.api import quiet

            with quiet():
                pipeline.write_synthetic(cfg, RunPaths.from_config(cfg))
            return pq.read_table(out / "synthetic").to_pandas()
        finally:
            shutil.rmtree(out, ignore_errors=True)


def signature(train_head):
    """Input {n_rows, seed, conditions} (a row and/or params); output: the training table's columns."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("long", "n_rows"),
            ColSpec("long", "seed", required=False),
            ColSpec("string", "conditions", required=False),
        ]
    )
    sig = infer_signature(model_input=train_head.head(1), model_output=train_head, params=DEFAULTS)
    return ModelSignature(inputs=inputs, outputs=sig.outputs, params=sig.params)


def _first_rows(table_path: Path, n: int):
    """The first n rows of a Parquet file or of the first part of a folder, decoding one batch: a
    streamed training table is never read whole (dataset.head read ahead 1.2 GB at 50M rows)."""
    import itertools

    import pyarrow as pa
    import pyarrow.parquet as pq

    path = min(Path(table_path).glob("*.parquet")) if Path(table_path).is_dir() else table_path
    from synthgen.io import decoded

    with pq.ParquetFile(path) as pf:
        head = pa.Table.from_batches(list(itertools.islice(pf.iter_batches(batch_size=n), 1)), schema=pf.schema_arrow)
    return decoded(head)


def log_generator(cfg, paths, run_id: str, registered_name: str | None) -> str | None:
    """Log the pyfunc model on the (finished) train run; register it under `registered_name`
    (None: not registered). Returns the registered version, or None."""
    import mlflow
    from omegaconf import OmegaConf

    head = _first_rows(paths.train_table, 5).to_pandas()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow_log = logging.getLogger("mlflow")
    level = mlflow_log.level
    mlflow_log.setLevel(logging.ERROR)  # the CloudPickle and type-hint advice, for this call
    # MLflow prints "Successfully registered model ..." and warns about type hints and input examples.
    with (
        tempfile.TemporaryDirectory() as tmp,
        warnings.catch_warnings(),
        _restore_level(mlflow_log, level),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        config = Path(tmp) / "config.yaml"
        config.write_text(OmegaConf.to_yaml(cfg), encoding="utf-8")
        with mlflow.start_run(run_id=run_id):
            info = mlflow.pyfunc.log_model(
                name=ARTIFACT_PATH,
                python_model=SynthgenModel(),
                artifacts={
                    "model": str(paths.model),
                    "encoder": str(paths.encoder),
                    "schema": str(paths.schema),
                    "config": str(config),
                },
                signature=signature(head),
                pip_requirements=["synthgen"],
                registered_model_name=registered_name or None,
            )
    return str(info.registered_model_version) if registered_name else None


@contextlib.contextmanager
def _restore_level(logger, level):
    try:
        yield
    finally:
        logger.setLevel(level)
