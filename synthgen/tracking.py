"""MLflow helpers: one SQLite store per project; train, generate and evaluate runs of one pipeline
run are grouped as children of the train run (tag `synthgen.pipeline_run` = train run id)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from synthgen.paths import RunPaths

PIPELINE_TAG = "synthgen.pipeline_run"
STAGE_TAG = "synthgen.stage"
FAMILY_TAG = "synthgen.family"  # gan, vae, transformer: a column of the runs list (synthgen/dashboard.py)


@dataclass
class RunLog:
    """What a stage or handler records on an MLflow run, as plain data; log_run writes it. Handlers
    and stages return these instead of calling MLflow, so the client never leaves this module."""

    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # non-numbers and NaN are left out
    texts: dict[str, str] = field(default_factory=dict)  # artifact file -> text
    dicts: dict[str, dict] = field(default_factory=dict)  # artifact file -> JSON-able dict
    images: dict[str, Any] = field(default_factory=dict)  # artifact file -> uint8 [H, W, 3] array
    artifacts: list[tuple[str, str]] = field(default_factory=list)  # (local file, artifact folder)

    def __add__(self, other: RunLog) -> RunLog:
        return RunLog(
            {**self.tags, **other.tags},
            {**self.metrics, **other.metrics},
            {**self.texts, **other.texts},
            {**self.dicts, **other.dicts},
            {**self.images, **other.images},
            [*self.artifacts, *other.artifacts],
        )


def log_run(c, run_id: str, entry: RunLog, params: dict[str, str] | None = None) -> None:
    """Write a RunLog (and `params`) on the run `run_id`: tags, metrics and params together in as
    few log_batch calls as MLflow's limits allow, then every artifact.

    Each call to the SQLite store loads the run with its params and tags first; a call per tag
    cost ~5 ms each on a run holding the config's 126 params. A generate child run (create, params,
    metrics, manifest, end) takes ~41 ms against ~45 logged call by call (medians of 7, 2 cores);
    its 126 params alone are ~20 ms of that."""
    from mlflow.entities import Param, RunTag

    log_batches(
        c,
        run_id,
        params=[Param(k, v) for k, v in (params or {}).items()],
        metrics=metric_entities(entry.metrics),
        tags=[RunTag(k, str(v)) for k, v in entry.tags.items()],
    )
    for name, text in entry.texts.items():
        c.log_text(run_id, text, name)
    for name, d in entry.dicts.items():
        c.log_dict(run_id, d, name)
    for name, image in entry.images.items():
        c.log_image(run_id, image, name)
    for local, folder in entry.artifacts:
        c.log_artifact(run_id, local, folder)


def train_run_log(cfg: DictConfig, paths: RunPaths, run_id: str, training: dict, rule: dict) -> RunLog:
    """The train run's record beyond Lightning's own metrics: the training settings actually used
    (max_epochs, patience, val_share; the sizing rule's plan when a key was `auto`), the composed
    config, the encoder and schema, and the model file (logger.log_checkpoint)."""
    tags = {f"synthgen.{k}": str(v) for k, v in training.items()}
    if rule:
        tags["synthgen.sizing"] = json.dumps(rule, sort_keys=True)
    tags[PIPELINE_TAG] = run_id
    artifacts = [(str(paths.encoder), "encoder"), (str(paths.schema), "encoder")]
    if cfg.logger.log_checkpoint:
        artifacts.append((str(paths.model), "model"))
    return RunLog(tags=tags, texts={"config.yaml": OmegaConf.to_yaml(cfg)}, artifacts=artifacts)


def finish_train_run(cfg: DictConfig, paths: RunPaths, run_id: str, entry: RunLog, modality: str) -> None:
    """After training, in the launcher: run_info.json names the pipeline's (train) run; the config as
    params, `entry`, and the pyfunc model (logger.log_model) go onto it."""
    c = client(cfg, paths)
    write_run_info(paths, run_id)
    log_run(c, run_id, entry, flat_params(cfg))
    log_model(cfg, paths, run_id, modality)


def _quiet():
    # MLflow's alembic migrations print INFO lines on every new store; keep the console readable.
    import logging

    for name in ("alembic", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
        logging.getLogger(name).setLevel(logging.WARNING)


def tracking_uri(cfg: DictConfig, paths: RunPaths) -> str:
    return cfg.logger.tracking_uri or paths.tracking_uri


def client(cfg: DictConfig, paths: RunPaths):
    _quiet()
    import mlflow
    from mlflow.tracking import MlflowClient

    paths.mlflow_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri(cfg, paths))  # so no call can fall back to ./mlflow.db
    return MlflowClient(tracking_uri=tracking_uri(cfg, paths))


# MLflow 3 opens an experiment without this tag in its GenAI view (traces, judges); this one is
# model training, whose runs list shows metric and param columns side by side.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(c, cfg: DictConfig, paths: RunPaths) -> str:
    from synthgen.dashboard import VIEW_TAG, view_tags  # the runs list's comparison columns

    tags = {**EXPERIMENT_KIND, **view_tags()}
    exp = c.get_experiment_by_name(cfg.logger.experiment_name)
    if exp is not None:  # a kind someone chose is kept; our view follows this version's columns
        for key, value in tags.items():
            if key not in exp.tags or (key == VIEW_TAG and exp.tags[key] != value):
                c.set_experiment_tag(exp.experiment_id, key, value)
        return exp.experiment_id
    return c.create_experiment(cfg.logger.experiment_name, artifact_location=paths.artifact_root.as_uri(), tags=tags)


def log_headline(c, paths: RunPaths, result: dict) -> None:
    """The headline figures also on the pipeline's top-level (train) run, so the runs list compares
    pipeline runs in one row each; the evaluate child keeps every figure."""
    parent = read_run_info(paths)
    if parent:
        from synthgen.evaluate.headline import TRACKED

        log_metrics(c, parent, {k: result[k] for k in TRACKED if k in result})


PID_TAG, HOST_TAG = "synthgen.pid", "synthgen.host"
OWNER_PID: int | None = None  # in MLflow's helper process (synthgen/tracking_agent.py): the process it serves


def owner_pid() -> int:
    """The process whose runs these are: this one, or the one a tracking helper serves."""
    return OWNER_PID or os.getpid()


def owner_tags() -> dict:
    """The process that owns a run: a run still RUNNING whose process is gone was killed."""
    import socket

    return {PID_TAG: str(owner_pid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_stale_runs(c, exp_id: str) -> list[str]:
    """Runs of this host left RUNNING by a process that no longer exists (a kill -9, a lost node's
    launcher) -> KILLED. A run whose pid is alive is left alone (it may be running now)."""
    import socket

    host = socket.gethostname()
    stale = []
    runs = c.search_runs(
        [exp_id], filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'", max_results=1000
    )
    for run in runs:
        pid = run.data.tags.get(PID_TAG, "")
        if pid.isdigit() and int(pid) != owner_pid() and not _alive(int(pid)):
            c.set_terminated(run.info.run_id, "KILLED")
            c.set_tag(run.info.run_id, "synthgen.note", f"marked KILLED: its process {pid} had ended")
            stale.append(run.info.run_id)
    return stale


def flat_params(cfg: DictConfig) -> dict[str, str]:
    """The whole resolved config as dotted keys (MLflow params are flat strings)."""
    out = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            if not node and prefix:
                out[prefix[:-1]] = "{}"
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = str(node)[:6000]

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return out


def warm() -> None:
    """Import MLflow's client and its SQLite store (what the first client() call would otherwise pay)."""
    import mlflow  # noqa: F401
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore  # noqa: F401
    from mlflow.tracking import MlflowClient  # noqa: F401


def prepare_model_log(cfg: DictConfig, paths: RunPaths) -> None:
    """Before training, where the generator will be logged as a pyfunc model (logger.log_model): build
    the map MLflow's log_model checks the model's requirements against. It reads every installed
    distribution (importlib.metadata.packages_distributions: 0.5-0.6 s of the 1.0-1.1 s that finishing
    star98's train run took) and MLflow keeps it for the process, so the helper builds it beside the
    training instead of while the training process waits. A private MLflow function: without it,
    log_model builds the map itself."""
    if cfg.logger.get("log_model", False):
        from mlflow.utils import requirements_utils

        getattr(requirements_utils, "_init_packages_to_modules_map", lambda: None)()


def open_train_run(cfg: DictConfig, paths: RunPaths) -> str:
    """The train run, started (RUNNING) on our SQLite store as Lightning's MLflow logger starts one: in
    the experiment logger.experiment_name (created with our artifact root), with MLflow's context
    tags (user, source, git commit); its id. Runs a killed process left RUNNING are marked KILLED
    first. The train run becomes the pipeline's parent."""
    from mlflow.tracking.context.registry import resolve_tags
    from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

    c = client(cfg, paths)
    exp = experiment_id(c, cfg, paths)
    mark_stale_runs(c, exp)
    tags = {
        STAGE_TAG: "train",
        FAMILY_TAG: _family_key(cfg),
        **owner_tags(),
        MLFLOW_RUN_NAME: f"train-{cfg.data.name}-{_family(cfg)}",
    }
    return c.create_run(exp, tags=resolve_tags(tags)).info.run_id


def log_params(cfg: DictConfig, paths: RunPaths, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    log_batches(client(cfg, paths), run_id, params=[Param(k, v) for k, v in params.items()])


def log_step_metrics(cfg: DictConfig, paths: RunPaths, run_id: str, metrics: dict, step: int, at_ms: int) -> None:
    """Metrics of one training step (keys as MLflow takes them), stamped when the owner logged them."""
    from mlflow.entities import Metric

    log_batches(client(cfg, paths), run_id, metrics=[Metric(k, float(v), at_ms, step) for k, v in metrics.items()])


def log_image(cfg: DictConfig, paths: RunPaths, run_id: str, image, name: str) -> None:
    client(cfg, paths).log_image(run_id, image, name)


def terminate_run(cfg: DictConfig, paths: RunPaths, run_id: str, status: str) -> None:
    client(cfg, paths).set_terminated(run_id, status)


def _family_key(cfg: DictConfig) -> str:
    """The family as `model=` names it (gan, vae, transformer)."""
    from synthgen.modalities import family_label

    return family_label(cfg.model)


def _family(cfg: DictConfig) -> str:
    from synthgen.modalities import family_name

    return family_name(cfg)


def start_child_run(cfg: DictConfig, paths: RunPaths, stage: str, nested: bool = True) -> tuple:
    """A run for generate/evaluate, nested under the train run that made the model (if known and
    `nested`). The caller logs the config as params (log_run's `params`: flat_params(cfg))."""
    c = client(cfg, paths)
    tags = {STAGE_TAG: stage, **owner_tags()}
    parent = read_run_info(paths) if nested else None
    if parent:
        tags.update({"mlflow.parentRunId": parent, PIPELINE_TAG: parent})
    exp = experiment_id(c, cfg, paths)
    mark_stale_runs(c, exp)
    run = c.create_run(exp, run_name=f"{stage}-{cfg.data.name}-{_family(cfg)}", tags=tags)
    return c, run.info.run_id


def log_evaluation(cfg: DictConfig, paths: RunPaths, result: dict, tags: dict, passed: bool, foreign: bool) -> None:
    """The evaluate run: a child of the train run unless it scored a `foreign` set; the figures, the
    config as params, the evaluation folder; the headline also on the train run when it scored the
    pipeline's own set. FINISHED when the gate passed, else FAILED."""
    c, run_id = start_child_run(cfg, paths, "evaluate", nested=not foreign)
    log_run(c, run_id, RunLog(tags=tags, metrics=result), flat_params(cfg))
    if not foreign and paths.synthetic == paths.out / "synthetic":  # the pipeline's own set
        log_headline(c, paths, result)
    c.log_artifacts(run_id, str(paths.evaluation), "evaluation")
    c.set_terminated(run_id, "FINISHED" if passed else "FAILED")


def log_child_run(cfg: DictConfig, paths: RunPaths, stage: str, entry: RunLog) -> None:
    """A finished child run of `stage` (see start_child_run) holding `entry` and the config as params."""
    c, run_id = start_child_run(cfg, paths, stage)
    log_run(c, run_id, entry, flat_params(cfg))
    c.set_terminated(run_id)


# MLflow's log_batch limits (mlflow.utils.validation): params and tags 100 each, metrics 1,000,
# entities 1,000 a call, and a tracking server takes requests of at most 1 MB (BATCH_BYTES keeps
# the keys and values of one call under it, with room for the encoding)
BATCH_PARAMS_TAGS, BATCH_METRICS, BATCH_ENTITIES, BATCH_BYTES = 100, 1000, 1000, 500_000


def log_batches(c, run_id: str, params=(), metrics=(), tags=()) -> None:
    """Log MLflow entities (Param, Metric, RunTag lists) in the fewest log_batch calls the limits allow."""
    from collections import deque

    queues = {"params": deque(params), "tags": deque(tags), "metrics": deque(metrics)}
    caps = {"params": BATCH_PARAMS_TAGS, "tags": BATCH_PARAMS_TAGS, "metrics": BATCH_METRICS}
    while any(queues.values()):
        batch, count, size = {k: [] for k in queues}, 0, 0
        for kind, queue in queues.items():
            while queue and len(batch[kind]) < caps[kind] and count < BATCH_ENTITIES:
                item = queue[0]
                cost = len(item.key) + len(str(item.value)) + 64
                if count and size + cost > BATCH_BYTES:
                    break
                batch[kind].append(queue.popleft())
                count, size = count + 1, size + cost
        c.log_batch(run_id, **batch)


def metric_entities(metrics: dict, step: int = 0) -> list:
    """MLflow Metric entities of the numbers in `metrics` (non-numbers and NaN left out; '/' -> '_')."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    return [
        Metric(k.replace("/", "_"), float(v), now, step)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and v == v
    ]


def log_metrics(c, run_id: str, metrics: dict, step: int = 0) -> None:
    log_batches(c, run_id, metrics=metric_entities(metrics, step))


def write_run_info(paths: RunPaths, run_id: str) -> None:
    from synthgen.io import write_json

    write_json(paths.run_info, {"run_id": run_id})


def read_run_info(paths: RunPaths) -> str | None:
    p = Path(paths.run_info)
    return json.loads(p.read_text())["run_id"] if p.exists() else None


def ui_command(paths: RunPaths, port: int = 5000) -> list[str]:
    import shutil
    import sys

    local = Path(sys.executable).with_name("mlflow")  # the one installed beside this Python
    exe = str(local) if local.exists() else (shutil.which("mlflow") or "mlflow")
    return [
        exe,
        "ui",
        "--backend-store-uri",
        paths.tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]


def ui_env() -> dict:
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def log_model(cfg: DictConfig, paths: RunPaths, run_id: str, modality: str) -> str | None:
    """The generator as an MLflow pyfunc model on the train run (tables; logger.log_model), registered
    as logger.registered_model (null: not registered). Returns the registered version or None."""
    import logging

    if not cfg.logger.get("log_model", False) or modality != "tabular":
        return None
    import warnings

    with warnings.catch_warnings():  # MLflow advises type hints on predict when the class is defined
        warnings.simplefilter("ignore")
        from synthgen.mlflow_model import log_generator

    for name in ("mlflow.models", "mlflow.pyfunc", "mlflow.tracking._model_registry", "mlflow.store"):
        logging.getLogger(name).setLevel(logging.WARNING)  # "Registered model ... created" etc.
    client(cfg, paths)  # sets the tracking URI that mlflow.start_run uses
    version = log_generator(cfg, paths, run_id, cfg.logger.get("registered_model"))
    if version is not None:
        logging.getLogger("synthgen").info(
            "registered the generator as models:/%s/%s", cfg.logger.registered_model, version
        )
    return version
