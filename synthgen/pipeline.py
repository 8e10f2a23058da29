"""The stages as plain functions of the composed config: prepare, encode, train, generate, evaluate.

The CLI, the DVC stages and the tests all call these. Each stage computes its paths first
(RunPaths), so DDP processes started by Lightning see the same absolute paths.
"""
from __future__ import annotations

import logging
import os
import shutil
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from omegaconf import DictConfig, OmegaConf

from synthgen import tracking
from synthgen.errors import SynthgenError
from synthgen.io import read_table, staged_dir, write_parquet_atomic
from synthgen.paths import RunPaths
from synthgen.schema import TableSchema, infer_schema

log = logging.getLogger("synthgen")


def _is_launcher() -> bool:
    """True in the process the user started (not in a DDP worker Lightning re-launched)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def _to_container(node):
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


# ---- prepare ---------------------------------------------------------------------------------
def prepare(cfg: DictConfig) -> RunPaths:
    """Read and validate the input, infer the schema, split a holdout; write prepared/."""
    paths = RunPaths.from_config(cfg)
    table = read_table(cfg.data.path, cfg.data.max_rows)
    if cfg.data.holdout_path:
        holdout = _conform(read_table(cfg.data.holdout_path), table.schema, cfg.data.holdout_path)
        train = table
    else:
        share = float(cfg.data.holdout_share)
        if not 0 < share < 1:
            raise SynthgenError(f"data.holdout_share={share} must be between 0 and 1")
        perm = np.random.default_rng(cfg.seed).permutation(len(table))
        n_hold = max(1, int(round(len(table) * share)))
        holdout, train = table.take(np.sort(perm[:n_hold])), table.take(np.sort(perm[n_hold:]))
    schema = infer_schema(train, _to_container(cfg.data.columns), source=f"{cfg.data.path} (training split)")
    for col in ([cfg.data.target] if cfg.data.target is not None else []) + list(cfg.data.sensitive or []):
        schema.column(col)  # one-line error for an unknown column
    with staged_dir(paths.prepared) as d:
        write_parquet_atomic(train, d / "train.parquet")
        write_parquet_atomic(holdout, d / "holdout.parquet")
        schema.save(d / "schema.json")
    log.info("prepared %d train and %d holdout rows in %s", len(train), len(holdout), paths.prepared)
    return paths


def _conform(table: pa.Table, schema: pa.Schema, source) -> pa.Table:
    """The holdout must have the training columns; cast it to their types."""
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise SynthgenError(f"{source}: holdout lacks column(s) {missing} of the training table")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise SynthgenError(f"{source}: holdout columns do not match the training types ({e})") from None


# ---- encode ----------------------------------------------------------------------------------
def encode(cfg: DictConfig) -> RunPaths:
    """Fit the encoder once on the training table; its state is JSON."""
    from synthgen.encoders import TabularEncoder

    paths = RunPaths.from_config(cfg)
    schema = TableSchema.load(paths.schema)
    train = pq.read_table(paths.train_table)
    enc = TabularEncoder.fit(train, schema, **_to_container(cfg.encoder))
    with staged_dir(paths.encoder_dir) as d:
        enc.save(d / "encoder.json")
    log.info("encoder: %d modelled columns, vocabulary sizes %s", len(enc.layout.columns), enc.layout.cardinalities)
    return paths


# ---- train -----------------------------------------------------------------------------------
def train(cfg: DictConfig):
    """Fit the configured family with Lightning; export model.ckpt and log the run to MLflow."""
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from synthgen.checkpoint import export_generator
    from synthgen.data import TokenDataModule
    from synthgen.encoders import TabularEncoder

    paths = RunPaths.from_config(cfg)
    torch.set_flush_denormal(True)  # denormals slow CPU training down as weights shrink
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    enc = TabularEncoder.load(paths.encoder)
    tokens = enc.encode(pq.read_table(paths.train_table))
    model = instantiate(cfg.model, layout=enc.layout.to_dict(), _convert_="all")
    dm = TokenDataModule(tokens, model.batch_size, cfg.train.val_share, cfg.seed)

    resume = _resume_path(cfg, paths)
    if resume is None and _is_launcher():
        shutil.rmtree(paths.checkpoints, ignore_errors=True)  # a fresh run starts from nothing
    logger = tracking.lightning_logger(cfg, paths)
    callbacks = [ModelCheckpoint(dirpath=paths.checkpoints, filename="best", monitor="val_loss", save_top_k=1,
                                 save_last=True),
                 EarlyStopping(monitor="val_loss", patience=cfg.train.patience)]
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks, default_root_dir=str(paths.model_dir))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, datamodule=dm, ckpt_path=resume)
    if not trainer.is_global_zero:
        return None
    best = callbacks[0].best_model_path
    if best and os.path.exists(best):
        model.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    export_generator(model, _to_container(cfg.model), paths.model)
    run_id = logger.run_id
    tracking.write_run_info(paths, run_id)
    c = logger.experiment
    tracking.log_params(c, run_id, cfg)
    c.set_tag(run_id, tracking.PIPELINE_TAG, run_id)
    c.log_text(run_id, OmegaConf.to_yaml(cfg), "config.yaml")
    c.log_artifact(run_id, str(paths.encoder), "encoder")
    c.log_artifact(run_id, str(paths.schema), "encoder")
    if cfg.logger.log_checkpoint:
        c.log_artifact(run_id, str(paths.model), "model")
    log.info("trained %s for %d epochs; model at %s", type(model).__name__, trainer.current_epoch, paths.model)
    return paths


def _resume_path(cfg: DictConfig, paths: RunPaths):
    if cfg.ckpt_path in (None, ""):
        return None
    p = paths.checkpoints / "last.ckpt" if cfg.ckpt_path == "last" else cfg.ckpt_path
    if not os.path.exists(p):
        raise SynthgenError(f"ckpt_path={cfg.ckpt_path}: no checkpoint at {p}; train once without ckpt_path")
    return str(p)


# ---- generate --------------------------------------------------------------------------------
def generate(cfg: DictConfig):
    """Sample chunks through `trainer.predict` and write Parquet shards plus a manifest."""
    import torch
    from hydra.utils import instantiate

    from synthgen.checkpoint import load_generator
    from synthgen.data import ChunkDataModule, plan_chunks
    from synthgen.encoders import TabularEncoder
    from synthgen.generation import ShardWriter, write_manifest
    from synthgen.io import replace_dir

    paths = RunPaths.from_config(cfg)
    enc = TabularEncoder.load(paths.encoder)
    model = load_generator(paths.model)
    n_rows = int(cfg.generate.n_rows or enc.schema.n_rows)
    chunk_rows = int(cfg.generate.chunk_rows)
    if n_rows < 1 or chunk_rows < 1:
        raise SynthgenError("generate.n_rows and generate.chunk_rows must be positive")
    condition = _to_container(cfg.generate.condition) or {}
    cond = enc.condition_tokens(condition)
    C = len(enc.layout.columns)

    def cond_for_chunk(chunk, start, n):
        t = torch.full((n, C), -1, dtype=torch.long)
        for j, tok in cond.items():
            t[:, j] = tok
        return t

    chunks = plan_chunks(n_rows, chunk_rows)
    staging = paths.synthetic.with_name(f".{paths.synthetic.name}.partial")  # same path in every process
    if _is_launcher():
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    trainer = instantiate(cfg.trainer, logger=False, callbacks=[ShardWriter(staging, enc, cfg.seed)],
                          use_distributed_sampler=False, enable_checkpointing=False, fast_dev_run=False,
                          enable_progress_bar=cfg.trainer.enable_progress_bar, default_root_dir=str(paths.out))
    trainer.predict(model, datamodule=ChunkDataModule(chunks, cond_for_chunk, cfg.seed), return_predictions=False)
    trainer.strategy.barrier()
    if not trainer.is_global_zero:
        return None
    manifest = write_manifest(staging, chunks, cfg.seed, {"condition": condition})
    replace_dir(staging, paths.synthetic)
    c, run_id = tracking.start_child_run(cfg, paths, "generate")
    preview = pq.read_table(paths.synthetic / manifest["files"][0]["path"]).slice(0, 100).to_pandas()
    c.log_text(run_id, preview.to_csv(index=False), "synthetic_preview.csv")
    c.log_dict(run_id, manifest, "manifest.json")
    tracking.log_metrics(c, run_id, {"generate.rows": manifest["rows"], "generate.files": len(manifest["files"])})
    c.set_terminated(run_id)
    log.info("wrote %d synthetic rows in %d shard(s) to %s", manifest["rows"], len(chunks), paths.synthetic)
    return paths


# ---- evaluate --------------------------------------------------------------------------------
def evaluate(cfg: DictConfig) -> dict:
    """Score the synthetic set against train and holdout; write metrics.json, plots, report.html.

    Raises SynthgenError (non-zero exit) after writing, when the privacy gate fails.
    """
    from synthgen.evaluate import EvalConfig, check_gate, evaluate_tables, write_evaluation

    paths = RunPaths.from_config(cfg)
    schema = TableSchema.load(paths.schema)
    if not (paths.synthetic / "_manifest.json").exists():
        raise SynthgenError(f"no synthetic data at {paths.synthetic}; run `synthgen generate` first")
    train_df = pq.read_table(paths.train_table).to_pandas()
    holdout_df = pq.read_table(paths.holdout_table).to_pandas()
    synthetic_df = pq.read_table(paths.synthetic).to_pandas()
    ecfg = EvalConfig.from_mapping({**_to_container(cfg.evaluate), "target": cfg.data.target,
                                    "sensitive": list(cfg.data.sensitive or []), "seed": cfg.seed})
    kinds = schema.kinds()
    result = evaluate_tables(train_df, holdout_df, synthetic_df, kinds, ecfg)
    write_evaluation(result, train_df, holdout_df, synthetic_df, kinds, ecfg, paths.evaluation)
    c, run_id = tracking.start_child_run(cfg, paths, "evaluate")
    tracking.log_metrics(c, run_id, result)
    c.log_artifacts(run_id, str(paths.evaluation), "evaluation")
    passed, reason = check_gate(result, ecfg)
    c.set_tag(run_id, "synthgen.gate", "passed" if passed else f"failed: {reason}")
    c.set_terminated(run_id, "FINISHED" if passed else "FAILED")
    if not passed:
        raise SynthgenError(f"privacy gate failed: {reason} (see {paths.evaluation / 'report.html'})")
    return result


STAGES = {"prepare": prepare, "encode": encode, "train": train, "generate": generate, "evaluate": evaluate}


def run_all(cfg: DictConfig):
    """prepare -> encode -> train -> generate -> evaluate, in this process."""
    for name in ("prepare", "encode", "train", "generate"):
        STAGES[name](cfg)
    return evaluate(cfg)
