"""Modality handlers: what differs between tables and images in each stage.

The stages in synthgen/pipeline.py are shared (seeding, Lightning trainer, checkpoints, MLflow
runs, chunked atomic generation); a handler supplies the modality's own parts:
    prepare()                        read and validate the source; write prepared/
    encode()                         fit the encoder; write encoder/encoder.json
    load_encoder()                   the fitted encoder (its `.layout` is what a model sees)
    datamodule(enc, model)           training batches in the form `model` takes
    train_callbacks(enc)             extra Lightning callbacks while training
    generation(enc, staging)         a GenerationPlan: chunks, per-chunk conditions, writer callback
    finish_generation(plan, staging) the manifest (dict) once every chunk is written
    evaluate()                       (metrics dict, gate passed, reason)
The family comes from `model=`; `model_spec` picks the network for the modality.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from omegaconf import DictConfig, OmegaConf

from synthgen.errors import SynthgenError

MODALITIES = ("tabular", "image")
# Keys of a model block that configure training, not the network; null trainer/train values defer to them.
TRAINING_KEYS = ("epochs", "patience", "val_share", "repeats")


@dataclass
class GenerationPlan:
    chunks: list                      # (chunk index, first row, row count)
    cond_for_chunk: Callable          # (chunk, first row, n) -> the chunk's conditions tensor
    writer: object                    # a Lightning BasePredictionWriter writing into the staging folder
    info: dict = field(default_factory=dict)  # recorded in the manifest (conditions, rebalancing...)


def plain(node):
    """A config node as plain Python (dicts, lists, values), resolved; other values as they are."""
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node


class Modality:
    """Base of the handlers: the composed config and the run's paths."""
    name = unit = ""

    def __init__(self, cfg: DictConfig, paths):
        self.cfg, self.paths = cfg, paths

    def table_size(self, enc):
        """The training set's size for synthgen/sizing.py (a TableSize), or None (image sets)."""
        return None


def holdout_split(n: int, share, seed: int) -> tuple:
    """Sorted (holdout, train) row indices: a seeded `share` of n rows held out (at least one)."""
    import numpy as np

    share = float(share)
    if not 0 < share < 1:
        raise SynthgenError(f"data.holdout_share={share} must be between 0 and 1")
    perm = np.random.default_rng(seed).permutation(n)
    n_hold = max(1, int(round(n * share)))
    return np.sort(perm[:n_hold]), np.sort(perm[n_hold:])


def modality_name(cfg: DictConfig) -> str:
    name = cfg.data.get("modality", "tabular")
    if name not in MODALITIES:
        raise SynthgenError(f"data.modality={name!r} is unknown; use one of {list(MODALITIES)}")
    return name


def handler_for(cfg: DictConfig, paths):
    name = modality_name(cfg)
    if name == "image":
        from synthgen.modalities.image import ImageModality
        return ImageModality(cfg, paths)
    from synthgen.modalities.tabular import TabularModality
    return TabularModality(cfg, paths)


def model_spec(cfg: DictConfig, size=None) -> tuple[dict, dict]:
    """(network config for hydra.utils.instantiate, training settings {epochs, patience, val_share}) of the
    selected family for the data's modality: the `image:` block of the model file for images,
    the rest of it for tables. trainer.max_epochs, train.patience and train.val_share override the
    family's values; `auto` values follow synthgen/sizing.py for `size` (a sizing.TableSize; None:
    the reference table)."""
    return training_spec(cfg, size)[:2]


def training_spec(cfg: DictConfig, size=None) -> tuple[dict, dict, dict]:
    """model_spec plus the sizing rule's whole plan for `size` ({} when no key is `auto`)."""
    from synthgen import sizing

    node = OmegaConf.to_container(cfg.model, resolve=True)
    image = node.pop("image", None)
    if modality_name(cfg) == "image":
        if image is None:
            raise SynthgenError(f"model {node.get('_target_', '?')} has no image variant (no model.image block)")
        node = image
    training = {k: node.pop(k) for k in TRAINING_KEYS if k in node}
    overrides = {"epochs": OmegaConf.select(cfg, "trainer.max_epochs", default=None),
                 "patience": OmegaConf.select(cfg, "train.patience", default=None),
                 "val_share": OmegaConf.select(cfg, "train.val_share", default=None)}
    training.update({k: v for k, v in overrides.items() if v is not None})
    return sizing.resolve(node, training, size)


def family_name(cfg: DictConfig) -> str:
    return model_spec(cfg)[0]["_target_"].rsplit(".", 1)[-1]
