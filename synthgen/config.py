"""Compose the Hydra config for a stage, and check overrides so mistakes give one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from synthgen import seeding
from synthgen.errors import SynthgenError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
# `hydra.searchpath=[file:///abs/conf]` adds config folders searched after CONF_DIR: a family of your own
# is <folder>/model/<name>.yaml, picked with model=<name> (README "Development").
SEARCHPATH = "hydra.searchpath="
# Config nodes whose keys are column names chosen by the user: `a.b.c=v` adds a key there.
OPEN_NODES = ("data.columns.", "generate.condition.")
DATA_VALUE_KEYS = ("generate.rebalance.value=", "generate.condition_file=", "data.sql=")
# Keys whose default is null but whose value, when set, must be a whole number.
NULLABLE_INTS = ("trainer.max_epochs", "train.patience", "generate.n_rows", "data.max_rows")
PRECISIONS = ("native", "bf16", "32")  # generate.precision (synthgen/models/base.py)


def load_config(overrides: list[str] | tuple = (), params_file: str | Path | None = None) -> DictConfig:
    """The resolved config: composed from conf/ (or read from a composed params.yaml) plus overrides."""
    columns = [c for c in (_column_override(o) for o in overrides) if c]
    overrides = [_open_node_override(o) for o in overrides if not _column_override(o)]
    if params_file is not None:
        cfg = _from_params_file(Path(params_file), overrides)
    else:
        cfg = _compose(overrides)
    _set_column_settings(cfg, columns)
    try:
        OmegaConf.resolve(cfg)
    except Exception as e:  # an interpolation to a missing key, e.g. from a bad override
        raise SynthgenError(f"config does not resolve: {_first_line(e)}") from None
    _check_types(cfg, overrides)
    seeding.check_seed(cfg.get("seed", 0))  # every stream derives from it (synthgen/seeding.py)
    if "generate" in cfg:  # refused before `synthgen run` trains, not after
        check_precision(cfg.generate.get("precision", "native"))
    return cfg


def check_precision(value) -> str:
    """generate.precision as one of PRECISIONS (`32` arrives from Hydra as a number), or a one-line error."""
    precision = str(value)
    if precision not in PRECISIONS:
        raise SynthgenError(f"generate.precision={precision}: use one of {', '.join(PRECISIONS)}")
    return precision


def _compose(overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
            return compose(config_name="config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException, ValueError) as e:
        first = _first_line(e)
        group = re.search(r"Could not find '([\w/]+)/([^']*)'", first)
        if group:  # an unknown choice of a config group, e.g. model=vaee: list the choices
            options = sorted(p.stem for p in (CONF_DIR / group.group(1)).glob("*.yaml"))
            raise SynthgenError(
                f"{group.group(1).replace('/', '.')}={group.group(2)} is unknown; choose one of: {', '.join(options)}"
            ) from None
        if first.startswith("Could not override"):
            key = first.split("'")[1] if "'" in first else first
            hint = (
                " (a family's keys are model.tabular.<key>, model.image.<key> and model.training.<modality>.<key>)"
                if key.startswith("model.")
                else ""
            )
            raise SynthgenError(f"unknown config key '{key}'{hint}; `synthgen compose` lists every key") from None
        raise SynthgenError(f"bad override: {first}") from None


def _from_params_file(path: Path, overrides: list[str]) -> DictConfig:
    if not path.exists():
        raise SynthgenError(f"params file not found: {path}")
    from synthgen.modalities import upgrade_model_config

    cfg = upgrade_model_config(OmegaConf.load(path))  # a params file written before the family blocks
    OmegaConf.set_struct(cfg, True)
    for o in overrides:
        if o.startswith(SEARCHPATH):  # a composed file names its family's classes itself
            continue
        key, _, value = o.lstrip("+").partition("=")
        try:
            if o.startswith("+"):
                with _open(cfg):
                    OmegaConf.update(cfg, key, _yaml_value(value), force_add=True)
            else:
                OmegaConf.update(cfg, key, _yaml_value(value))
        except Exception as e:
            raise SynthgenError(f"bad override '{o}': {_first_line(e)}") from None
    return cfg


class _open:
    def __init__(self, cfg):
        self.cfg = cfg

    def __enter__(self):
        OmegaConf.set_struct(self.cfg, False)

    def __exit__(self, *exc):
        OmegaConf.set_struct(self.cfg, True)


def _yaml_value(text: str):
    import yaml

    try:
        return yaml.safe_load(text) if text != "" else ""
    except yaml.YAMLError:
        return text


def _open_node_override(o: str) -> str:
    """`data.columns.zip.kind=x` -> `+data.columns.zip.kind=x` (these nodes start empty).

    Values there (and in DATA_VALUE_KEYS) are data values such as `>50K`, which Hydra's grammar
    would refuse unquoted (the shell has already removed the user's quotes), so they are quoted.
    """
    if o.startswith(("+", "~")) or not o.startswith(OPEN_NODES + DATA_VALUE_KEYS):
        return o
    key, _, value = o.partition("=")
    if value and value[0] not in "'\"[{" and re.search(r"[^\w.\- ]", value):
        value = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return f"{key}={value}" if o.startswith(DATA_VALUE_KEYS) else f"+{key}={value}"


# data.columns.<column>.<setting>=<value>: the column name may hold dots, spaces, '=' or any letter
# (Hydra's key grammar takes none of them), so these are set on the composed config directly.
_COLUMN_OVERRIDE = re.compile(r"^\+?data\.columns\.(?P<column>.+?)\.(?P<setting>kind|format|pii)=(?P<value>.*)$", re.S)


def _column_override(o: str) -> tuple[str, str, str] | None:
    m = _COLUMN_OVERRIDE.match(o)
    return (m["column"], m["setting"], m["value"]) if m else None


def _set_column_settings(cfg: DictConfig, columns: list[tuple[str, str, str]]) -> None:
    if not columns:
        return
    with _open(cfg):
        if cfg.data.get("columns") is None:
            cfg.data.columns = {}
        for column, setting, value in columns:
            node = cfg.data.columns.get(column)
            if node is not None and not isinstance(node, DictConfig):
                node = {"kind": node}  # `kind` given as a plain string in a config file
            cfg.data.columns[column] = {
                **(OmegaConf.to_container(node) if isinstance(node, DictConfig) else node or {}),
                setting: value,
            }


def _check_types(cfg: DictConfig, overrides: list[str]) -> None:
    """A value overriding a number or a boolean must be one: `trainer.max_epochs=abc` is refused."""
    defaults = _compose(
        [o for o in overrides if "=" in o and ("." not in o.split("=")[0].lstrip("+~") or o.startswith(SEARCHPATH))]
    )
    for o in overrides:
        key = o.lstrip("+~").partition("=")[0]
        if "." not in key or o.startswith(SEARCHPATH):
            continue
        default = OmegaConf.select(defaults, key, default=None)
        value = OmegaConf.select(cfg, key, default=None)
        if default is None and key in NULLABLE_INTS and value is not None:
            default = 0
        if isinstance(default, bool) and not isinstance(value, bool):
            raise SynthgenError(f"{key}={value!r}: expected true or false")
        if (
            isinstance(default, int)
            and not isinstance(default, bool)
            and not (isinstance(value, int) and not isinstance(value, bool))
        ):
            raise SynthgenError(f"{key}={value!r}: expected an integer")
        if isinstance(default, float) and not (isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise SynthgenError(f"{key}={value!r}: expected a number")


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def composed_yaml(overrides: list[str] | tuple = ()) -> str:
    """The resolved config as YAML, the form DVC writes to params.yaml."""
    return OmegaConf.to_yaml(load_config(overrides))
