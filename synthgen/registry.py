"""A trained generator out of MLflow: a train run id, `runs:/<id>` or `models:/<name>/<version>`.

The train run holds what sampling needs (pipeline.train logs them): model/model.ckpt,
encoder/encoder.json, encoder/schema.json and config.yaml. `fetch_model` lays them out as an out
dir (model/, encoder/, prepared/schema.json, synthgen.yaml) that `synthgen generate` and
`Synthesizer.load` read. The training rows are not in MLflow, so such a model samples without
the copy guard (generate.redraw_copies off, said in a warning).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from omegaconf import OmegaConf

from synthgen.errors import SynthgenError

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def is_model_ref(text: str) -> bool:
    return isinstance(text, str) and (text.startswith(("models:/", "runs:/")) or bool(RUN_ID.match(text)))


def _client(mlflow_dir):
    from synthgen.config import load_config
    from synthgen.paths import RunPaths
    from synthgen.tracking import client

    cfg = load_config([f"paths.mlflow_dir={mlflow_dir}"] if mlflow_dir else [])
    return client(cfg, RunPaths.from_config(cfg))


def train_run_id(ref: str, c) -> str:
    """The train run behind a run id, runs:/<id>[/...] or models:/<name>/<version|latest>."""
    from mlflow.exceptions import MlflowException

    try:
        if ref.startswith("runs:/"):
            return ref[len("runs:/") :].split("/")[0]
        if ref.startswith("models:/"):
            name, _, version = ref[len("models:/") :].partition("/")
            if not name or not version:
                raise SynthgenError(f"{ref}: use models:/<name>/<version>, e.g. models:/synthgen-adult/1")
            if version == "latest":
                found = c.search_model_versions(f"name='{name}'")
                if not found:
                    raise SynthgenError(f"{ref}: no registered versions of '{name}'")
                version = str(max(int(v.version) for v in found))
            return c.get_model_version(name, version).run_id
        c.get_run(ref)  # raises for an unknown id
        return ref
    except MlflowException as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SynthgenError(f"{ref}: not found in the MLflow store ({first})") from None


def fetch_model(ref: str, dest: Path, mlflow_dir=None) -> Path:
    """Download the train run's model, encoder, schema and config into `dest` (an out dir)."""
    if not is_model_ref(ref):
        raise SynthgenError(
            f"{ref}: not a saved Synthesizer folder, an out dir with model/model.ckpt, a run id, "
            f"runs:/<id> or models:/<name>/<version>"
        )
    c = _client(mlflow_dir)
    run_id = train_run_id(ref, c)
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise SynthgenError(f"{dest} exists and is not empty; pick a new folder for the downloaded model")
    with tempfile.TemporaryDirectory(dir=dest.parent if dest.parent.exists() else None) as tmp:
        try:
            model = c.download_artifacts(run_id, "model/model.ckpt", tmp)
            enc = c.download_artifacts(run_id, "encoder", tmp)
            config = c.download_artifacts(run_id, "config.yaml", tmp)
        except Exception:  # MlflowException, OSError: the run lacks them
            raise SynthgenError(
                f"{ref}: run {run_id} has no model/model.ckpt, encoder/ or config.yaml "
                f"(is it a synthgen train run with logger.log_checkpoint=true?)"
            ) from None
        (dest / "model").mkdir(parents=True)
        (dest / "prepared").mkdir()
        shutil.copy2(model, dest / "model" / "model.ckpt")
        shutil.copytree(enc, dest / "encoder")
        if (dest / "encoder" / "schema.json").exists():
            shutil.move(dest / "encoder" / "schema.json", dest / "prepared" / "schema.json")
        cfg = OmegaConf.load(config)
        cfg.paths.out_dir = str(dest)
        (dest / "synthgen.yaml").write_text(OmegaConf.to_yaml(cfg), encoding="utf-8")
    from synthgen.io import write_json

    write_json(dest / "model" / "mlflow_run.json", {"run_id": run_id})
    return dest


def split_model_ref(overrides: list[str]) -> tuple[str | None, list[str]]:
    """`model=models:/...`, `model=runs:/...` or `run_id=<id>` among CLI overrides -> (ref, the rest)."""
    ref, rest = None, []
    for o in overrides:
        key, _, value = o.partition("=")
        if key == "run_id" or (key == "model" and is_model_ref(value)):
            if key == "run_id" and not RUN_ID.match(value):
                raise SynthgenError(f"run_id={value!r}: give the 32-character id of a synthgen train run")
            ref = value
        else:
            rest.append(o)
    return ref, rest


def generate_from(ref: str, overrides: list[str]):
    """`synthgen generate model=models:/<name>/<version> [key=value ...]` (or run_id=<id>): the model
    is downloaded once to <paths.out_dir>/registry/<ref>/, which holds the output (generate.out_dir)."""
    from synthgen import pipeline
    from synthgen.config import load_config
    from synthgen.paths import RunPaths

    base = RunPaths.from_config(load_config(overrides))
    dest = base.out / "registry" / re.sub(r"[^\w.\-]+", "_", ref).strip("_")
    if not (dest / "model" / "model.ckpt").exists():
        shutil.rmtree(dest, ignore_errors=True)
        fetch_model(ref, dest, base.mlflow_dir)
    cfg = load_config(
        [o for o in overrides if not o.startswith(("paths.", "+paths."))]
        + [f"paths.out_dir={dest}", f"paths.mlflow_dir={base.mlflow_dir}", "generate.redraw_copies=false"],
        params_file=dest / "synthgen.yaml",
    )
    return pipeline.generate(cfg)
