"""The exported generator: weights plus the model config and layout, loadable with weights_only=True.

A model file is data only. Exported models are shared (MLflow artifacts, DVC remotes), so loading
one must not run code of the file's choosing: `weights_only=True` keeps torch from unpickling
objects, and the model config is never handed to hydra. The class comes from an allow-list of
synthgen's own families (the `_target_`s of the network blocks of conf/model/*.yaml, plus the
family the caller's own config names; a checkpoint cannot extend it), a `_target_` or other hydra key anywhere else is
refused, and the
rest of the config is passed to the class as plain keyword arguments.
"""

from __future__ import annotations

import importlib
import io
import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import torch

from synthgen.errors import SynthgenError

MODEL_CONF_DIR = Path(__file__).resolve().parent.parent / "conf" / "model"
# Keys hydra.utils.instantiate would act on; none may appear in a model file's config values.
HYDRA_KEYS = ("_target_", "_args_", "_partial_", "_recursive_", "_convert_")


@lru_cache(maxsize=1)
def allowed_families() -> frozenset[str]:
    """Dotted class paths a model file may name: synthgen's own families, the `_target_` of each
    network block (tabular:, image:) of conf/model/*.yaml."""
    import yaml

    from synthgen.modalities import family_targets

    targets = set()
    for f in sorted(MODEL_CONF_DIR.glob("*.yaml")):
        for target in family_targets(yaml.safe_load(f.read_text()) or {}):
            if target.startswith("synthgen.models."):
                targets.add(target)
    return frozenset(targets)


def export_generator(model, model_config: dict, path: Path) -> None:
    """Write model.ckpt atomically. The bytes are a function of the state alone: torch.save into
    memory (saving to a file stores the file's name inside the zip, and a temporary name is random),
    then one write to a temporary name and a rename."""
    state = {"state_dict": model.state_dict(), "model_config": model_config, "layout": model.layout.to_dict()}
    buf = io.BytesIO()
    torch.save(state, buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # a fast_dev_run saves no checkpoint before it
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_generator(path: Path, also_allowed: Iterable[str] = ()):
    """The generator in `path`, in eval mode; one-line SynthgenError naming the file otherwise.
    `also_allowed`: classes the caller's own config names (a family added from outside synthgen,
    see README "Development"); the model file itself can never add one."""
    path = Path(path)
    if not path.exists():
        raise SynthgenError(f"model not found: {path}; run `synthgen train` first")
    rerun = "rerun `synthgen train`"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, empty, garbage, or objects weights_only refuses
        raise SynthgenError(f"{path}: not a readable synthgen model file ({_first_line(e)}); {rerun}") from None
    if not isinstance(state, dict) or not {"state_dict", "model_config", "layout"} <= state.keys():
        raise SynthgenError(f"{path}: not a synthgen model file (expected state_dict, model_config, layout); {rerun}")
    cls, kwargs = _model_class(path, state["model_config"], frozenset(also_allowed))
    layout = state["layout"]
    if not isinstance(layout, dict) or _hydra_key(layout):
        raise SynthgenError(f"{path}: the model file's layout is not plain data; {rerun}")
    try:
        model = cls(layout=layout, **kwargs)
        model.load_state_dict(state["state_dict"])
    except Exception as e:  # kwargs or weights that do not fit the class
        raise SynthgenError(
            f"{path}: the model file does not match {cls.__name__} ({_first_line(e)}); {rerun}"
        ) from None
    return model.eval()


def _model_class(path: Path, config, also_allowed: frozenset[str] = frozenset()) -> tuple[type, dict]:
    """(allow-listed class, plain kwargs) from a model file's config, or a one-line SynthgenError."""
    if not isinstance(config, dict) or not isinstance(config.get("_target_"), str):
        raise SynthgenError(f"{path}: the model file has no model class; rerun `synthgen train`")
    target = config["_target_"]
    allowed = allowed_families() | also_allowed
    if target not in allowed:
        raise SynthgenError(
            f"{path}: model class '{target}' is not a synthgen family (allowed: "
            f"{', '.join(sorted(allowed))}); refusing to load it"
        )
    kwargs = {k: v for k, v in config.items() if k != "_target_"}
    bad = _hydra_key(kwargs)
    if bad:
        raise SynthgenError(
            f"{path}: the model config holds '{bad}' (only plain values are allowed); refusing to load it"
        )
    module, _, name = target.rpartition(".")
    return getattr(importlib.import_module(module), name), kwargs


def _hydra_key(node) -> str | None:
    """The first hydra key (or non-string key) anywhere in nested dicts/lists, else None."""
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str) or k in HYDRA_KEYS:
                return str(k)
            found = _hydra_key(v)
            if found:
                return found
    elif isinstance(node, (list, tuple)):
        for v in node:
            found = _hydra_key(v)
            if found:
                return found
    return None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__
