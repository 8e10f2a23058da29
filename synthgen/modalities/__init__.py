"""Modality handlers: what differs between tables and images in each stage.

The stages in synthgen/pipeline.py are shared (seeding, Lightning trainer, checkpoints, MLflow
runs, chunked atomic generation); a handler supplies the modality's own parts. `Modality` below
is the contract: every abstract method there is what a new modality writes (its docstring says
what the stage hands in and expects back). Handlers never talk to MLflow: they return what to
log (a tracking.RunLog) and synthgen/tracking.py logs it. A new modality is one class plus one
line in MODALITIES; the family comes from `model=`, and `model_spec` picks its network for the
modality (conf/model/<family>.yaml's block named after the modality).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from omegaconf import DictConfig, OmegaConf

from synthgen import seeding
from synthgen.errors import SynthgenError
from synthgen.tracking import RunLog

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from synthgen.paths import RunPaths
    from synthgen.sizing import TableSize
    from synthgen.writers.chunks import ChunkWriter

# data.modality -> "module:class" of its handler (imported only when that modality runs)
MODALITIES = {
    "tabular": "synthgen.modalities.tabular:TabularModality",
    "image": "synthgen.modalities.image:ImageModality",
}


class Encoder(Protocol):
    """What the shared stages read from a modality's fitted encoder."""

    layout: Any  # has .to_dict(): the plain dict every family's network is built from (`layout=`)


@dataclass
class GenerationPlan:
    chunks: list  # (chunk index, first row, row count)
    cond_for_chunk: Callable  # (chunk, first row, n) -> the chunk's conditions tensor
    writer: ChunkWriter  # writes each chunk into the staging folder; .finish() the manifest
    info: dict = field(default_factory=dict)  # recorded in the manifest (conditions, rebalancing...)


def plain(node):
    """A config node as plain Python (dicts, lists, values), resolved; other values as they are."""
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


class Modality(ABC):
    """A modality's parts of the five stages. `self.cfg` is the composed config, `self.paths` the
    run's folders (synthgen/paths.py). Every method may raise SynthgenError (one line: what to fix)."""

    name: str = ""  # the data.modality value, also the block of conf/model/<family>.yaml it uses
    unit: str = ""  # what a generated row is called in log lines ("rows", "images")

    def __init__(self, cfg: DictConfig, paths: RunPaths):
        self.cfg, self.paths = cfg, paths

    # ---- prepare / encode ----------------------------------------------------------------------
    @abstractmethod
    def prepare(self) -> None:
        """Read and validate the source (cfg.data), split a holdout; write paths.prepared atomically."""

    @abstractmethod
    def encode(self) -> None:
        """Fit the encoder on the training split once; write its JSON state to paths.encoder."""

    @abstractmethod
    def load_encoder(self) -> Encoder:
        """The fitted encoder from paths.encoder (SynthgenError naming `synthgen encode` when absent)."""

    # ---- train -----------------------------------------------------------------------------------
    def table_size(self, enc: Encoder) -> TableSize | None:
        """The training set's size for the `auto` rule of synthgen/sizing.py, or None (no rule: image
        sets; `auto` keys then take the reference table's values)."""
        return None

    @abstractmethod
    def datamodule(self, enc: Encoder, model: pl.LightningModule, val_share: float) -> pl.LightningDataModule:
        """Training batches in the form `model` takes (model.batch_size rows each), `val_share` of the
        rows held out for val_loss, split with cfg.seed. The pipeline sets its `repeats` afterwards."""

    @abstractmethod
    def train_callbacks(self, enc: Encoder) -> list[pl.Callback]:
        """Extra Lightning callbacks while training (e.g. sample grids); [] for none."""

    # ---- generate --------------------------------------------------------------------------------
    @abstractmethod
    def generation(self, enc: Encoder, staging: Path) -> GenerationPlan:
        """The chunks to sample, each chunk's conditions, and the writer that writes a chunk's output
        into `staging` (any rank may write any chunk; the plan is the same in every process)."""

    @abstractmethod
    def finish_generation(self, plan: GenerationPlan, staging: Path) -> dict:
        """On rank 0 once every chunk is written: check them, write the manifest into `staging`, and
        return it ({"rows", "files", "seed", ...; "metrics": optional numbers logged as generate.*})."""

    @abstractmethod
    def generation_log(self, manifest: dict) -> RunLog:
        """What to log on the generate run beyond the manifest and row counts (a preview, a sample
        grid), read from paths.synthetic after it replaced the staging folder."""

    # ---- evaluate --------------------------------------------------------------------------------
    @abstractmethod
    def evaluate(self) -> tuple[dict, bool, str]:
        """Score paths.synthetic (or paths.synthetic_file) against the real splits; write
        paths.evaluation. Returns (flat metrics, privacy gate passed, reason when it failed)."""


def holdout_split(n: int, share, seed: int) -> tuple:
    """Sorted (holdout, train) row indices: a seeded `share` of n rows held out (at least one)."""
    import numpy as np

    share = float(share)
    if not 0 < share < 1:
        raise SynthgenError(f"data.holdout_share={share} must be between 0 and 1")
    perm = seeding.numpy_rng(seeding.HOLDOUT_SPLIT, seed).permutation(n)
    n_hold = max(1, int(round(n * share)))
    return np.sort(perm[:n_hold]), np.sort(perm[n_hold:])


def modality_name(cfg: DictConfig) -> str:
    name = cfg.data.get("modality", "tabular")
    if name not in MODALITIES:
        raise SynthgenError(f"data.modality={name!r} is unknown; use one of {list(MODALITIES)}")
    return name


def handler_for(cfg: DictConfig, paths: RunPaths) -> Modality:
    module, _, cls = MODALITIES[modality_name(cfg)].partition(":")
    return getattr(importlib.import_module(module), cls)(cfg, paths)


def model_spec(cfg: DictConfig, size: TableSize | None = None) -> tuple[dict, dict]:
    """(network config for hydra.utils.instantiate, training settings {epochs, patience, val_share,
    [repeats]}) of the selected family for the data's modality: conf/model/<family>.yaml's block named
    after the modality (`tabular:`, `image:`) and its `training.<modality>` block. trainer.max_epochs,
    train.patience and train.val_share override the family's values; `auto` values follow
    synthgen/sizing.py for `size` (a sizing.TableSize; None: the reference table)."""
    return training_spec(cfg, size)[:2]


def training_spec(cfg: DictConfig, size: TableSize | None = None) -> tuple[dict, dict, dict]:
    """model_spec plus the sizing rule's whole plan for `size` ({} when no key is `auto`)."""
    from synthgen import sizing

    modality = modality_name(cfg)
    node = plain(cfg.model)
    spec = node.get(modality)
    if not isinstance(spec, dict) or "_target_" not in spec:
        has = [m for m in MODALITIES if isinstance(node.get(m), dict)]
        raise SynthgenError(
            f"model {family_label(node)} has no {modality} network (no model.{modality} block; "
            f"it has {has or 'none'}); pick another model= for data.modality={modality}"
        )
    training = dict((node.get("training") or {}).get(modality) or {})
    overrides = {
        "epochs": OmegaConf.select(cfg, "trainer.max_epochs", default=None),
        "patience": OmegaConf.select(cfg, "train.patience", default=None),
        "val_share": OmegaConf.select(cfg, "train.val_share", default=None),
    }
    training.update({k: v for k, v in overrides.items() if v is not None})
    for key in ("epochs", "patience", "val_share"):
        if training.get(key) is None:
            raise SynthgenError(
                f"model.training.{modality}.{key} is not set: give it a value (or auto) in the "
                f"family's file conf/model/<family>.yaml"
            )
    return sizing.resolve(spec, training, size, modality)


def family_label(node) -> str:
    """A family's name for run names and messages: the module of its first network
    (synthgen.models.vae.TabularVAE -> vae), from a model config node or dict."""
    node = plain(node)
    target = next(
        (
            node[m]["_target_"]
            for m in MODALITIES
            if isinstance(node.get(m), dict) and isinstance(node[m].get("_target_"), str)
        ),
        "?.?",
    )
    return target.split(".")[-2]


def family_targets(node) -> list[str]:
    """The `_target_` of every network block (tabular:, image:, ...) of a model config node or dict."""
    node = plain(node) or {}
    return [
        node[m]["_target_"]
        for m in MODALITIES
        if isinstance(node.get(m), dict) and isinstance(node[m].get("_target_"), str)
    ]


OLD_TRAINING_KEYS = ("epochs", "patience", "val_share", "repeats")
OLD_DEFAULTS = {"epochs": 30, "patience": 4, "val_share": 0.1}  # what pipeline.train used where such a file set none


def upgrade_model_config(cfg: DictConfig) -> DictConfig:
    """A config saved before the family files had `tabular:`/`image:`/`training:` blocks (model keys at
    top level, training keys mixed in, a nested `image:`), rewritten in place to today's layout, so
    that saved folders, logged config.yaml files and registered models keep generating."""
    node = plain(cfg.get("model"))
    if not isinstance(node, dict) or "_target_" not in node:
        return cfg
    image = node.pop("image", None)
    blocks = {"tabular": node, **({"image": image} if isinstance(image, dict) else {})}
    training = {m: {**OLD_DEFAULTS, **{k: b.pop(k) for k in OLD_TRAINING_KEYS if k in b}} for m, b in blocks.items()}
    struct = OmegaConf.is_struct(cfg)
    OmegaConf.set_struct(cfg, False)
    cfg.model = {**blocks, "training": training}
    OmegaConf.set_struct(cfg, struct)
    return cfg


def families(modality: str | None = None) -> list[str]:
    """The families in conf/model/ (names for model=), only those with a `modality` network if given.
    Tests loop over these, so a tables-only family (no `image:` block) adds no image test."""
    import yaml

    from synthgen.config import CONF_DIR

    out = []
    for f in sorted((CONF_DIR / "model").glob("*.yaml")):
        node = yaml.safe_load(f.read_text()) or {}
        if modality is None or isinstance(node.get(modality), dict):
            out.append(f.stem)
    return out


def family_name(cfg: DictConfig) -> str:
    """The class name of the network the run uses (run names): TabularVAE, ImageGAN..."""
    block = plain(cfg.model).get(modality_name(cfg))
    target = block.get("_target_") if isinstance(block, dict) else None
    return str(target or family_label(cfg.model)).rsplit(".", 1)[-1]
