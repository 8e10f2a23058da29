"""The Python API: the CLI's stages, config, artifacts and MLflow runs, from a notebook.

    import synthgen
    synth = synthgen.Synthesizer(model="transformer", trainer={"max_epochs": 5}).fit(df, target="income")
    rows = synth.sample(1000, conditions={"sex": "Female"}, seed=1)       # a pandas DataFrame
    synth.save("my_model")                                              # Synthesizer.load("my_model")
    result = synthgen.evaluate(df, rows, holdout=holdout_df, target="income")
    result.verdicts, result.passed, result.metrics["fidelity.shape"]; result.to_html("report.html")

Images the same way (synthgen/api_images.py): arrays or a folder in, arrays or PNGs out.

    synth = synthgen.Synthesizer(model="vae").fit(images, labels)      # uint8 [N, H, W(, C)] or a folder
    fake, fake_labels = synth.sample(100, conditions={"label": 3}, seed=1, out_dir="fake")

A Synthesizer is one out dir (default outputs/api/<time>-<model>) laid out as the CLI's
(prepared/, encoder/, model/, evaluation/) and one MLflow pipeline run in the config's store
(mlruns/ by default), so `synthgen ui` shows API and CLI runs side by side. Keyword arguments are
config overrides: `seed=1`, `trainer={"max_epochs": 5}` and `trainer__max_epochs=5` are the same
as `seed=1 trainer.max_epochs=5` on the command line (`synthgen compose` lists every key).
Lightning's banners and tips are silenced (verbose=True keeps them); the progress bar shows in
notebooks and terminals.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from synthgen.errors import SynthgenError

GROUPS = ("data", "model", "trainer", "logger", "paths", "experiment")  # config groups: choices, not values
SAVED_CONFIG = "synthgen.yaml"  # the resolved config in a saved Synthesizer folder


# ---- config overrides from Python values -----------------------------------------------------------------
def _flatten(values: dict, prefix: str = "") -> list[tuple[str, object]]:
    """{"trainer": {"max_epochs": 3}, "model__tabular__d_model": 16}
    -> [("trainer.max_epochs", 3), ("model.tabular.d_model", 16)]."""
    out = []
    for key, value in values.items():
        key = prefix + str(key).replace("__", ".")
        if isinstance(value, dict) and value:
            out.extend(_flatten(value, key + "."))
        else:
            out.append((key, value))
    return out


def _hydra_value(value) -> str:
    """A Python value as Hydra override text; strings are quoted so '30' stays a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_hydra_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, Path):
        value = str(value)
    text = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def overrides_from(values: dict) -> list[str]:
    out = []
    for key, value in _flatten(values):
        if key in GROUPS:
            if not isinstance(value, str) or not re.fullmatch(r"[\w\-/]+", value):
                raise SynthgenError(f"{key}={value!r}: a config group takes a name, e.g. model='vae'")
            out.append(f"{key}={value}")
        else:
            out.append(f"{key}={_hydra_value(value)}")
    return out


def _compose(values: dict, extra: list[str] = ()) -> DictConfig:
    from synthgen.config import load_config

    return load_config(overrides_from(values) + list(extra))


def _set(cfg: DictConfig, key: str, value) -> None:
    """Set one key of a composed config to a plain Python value (condition values keep their type)."""
    OmegaConf.set_struct(cfg, False)
    try:
        OmegaConf.update(cfg, key, value, merge=False)
    finally:
        OmegaConf.set_struct(cfg, True)


# ---- quiet runs -------------------------------------------------------------------------------------------
_LIGHTNING_LOGGERS = ("pytorch_lightning", "lightning", "lightning_fabric", "lightning.pytorch", "alembic", "mlflow")


@contextlib.contextmanager
def quiet(verbose: bool = False):
    """Lightning's banners ("GPU available", tips, the model summary) and warnings off for the call."""
    if verbose:
        yield
        return
    import pytorch_lightning  # noqa: F401  (sets its loggers to INFO on import; lowered below)

    saved = {n: logging.getLogger(n).level for n in _LIGHTNING_LOGGERS}
    for n in _LIGHTNING_LOGGERS:
        logging.getLogger(n).setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"(pytorch_)?lightning.*")
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*does not have many workers.*")
            yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


def _show_progress() -> bool:
    """A bar where someone watches it: a notebook (ipykernel) or a terminal; log lines elsewhere."""
    return "ipykernel" in sys.modules or sys.stderr.isatty()


@contextlib.contextmanager
def _cleanup_on_error(folder: Path):
    """Bad input leaves nothing behind: a folder this call created is removed if the call fails."""
    existed = folder.exists()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _fresh_dir(root: str | Path, label: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return (Path(root) / f"{stamp}-{label}-{uuid.uuid4().hex[:6]}").resolve()


def _table_input(data, where: Path, name: str, what: str) -> str:
    """A DataFrame is written as Parquet under `where` (the out dir's input/); a path is used as it is."""
    import pandas as pd

    if isinstance(data, (str, Path)):
        if not Path(data).exists():
            raise SynthgenError(f"{what}: file not found: {data}")
        return str(Path(data).resolve())
    if isinstance(data, pd.DataFrame):
        from synthgen.io import table_from_pandas, write_parquet_atomic

        table = table_from_pandas(data, source=f"{what} DataFrame")
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"{name}.parquet"
        write_parquet_atomic(table, path)
        return str(path)
    raise SynthgenError(
        f"{what}: expected a pandas DataFrame or a .parquet/.csv path (images: a numpy array or an image "
        f"folder), got {type(data).__name__}"
    )


def _data_overrides(data, holdout, target, sensitive, columns, name, input_dir: Path) -> dict:
    from synthgen.compressed import table_stem  # tips.csv.gz -> tips

    out = {
        "data": "file",
        "data.path": _table_input(data, input_dir, "data", "data"),
        "data.name": name or (table_stem(data) if isinstance(data, (str, Path)) else "dataframe"),
        "data.target": target,
        "data.sensitive": list(sensitive or []),
    }
    if isinstance(holdout, float):
        out["data.holdout_share"] = holdout
    elif holdout is not None:
        out["data.holdout_path"] = _table_input(holdout, input_dir, "holdout", "holdout")
    for col, kind in (columns or {}).items():
        out[f"data.columns.{col}.kind"] = kind
    return out


# ---- evaluation result ------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """What `synthgen evaluate` writes, in Python: the flat metrics, the gate, a verdict per area."""

    metrics: dict
    passed: bool  # the privacy gate (the one that blocks a release)
    reason: str
    verdicts: dict = field(default_factory=dict)  # area -> pass | warn | fail | n/a
    out_dir: Path | None = None  # metrics.json, report.html, plots/

    @property
    def report(self) -> Path:
        return Path(self.out_dir) / "report.html"

    def to_html(self, path: str | Path) -> Path:
        """Copy the self-contained report to `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.report, path)
        return path

    def summary(self):
        """The headline figures as a pandas Series."""
        import pandas as pd

        from synthgen.evaluate.headline import GATE, IMAGE, TABLE

        heads = IMAGE if "data.height" in self.metrics else TABLE  # an image evaluation's own figures
        return pd.Series({h.label: self.metrics[h.key] for h in (*heads, GATE) if h.key in self.metrics})

    def __repr__(self) -> str:
        areas = ", ".join(f"{a} {v}" for a, v in self.verdicts.items())
        return f"Evaluation(gate {'passed' if self.passed else 'FAILED'}; {areas}; report {self.report})"

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><td>{a}</td><td>{v}</td></tr>" for a, v in self.verdicts.items())
        return (
            f"<p>Privacy gate <b>{'passed' if self.passed else 'FAILED'}</b>: {html.escape(self.reason)}</p>"
            f"<table><tr><th>area</th><th>verdict</th></tr>{rows}</table>"
            f"<p>Report: {html.escape(str(self.report))}</p>"
        )


def _evaluation(result: dict, passed: bool, reason: str, paths) -> Evaluation:
    from synthgen.evaluate.verdicts import AREAS, SCORE

    levels = {v: k for k, v in SCORE.items()}
    verdicts = {a: levels.get(result.get(f"verdict.{a}"), "n/a") for a in AREAS}
    return Evaluation(result, passed, reason, verdicts, paths.evaluation)


def evaluate(
    real,
    synthetic,
    holdout=None,
    target: str | None = None,
    *,
    sensitive=None,
    columns=None,
    name: str | None = None,
    out_dir: str | Path | None = None,
    verbose: bool = False,
    **overrides,
) -> Evaluation:
    """Score a synthetic table from any tool against the real one, as `synthgen evaluate
    synthetic.path=...` does: the same metrics, report, verdicts, gate and MLflow run.

    real, synthetic, holdout: DataFrames or .parquet/.csv paths. holdout: the real rows the
    generator never saw (None: 20 % of `real` is held out; a float: that share). Columns are
    matched by name and cast to the real table's types. A failed gate does not raise here:
    see `.passed`. Other keyword arguments are config overrides (e.g. evaluate={"max_rows": 10000}).

    Images: real, synthetic and holdout are arrays, (array, labels) pairs, image folders or .npz
    files (synthgen/api_images.py); the image evaluation runs as the CLI's evaluate stage does.
    """
    from synthgen import api_images, pipeline

    if api_images.is_image_input(real):
        if target is not None or sensitive or columns:
            raise SynthgenError("target=, sensitive= and columns= are for tables; image classes come with the images")
        return api_images.evaluate_images(
            real, synthetic, holdout, name=name, out_dir=out_dir, verbose=verbose, overrides=overrides
        )

    out = Path(out_dir).resolve() if out_dir else _fresh_dir("outputs/api", "evaluate")
    with _cleanup_on_error(out):
        values = {
            **_data_overrides(real, holdout, target, sensitive, columns, name, out / "input"),
            "paths.out_dir": str(out),
            "evaluate.out_dir": str(out / "evaluation"),
            "synthetic.path": _table_input(synthetic, out / "input", "synthetic", "synthetic"),
            **overrides,
        }
        cfg = _compose(values)
        with quiet(verbose):
            result, passed, reason, paths = pipeline.score(cfg)
    return _evaluation(result, passed, reason, paths)


# ---- Synthesizer ------------------------------------------------------------------------------------------
class Synthesizer:
    """fit / sample / save / load around the pipeline's stages (synthgen/pipeline.py)."""

    def __init__(
        self,
        model: str = "transformer",
        *,
        modality: str | None = None,
        out_dir: str | Path | None = None,
        verbose: bool = False,
        **overrides,
    ):
        if modality not in (None, "tabular", "image"):
            raise SynthgenError(f"modality={modality!r}: use 'tabular', 'image' or None (told by fit's data)")
        self.model, self.verbose, self.modality = model, verbose, modality
        self.overrides = {"model": model, **overrides}
        self.out_dir = Path(out_dir).resolve() if out_dir else None
        self.config: DictConfig | None = None

    # ---- fit ----
    def fit(
        self,
        data,
        target: str | None = None,
        holdout=None,
        *,
        labels=None,
        sensitive=None,
        columns=None,
        name: str | None = None,
        size=None,
        channels: int | None = None,
    ) -> "Synthesizer":
        """prepare -> encode -> train on `data` (a DataFrame or a .parquet/.csv path).

        holdout: real rows kept out of training for the utility and privacy metrics (a DataFrame
        or path; None: 20 % of `data`; a float: that share). columns: {name: kind} overrides of the
        inferred kinds. sensitive: the columns whose groups the bias report compares.

        Images (a numpy array, a folder of class subfolders or an .npz; modality="image" also takes
        an image Parquet file): fit(images, labels) with labels one int or string per image (or
        None); holdout a share, an array (or (array, labels)) or a folder; size (28 or [H, W]) and
        channels (1 or 3) convert every image, as data.source.size/channels do.
        """
        from synthgen import api_images, pipeline

        image = self.modality == "image" or (self.modality is None and api_images.is_image_input(data))
        out = self.out_dir or _fresh_dir("outputs/api", self.model)
        with _cleanup_on_error(out):
            holdout_source = meta = None
            if image:
                if labels is None and target is not None and not isinstance(target, str):
                    labels, target = target, None  # fit(images, labels) positionally
                if target is not None or sensitive or columns:
                    raise SynthgenError("target=, sensitive= and columns= are for tables; give images labels=")
                data_values, holdout_source, meta = api_images.data_overrides(
                    data, labels, holdout, name, size, channels, out / "input"
                )
            else:
                if labels is not None or size is not None or channels is not None:
                    raise SynthgenError("labels=, size= and channels= are for images; a table's target is target=")
                data_values = _data_overrides(data, holdout, target, sensitive, columns, name, out / "input")
            values = {
                **data_values,
                "paths.out_dir": str(out),
                "trainer.enable_progress_bar": _show_progress(),
                **self.overrides,
            }
            cfg = _compose(values)
            if holdout_source:
                _set(cfg, "data.holdout_source", holdout_source)
            _set(cfg, "paths.mlflow_dir", str(Path(cfg.paths.mlflow_dir).resolve()))  # survives a chdir
            if not self.verbose:
                _set(cfg, "trainer.enable_model_summary", False)  # a table printed outside logging
            with quiet(self.verbose):
                for stage in (pipeline.prepare, pipeline.encode, pipeline.train):
                    stage(cfg)
            if meta is not None:
                api_images.record_meta(cfg, meta)
        self.out_dir, self.config = out, cfg
        return self

    def _require_fit(self) -> DictConfig:
        if self.config is None:
            raise SynthgenError("this Synthesizer is not fitted; call .fit(data) or Synthesizer.load(...) first")
        return self.config

    @property
    def run_id(self) -> str | None:
        """The MLflow train run (the pipeline run every generate/evaluate run nests under)."""
        from synthgen.paths import RunPaths
        from synthgen.tracking import read_run_info

        return read_run_info(RunPaths.from_config(self._require_fit()))

    # ---- sample ----
    def sample(
        self,
        n: int | None = None,
        conditions=None,
        seed: int | None = None,
        rebalance: dict | None = None,
        out_dir: str | Path | None = None,
    ):
        """n synthetic rows as a pandas DataFrame, through the generate stage (same seed, same rows
        as `synthgen generate`). conditions: {column: value} fixed in every row, or a DataFrame whose
        row i row i of the output carries (null cells free; n then defaults to its length).
        rebalance: {"column": c, "share": 0.5, "value": v} as generate.rebalance.*.

        Images: a uint8 array in the layout fit was given (n default: as many as trained on), or
        (images, labels) when fit had labels; conditions={"label": <class>} generates one class.
        out_dir: also keep the generate stage's PNGs and _manifest.parquet there (a new or empty
        folder, or an earlier set, which is replaced)."""
        import pandas as pd
        import pyarrow.parquet as pq

        from synthgen import pipeline

        cfg = self._require_fit().copy()
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise SynthgenError(f"sample(n={n!r}): n must be a positive whole number")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise SynthgenError(f"sample(seed={seed!r}): seed must be a whole number")
        if _is_image(cfg):
            return self._sample_images(cfg, n, conditions, seed, rebalance, out_dir)
        if out_dir is not None:
            raise SynthgenError("out_dir= is for images; a table's sample is a DataFrame (df.to_parquet(...))")
        out = Path(cfg.paths.out_dir) / "samples" / uuid.uuid4().hex[:12]
        try:
            _set(cfg, "generate.n_rows", n)
            _set(cfg, "generate.out_dir", str(out / "synthetic"))
            if seed is not None:
                _set(cfg, "seed", seed)
            if isinstance(conditions, pd.DataFrame):
                _set(cfg, "generate.condition_file", _table_input(conditions, out, "conditions", "conditions"))
            elif conditions:
                if not isinstance(conditions, dict):
                    raise SynthgenError("conditions: give {column: value} or a DataFrame of condition rows")
                _set(cfg, "generate.condition", {str(k): _plain(v) for k, v in conditions.items()})
            if rebalance:
                _set(cfg, "generate.rebalance", {"column": None, "share": None, "value": None, **rebalance})
            with quiet(self.verbose):
                pipeline.generate(cfg)
            return pq.read_table(out / "synthetic").to_pandas()
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def _sample_images(self, cfg: DictConfig, n, conditions, seed, rebalance, out_dir):
        """sample() for an image model: the generate stage into out_dir (or a temporary folder), read back."""
        from synthgen import api_images, pipeline
        from synthgen.modalities import handler_for
        from synthgen.paths import RunPaths

        if rebalance:
            raise SynthgenError("rebalance= is for tables; images take conditions={'label': <class>}")
        enc = handler_for(cfg, RunPaths.from_config(cfg)).load_encoder()
        meta = api_images.read_meta(self.out_dir, len(enc.class_names))
        condition = api_images.condition_for(conditions, enc, meta)
        tmp = Path(cfg.paths.out_dir) / "samples" / uuid.uuid4().hex[:12]
        out = api_images.check_out_dir(out_dir) if out_dir is not None else tmp / "synthetic"
        try:
            _set(cfg, "generate.n_rows", n)
            _set(cfg, "generate.out_dir", str(out))
            _set(cfg, "generate.condition", condition)
            if seed is not None:
                _set(cfg, "seed", seed)
            with quiet(self.verbose):
                pipeline.generate(cfg)
            return api_images.read_back(out, enc, meta)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def evaluate(self, synthetic=None) -> Evaluation:
        """Score `synthetic` (a DataFrame or path; None: generate the default set as `synthgen
        generate` does, into <out>/synthetic) against the training data and its holdout.
        Images: an array, (array, labels), a folder or an .npz, in the training images' classes."""
        from synthgen import pipeline

        cfg = self._require_fit().copy()
        with quiet(self.verbose):
            if synthetic is None:
                pipeline.generate(cfg)
            elif _is_image(cfg):
                from synthgen import api_images
                from synthgen.modalities import handler_for
                from synthgen.paths import RunPaths

                enc = handler_for(cfg, RunPaths.from_config(cfg)).load_encoder()
                _set(cfg, "generate.out_dir", str(api_images.synthetic_set(synthetic, cfg, enc)))
                _set(cfg, "evaluate.out_dir", str(Path(cfg.paths.out_dir) / "evaluation-synthetic"))
            else:
                out = Path(cfg.paths.out_dir)
                _set(cfg, "synthetic.path", _table_input(synthetic, out / "input", "synthetic", "synthetic"))
                _set(cfg, "evaluate.out_dir", str(out / "evaluation-synthetic"))
            result, passed, reason, paths = pipeline.score(cfg)
        return _evaluation(result, passed, reason, paths)

    # ---- save / load ----
    def save(self, path: str | Path, include_data: bool = True) -> Path:
        """Copy what sampling needs to `path`: model/model.ckpt, encoder/, the config, and (with
        include_data) prepared/, which the copy guard compares new rows with; without it, a loaded
        Synthesizer samples with generate.redraw_copies off."""
        from synthgen.paths import RunPaths

        paths = RunPaths.from_config(self._require_fit())
        dest = Path(path).resolve()
        if dest.exists() and any(dest.iterdir()):
            raise SynthgenError(f"save: {dest} exists and is not empty; pick a new folder")
        (dest / "model").mkdir(parents=True, exist_ok=True)
        shutil.copy2(paths.model, dest / "model" / "model.ckpt")
        if paths.run_info.exists():
            shutil.copy2(paths.run_info, dest / "model" / paths.run_info.name)
        shutil.copytree(paths.encoder_dir, dest / "encoder")
        from synthgen.api_images import META

        if (paths.out / META).exists():  # what an image fit was given (array layout, label type)
            shutil.copy2(paths.out / META, dest / META)
        if include_data:
            shutil.copytree(paths.prepared, dest / "prepared")
        else:
            (dest / "prepared").mkdir()
            shutil.copy2(paths.schema, dest / "prepared" / "schema.json")
        cfg = self.config.copy()
        _set(cfg, "paths.out_dir", ".")
        (dest / SAVED_CONFIG).write_text(OmegaConf.to_yaml(cfg), encoding="utf-8")
        return dest

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        out_dir: str | Path | None = None,
        mlflow_dir: str | Path | None = None,
        verbose: bool = False,
        **overrides,
    ) -> "Synthesizer":
        """A fitted Synthesizer from a folder written by `save` or by the CLI (an out dir such as
        outputs/, with the config its train run logged in mlflow_dir), an MLflow run id of a train
        run, or a `runs:/<id>` / `models:/<name>/<version>` URI (downloaded into out_dir, default
        outputs/api/<time>-loaded). overrides: config keys."""
        from synthgen.registry import fetch_model

        folder = Path(source)
        if not (folder / SAVED_CONFIG).exists() and not (folder / "model" / "model.ckpt").exists():
            folder = fetch_model(
                str(source), Path(out_dir).resolve() if out_dir else _fresh_dir("outputs/api", "loaded"), mlflow_dir
            )
        folder = folder.resolve()
        if (folder / SAVED_CONFIG).exists():
            from synthgen.modalities import upgrade_model_config

            cfg = upgrade_model_config(OmegaConf.load(folder / SAVED_CONFIG))  # saved by an older synthgen too
            OmegaConf.set_struct(cfg, True)
        else:  # a CLI out dir: the config the train run logged, else the default
            cfg = _logged_config(folder, mlflow_dir)
        _set(cfg, "paths.out_dir", str(folder))
        if mlflow_dir is not None:
            _set(cfg, "paths.mlflow_dir", str(Path(mlflow_dir).resolve()))
        for key, value in _flatten(overrides):
            _set(cfg, key, value)
        tabular = not _is_image(cfg)  # the copy guard compares table rows only
        if tabular and not (folder / "prepared" / "train.parquet").exists() and cfg.generate.redraw_copies:
            logging.getLogger("synthgen").warning("%s has no training rows: sampling without the copy guard", folder)
            _set(cfg, "generate.redraw_copies", False)
        from synthgen.modalities import family_label

        synth = cls(family_label(cfg.model), out_dir=folder, verbose=verbose)  # ...models.vae.TabularVAE -> vae
        synth.config = cfg
        return synth

    def __repr__(self) -> str:
        state = f"fitted, out_dir={self.out_dir}" if self.config is not None else "not fitted"
        return f"Synthesizer(model={self.model!r}, {state})"


def _logged_config(folder: Path, mlflow_dir) -> DictConfig:
    """The config a CLI out dir's train run logged (model/mlflow_run.json names the run; the store is
    mlflow_dir, else the default config's), so its data (an image set too) and family come back;
    the default config when that run or store is not there."""
    import tempfile

    from synthgen.config import load_config
    from synthgen.modalities import upgrade_model_config
    from synthgen.paths import RunPaths
    from synthgen.tracking import read_run_info

    cfg = load_config()
    run_id = read_run_info(RunPaths(folder, folder))
    store = Path(mlflow_dir or cfg.paths.mlflow_dir).resolve() / "mlflow.db"
    if run_id is None or not store.exists():
        return cfg
    from mlflow.tracking import MlflowClient

    bar = os.environ.get("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"  # quiet: one small file
    try:
        with tempfile.TemporaryDirectory() as tmp:
            logged = MlflowClient(f"sqlite:///{store}").download_artifacts(run_id, "config.yaml", tmp)
            cfg = upgrade_model_config(OmegaConf.load(logged))
    except Exception as e:  # noqa: BLE001  (MlflowException, OSError: another store, a deleted run)
        logging.getLogger("synthgen").warning("%s: the train run's config is not in %s (%s)", folder, store, e)
        return load_config()
    finally:
        os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR")
        if bar is not None:
            os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = bar
    OmegaConf.set_struct(cfg, True)
    return cfg


def _is_image(cfg: DictConfig) -> bool:
    return cfg.data.get("modality", "tabular") == "image"


def _plain(v):
    """numpy / pandas scalars -> Python values (OmegaConf takes only plain types)."""
    return v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v
