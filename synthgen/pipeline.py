"""The stages as plain functions of the composed config: prepare, encode, train, generate, evaluate.

The CLI, the DVC stages and the tests all call these. Each stage computes its paths first
(RunPaths), so DDP processes started by Lightning see the same absolute paths. What differs
between tables and images lives in a modality handler (synthgen/modalities/); what is the same
(seeding, trainer, checkpoints, MLflow runs, staged atomic outputs) lives here, once.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import warnings

from omegaconf import DictConfig, OmegaConf

from synthgen import sizing, tracking, tracking_agent
from synthgen.errors import GateFailed, SynthgenError
from synthgen.modalities import family_targets, handler_for, modality_name, training_spec
from synthgen.paths import RunPaths
from synthgen.privacy import privacy_config

log = logging.getLogger("synthgen")
ANNEALED_SHARE = 0.05  # final rate / peak rate at or below which the final weights are exported


def _is_launcher() -> bool:
    """True in the process the user started (not in a DDP worker Lightning re-launched), and under
    torchrun or srun (trainer=multinode) only in global rank 0."""
    return all(os.environ.get(k, "0") == "0" for k in ("LOCAL_RANK", "NODE_RANK", "RANK", "SLURM_PROCID"))


def _locked(stage):
    """Run the stage holding the lock on paths.out_dir (synthgen/locking.py): a second run into a
    folder in use stops with one line instead of mixing its outputs with this one's."""

    @functools.wraps(stage)
    def run(cfg: DictConfig, *args, **kwargs):
        from synthgen.locking import out_dir_lock

        paths = RunPaths.from_config(cfg)
        with out_dir_lock(paths.out, stage.__name__):
            if _is_launcher():
                _recover(paths)
            return stage(cfg, *args, **kwargs)

    return run


def _recover(paths: RunPaths) -> None:
    """Under the lock: finish a folder swap a killed run interrupted, and drop its temporary names."""
    from synthgen.io import recover_dir, remove_stale_staging

    for d in (paths.prepared, paths.encoder_dir, paths.synthetic, paths.evaluation):
        recover_dir(d)
    remove_stale_staging(paths.out)


# ---- prepare / encode --------------------------------------------------------------------------
@_locked
def prepare(cfg: DictConfig) -> RunPaths:
    """Read and validate the input, infer the schema, split a holdout; write prepared/."""
    paths = RunPaths.from_config(cfg)
    handler_for(cfg, paths).prepare()
    return paths


@_locked
def encode(cfg: DictConfig) -> RunPaths:
    """Fit the encoder once on the training split; its state is JSON."""
    paths = RunPaths.from_config(cfg)
    handler_for(cfg, paths).encode()
    return paths


# ---- train -----------------------------------------------------------------------------------
@_locked
def train(cfg: DictConfig):
    """Fit the configured family with Lightning; export model.ckpt and log the run to MLflow."""
    # Only the launcher logs to MLflow (other ranks log nothing; under torchrun every rank starts at
    # once, and two processes creating one SQLite store race on its schema migration). Its helper
    # process opens the store while this one imports Lightning (synthgen/tracking_agent.py).
    agent = tracking_agent.shared() if _is_launcher() else None
    if agent:
        agent.send("prepare_model_log", cfg)
    import pytorch_lightning as pl
    import torch
    from hydra.utils import instantiate
    from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint

    from synthgen.agent_logger import AgentLogger
    from synthgen.checkpoint import export_generator
    from synthgen.cooldown import configured_share, cooldown_callback
    from synthgen.io import atomic_write_text
    from synthgen.progress import EpochLog, LossCurve, is_terminal

    paths = RunPaths.from_config(cfg)
    handler = handler_for(cfg, paths)
    torch.set_flush_denormal(True)  # denormals slow CPU training down as weights shrink
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    enc = handler.load_encoder()
    # The family's network and training settings for this modality (conf/model/<family>.yaml, overridden by
    # trainer.max_epochs, train.*); `auto` ones follow the table's rows, columns and vocabulary (synthgen/sizing.py)
    size = handler.table_size(enc)
    spec, training, rule = training_spec(cfg, size)
    pcfg = privacy_config(cfg)
    if pcfg.enabled and spec.get("_target_", "").rsplit(".", 1)[-1] in sizing.DP_FAMILIES:
        # larger expected batches at a fixed number of steps (synthgen/sizing.py, dp_schedule)
        spec, training, rule = sizing.apply_dp_schedule(
            spec, training, rule, size, _auto_schedule_keys(cfg), _dp_noise_for(pcfg, enc)
        )
    model = instantiate(spec, layout=enc.layout.to_dict(), _convert_="all")
    max_epochs, patience, val_share = training["epochs"], training["patience"], training["val_share"]
    if pcfg.enabled:
        if handler.name != "tabular":
            raise SynthgenError("privacy.epsilon is supported for tables only; set privacy.epsilon=null for images")
        val_share = 0.0  # under DP no real rows choose epochs or weights (synthgen/privacy/training.py)
    dm = handler.datamodule(enc, model, val_share)
    # one pass per epoch under DP: the accountant counts epochs x (rows / batch) Poisson steps
    dm.repeats = 1 if pcfg.enabled else int(training.get("repeats") or 1)

    resume = _resume_path(cfg, paths)
    if resume is None and _is_launcher():
        shutil.rmtree(paths.checkpoints, ignore_errors=True)  # a fresh run starts from nothing
    logger = AgentLogger(agent, cfg) if agent else False
    # best.ckpt: the lowest val_loss; last.ckpt: every epoch's end, for resuming (ModelCheckpoint's own
    # save_last writes last.ckpt only when it saves a new best, so resuming would repeat epochs).
    # train.cooldown (else the family's training.<modality>.cooldown): on a plateau, back to the best
    # weights and anneal to 0 instead of stopping there
    cooldown = cooldown_callback(configured_share(cfg, training), patience, model.automatic_optimization)
    callbacks = [
        ModelCheckpoint(dirpath=paths.checkpoints, filename="best", monitor="val_loss", save_top_k=1),
        ModelCheckpoint(dirpath=paths.checkpoints, filename="last", save_top_k=1),
        cooldown or EarlyStopping(monitor="val_loss", patience=patience),
        *handler.train_callbacks(enc),
    ]
    if not (cfg.trainer.enable_progress_bar and is_terminal()):  # a log file: one line per epoch instead
        callbacks.append(EpochLog(max_epochs))
    # Lightning refuses gradient clipping under manual optimisation (the GANs step their own optimisers).
    clip = cfg.trainer.gradient_clip_val if model.automatic_optimization else None
    extra, dp = {}, None
    if not model.automatic_optimization and str(cfg.trainer.strategy) == "ddp":
        # a GAN's critic step leaves the generator's weights out of its loss (and the generator step
        # the frozen critic's): DDP must look for unused weights, or its reducer stops the run
        extra["strategy"] = "ddp_find_unused_parameters_true"
    if pcfg.enabled:  # DP-SGD: per-sample clipping replaces clip; planned epochs, final weights
        from synthgen.privacy.training import DPCallback, PoissonDataModule, plan_training

        plan = plan_training(
            pcfg,
            enc.settings.get("privacy"),
            type(model).__name__,
            len(dm.train_set),
            len(dm.train_dataloader()),
            max_epochs,
            cfg.trainer,
        )
        dp = DPCallback(plan, cfg.seed)
        dm, clip = PoissonDataModule(dm, cfg.seed), None
        callbacks = [callbacks[1], dp]
        # the Poisson loader draws each rank's own rows under DDP: Lightning must not swap its sampler
        extra = {"limit_val_batches": 0, "num_sanity_val_steps": 0, "use_distributed_sampler": False}
    # per-epoch losses (DVC's loss plot), kept beside the resume checkpoints while training and
    # published next to the model when it is exported: a killed run never touches the old file
    callbacks.append(LossCurve(paths.checkpoints / "losses.csv"))
    trainer = instantiate(
        cfg.trainer,
        logger=logger,
        callbacks=callbacks,
        default_root_dir=str(paths.model_dir),
        max_epochs=max_epochs,
        gradient_clip_val=clip,
        **extra,
    )
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            trainer.fit(model, datamodule=dm, ckpt_path=resume)
    finally:  # the caller's process (a notebook, through synthgen.api) gets IEEE subnormals back
        torch.set_flush_denormal(False)
    if not trainer.is_global_zero:
        return None
    # Export the best validation checkpoint, except when training ended in the tail of its schedule
    # (schedules.adamw_warmup_cosine at or below ANNEALED_SHARE of its peak rate, whether it ran to 0
    # or early stopping ended it there): those final weights are the annealed ones the schedule aims
    # at, and a validation argmin epochs earlier may pick weights that are still noisy. On Adult
    # via the own-data command, early stopping at epoch 29 of 30 exported epoch 19: shape 0.978
    # against 0.994 for the final weights. Families without a schedule (the GANs) export the best.
    annealed = ended_annealed(trainer.optimizers) or bool(cooldown and cooldown.finished)
    best = callbacks[0].best_model_path
    if best and os.path.exists(best) and not annealed:
        model.load_state_dict(torch.load(best, map_location="cpu", weights_only=True)["state_dict"])
    calibration = _calibrate(model, dm, cfg.seed, pcfg.enabled)
    export_generator(model, spec, paths.model)
    curve = paths.checkpoints / "losses.csv"
    if curve.exists():
        atomic_write_text(paths.model_dir / "losses.csv", curve.read_text())
    settings = {"max_epochs": max_epochs, "patience": patience, "val_share": val_share, **calibration}
    entry = tracking.train_run_log(cfg, paths, logger.run_id, settings, rule) + _record_privacy(paths, dp)
    agent.call("finish_train_run", cfg, logger.run_id, entry, handler.name)
    log.info("trained %s for %d epochs; model at %s", type(model).__name__, trainer.current_epoch, paths.model)
    return paths


def _calibrate(model, dm, seed: int, private: bool) -> dict:
    """Refit a tabular transformer's head bias on its training rows (model.tabular.calibrate,
    synthgen/models/calibration.py): {"calibration_max_shift": the largest shift of a logit}, or {}
    where the model does not calibrate. Never under privacy.epsilon: it reads the real rows outside
    DP-SGD, which would spend privacy the accountant does not count."""
    if private or not getattr(model, "calibrate", False):
        return {}
    from synthgen.models.calibration import calibration_rows

    shift = model.calibrate_head_bias(calibration_rows(dm, len(model.head.bias), seed))
    largest = round(float(shift.abs().max()), 4) if len(shift) else 0.0
    log.info("refitted the head bias per column on the training rows: largest shift %.3f", largest)
    return {"calibration_max_shift": largest}


def _dp_noise_for(pcfg, enc):
    """noise_for(sample_rate, steps) for the DP schedule: the noise the training budget needs; None
    when the noise is set by hand or the encoder has no DP budget record (plan_training then refuses)."""
    from synthgen.privacy.training import training_noise

    record = enc.settings.get("privacy")
    if pcfg.noise_multiplier is not None or not record:
        return None
    return lambda q, steps: training_noise(pcfg.accountant, record, q, steps)


def _auto_schedule_keys(cfg: DictConfig) -> set:
    """Which of batch_size / epochs / lr / random_order_share the user left to the sizing rule (`auto`,
    no trainer.max_epochs)."""
    keys = set()
    for key in ("batch_size", "lr", "random_order_share"):
        if OmegaConf.select(cfg, f"model.tabular.{key}", default=None) == sizing.AUTO:
            keys.add(key)
    if OmegaConf.select(cfg, "trainer.max_epochs", default=None) is None and (
        OmegaConf.select(cfg, "model.training.tabular.epochs", default=None) == sizing.AUTO
    ):
        keys.add("epochs")
    return keys


def _record_privacy(paths: RunPaths, dp) -> tracking.RunLog:
    """model/privacy.json with the accountant's spend (removed after a run without DP); what MLflow gets."""
    from synthgen.privacy.training import clear_report, report_metrics, write_report

    if dp is None:
        clear_report(paths)
        return tracking.RunLog()
    report = dp.plan.report(dp.epsilon_spent(), dp.steps)
    write_report(paths, report)
    metrics = report_metrics(report)
    log.info(
        "differential privacy: epsilon %.3f of %g spent (delta %.3g, noise multiplier %.3f, %d steps)",
        report["epsilon_spent"],
        report["epsilon_requested"],
        report["delta"],
        report["noise_multiplier"],
        report["steps"],
    )
    return tracking.RunLog(tags={"synthgen.dp_accountant": metrics.pop("privacy.dp_accountant")}, metrics=metrics)


def ended_annealed(optimizers) -> bool:
    """True when every parameter group's rate is at most ANNEALED_SHARE of its scheduled peak
    (`initial_lr`, which a learning-rate scheduler records); False for optimizers without one."""
    return all(
        "initial_lr" in g and g["lr"] <= ANNEALED_SHARE * g["initial_lr"]
        for opt in optimizers
        for g in opt.param_groups
    )


def _resume_path(cfg: DictConfig, paths: RunPaths):
    if cfg.ckpt_path in (None, ""):
        return None
    p = paths.checkpoints / "last.ckpt" if cfg.ckpt_path == "last" else cfg.ckpt_path
    if not os.path.exists(p):
        raise SynthgenError(f"ckpt_path={cfg.ckpt_path}: no checkpoint at {p}; train once without ckpt_path")
    _check_checkpoint(p)
    return str(p)


def _check_checkpoint(path) -> None:
    """A Lightning checkpoint that loads (weights_only) and has weights; else one line before training starts."""
    import torch

    def load(p):
        state = torch.load(p, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or not isinstance(state.get("state_dict"), dict):
            raise ValueError("no state_dict")

    try:
        load(path)
    except Exception as e:  # noqa: BLE001  (truncated, empty, garbage, or not a checkpoint)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:160]
        raise SynthgenError(
            f"{path}: not a usable training checkpoint ({first}); rerun `synthgen train` without ckpt_path"
        ) from None


# ---- generate --------------------------------------------------------------------------------
@_locked
def generate(cfg: DictConfig):
    """Sample chunks through `trainer.predict`; the handler's writer writes each chunk atomically
    into a staging folder, which replaces <out>/synthetic (generate.out_dir) once the manifest is
    written; then the generate run is logged to MLflow."""
    from synthgen.export import check_format, export_table

    paths = RunPaths.from_config(cfg)
    if _is_launcher():
        tracking_agent.shared()  # opens MLflow while the model loads and samples (synthgen/tracking_agent.py)
    export = check_format(cfg.generate.get("export"))  # before sampling: a wrong value costs nothing
    if export and modality_name(cfg) != "tabular":
        raise SynthgenError(f"generate.export={export} writes tables; set generate.export=null for images")
    written = write_synthetic(cfg, paths)
    if written is None:  # a DDP worker
        return None
    handler, manifest = written
    if export:  # one CSV / Excel file beside the shards (synthgen/export.py)
        log.info("exported the synthetic rows to %s", export_table(paths.synthetic, export))
    metrics = {
        "generate.rows": manifest["rows"],
        "generate.files": len(manifest["files"]),
        **{f"generate.{k}": v for k, v in manifest.get("metrics", {}).items()},
    }
    tracking_agent.shared().call(
        "log_child_run",
        cfg,
        "generate",
        handler.generation_log(manifest) + tracking.RunLog(dicts={"manifest.json": manifest}, metrics=metrics),
    )
    log.info(
        "wrote %d synthetic %s in %d file(s) to %s",
        manifest["rows"],
        handler.unit,
        len(manifest["files"]),
        paths.synthetic,
    )
    return paths


def write_synthetic(cfg: DictConfig, paths: RunPaths):
    """The generate stage without MLflow (also what a served MLflow model runs): (handler, manifest),
    or None in a DDP worker."""
    import torch
    from hydra.utils import instantiate

    from synthgen.checkpoint import load_generator
    from synthgen.config import check_precision
    from synthgen.data import ChunkDataModule
    from synthgen.io import replace_dir
    from synthgen.progress import RowProgress

    precision = check_precision(cfg.generate.get("precision", "native"))
    handler = handler_for(cfg, paths)
    enc = handler.load_encoder()
    model = load_generator(paths.model, also_allowed=family_targets(cfg.model))  # the config's own family
    model.sample_precision = precision
    staging = paths.synthetic.with_name(f".{paths.synthetic.name}.partial")  # same path in every process
    plan = handler.generation(enc, staging)
    on = torch.device("cuda" if str(cfg.trainer.accelerator) in ("gpu", "cuda") else "cpu")  # where it will sample
    dtype = model.sampling_dtype(on)
    if dtype is not None:
        plan.info["precision"] = dtype  # the bytes depend on it (generate.precision)
    if _is_launcher():
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    # Progress in rows (RowProgress), not Lightning's bar, which counts chunks of 50,000 rows.
    trainer = instantiate(
        cfg.trainer,
        logger=False,
        callbacks=[plan.writer, RowProgress(plan.chunks, handler.unit)],
        use_distributed_sampler=False,
        enable_checkpointing=False,
        fast_dev_run=False,
        max_epochs=1,
        gradient_clip_val=None,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(paths.out),
    )
    try:
        trainer.predict(
            model, datamodule=ChunkDataModule(plan.chunks, plan.cond_for_chunk, cfg.seed), return_predictions=False
        )
        trainer.strategy.barrier()
        if not trainer.is_global_zero:
            return None
        manifest = handler.finish_generation(plan, staging)
        replace_dir(staging, paths.synthetic)
    except BaseException:
        if _is_launcher():  # nothing half-written stays behind; the old synthetic/ is untouched
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return handler, manifest


# ---- evaluate --------------------------------------------------------------------------------
@_locked
def evaluate(cfg: DictConfig) -> dict:
    """Score the synthetic set against train and holdout; write metrics.json, plots, report.html.

    Raises SynthgenError (non-zero exit) after writing, when the privacy gate fails.
    """
    result, passed, reason, paths = score(cfg)
    if not passed:
        why = reason.removeprefix("failed: ")
        raise GateFailed(
            f"privacy gate failed: {why} (see {paths.evaluation / 'report.html'}; the limits are evaluate.gate.*)"
        )
    return result


def score(cfg: DictConfig) -> tuple[dict, bool, str, RunPaths]:
    """The evaluate stage without raising on a failed gate: (result, gate passed, reason, paths).

    The scored set is <generate.out_dir> (default <out>/synthetic), or with synthetic.path a table
    from any tool; that one's MLflow run stands alone, not nested under this out dir's train run.
    """
    paths = RunPaths.from_config(cfg)
    handler = handler_for(cfg, paths)
    if paths.synthetic_file is not None and handler.name != "tabular":
        raise SynthgenError("synthetic.path scores tables; for another image set use generate.out_dir=<folder>")
    agent = tracking_agent.shared()  # opens MLflow while the evaluation runs
    result, passed, reason = handler.evaluate()
    foreign = paths.synthetic_file is not None
    tags = {
        "synthgen.synthetic": str(paths.synthetic_file if foreign else paths.synthetic),
        "synthgen.gate": "passed" if passed else f"failed: {reason}",
    }
    agent.call("log_evaluation", cfg, result, tags, passed, foreign)
    log.info("evaluation of %s in %s", paths.synthetic_file if foreign else paths.synthetic, paths.evaluation)
    return result, passed, reason, paths


STAGES = {"prepare": prepare, "encode": encode, "train": train, "generate": generate, "evaluate": evaluate}


@_locked
def run_all(cfg: DictConfig):
    """prepare -> encode -> train -> generate -> evaluate, in this process."""
    for name in ("prepare", "encode", "train", "generate"):
        STAGES[name](cfg)
    return evaluate(cfg)
