"""Images: an image source in, PNG class folders plus a Parquet manifest out.

prepared/ holds train.npz and holdout.npz (images uint8 [N, H, W, C], labels int64 [N],
class_names) and schema.json (size, channels, classes, counts, skipped files).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytorch_lightning as pl
import torch

from synthgen import seeding
from synthgen.agent_logger import AgentLogger
from synthgen.errors import SynthgenError
from synthgen.image_sources import IMAGE_MANIFEST, ImageSet, load_image_source, read_synthetic_images
from synthgen.io import atomic_write_text, staged_dir
from synthgen.modalities import GenerationPlan, Modality, holdout_split, plain
from synthgen.tracking import RunLog
from synthgen.writers.image import ImageChunkWriter, to_uint8
from synthgen.writers.png import sample_grid_png

if TYPE_CHECKING:
    from synthgen.encoders.images import ImageEncoder

log = logging.getLogger("synthgen")


def save_image_set(data: ImageSet, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, images=data.images, labels=data.labels, class_names=np.array(data.class_names))
    tmp.replace(path)


def load_image_set(path: Path) -> ImageSet:
    from synthgen.artifacts import load_artifact

    def load(p):
        with np.load(p) as z:
            return ImageSet(z["images"], z["labels"], [str(c) for c in z["class_names"]])

    return load_artifact(path, "prepared image set", "prepare", load)


class ImageModality(Modality):
    name, unit = "image", "images"

    # ---- prepare / encode ----------------------------------------------------------------------
    def prepare(self) -> None:
        cfg, paths = self.cfg, self.paths
        spec = plain(cfg.data.source)
        data = load_image_source(spec)
        if len(data) == 0:
            raise SynthgenError(f"image source {spec.get('path') or spec.get('kind')} has no readable images")
        if cfg.data.holdout_source:
            # the holdout is brought to the training images' size and channels
            hspec = {**plain(cfg.data.holdout_source)}
            h, w, c = data.shape
            hspec.setdefault("size", [h, w])
            hspec["size"] = hspec["size"] or [h, w]
            hspec["channels"] = hspec.get("channels") or c
            holdout, train = load_image_source(hspec), data
        else:
            hold, keep = holdout_split(len(data), cfg.data.holdout_share, cfg.seed)
            holdout, train = data.subset(hold), data.subset(keep)
        if cfg.data.max_rows:
            train = train.subset(np.arange(min(int(cfg.data.max_rows), len(train))))
        if len(train) < 2:
            raise SynthgenError(f"the training split has {len(train)} image(s); at least 2 are needed")
        h, w, c = train.shape
        info = {
            "modality": "image",
            "height": h,
            "width": w,
            "channels": c,
            "class_names": train.class_names,
            "class_counts": np.bincount(train.labels, minlength=train.n_classes).tolist(),
            "n_rows": len(train),
            "n_holdout": len(holdout),
            "skipped": {
                "count": len(data.skipped) + len(holdout.skipped),
                "files": (data.skipped + holdout.skipped)[:100],
            },
        }
        with staged_dir(paths.prepared) as d:
            save_image_set(train, d / "train.npz")
            save_image_set(holdout, d / "holdout.npz")
            atomic_write_text(d / "schema.json", json.dumps(info, indent=1) + "\n")
        if info["skipped"]["count"]:
            log.warning(
                "skipped %d unreadable image(s), e.g. %s", info["skipped"]["count"], info["skipped"]["files"][:3]
            )
        log.info(
            "prepared %d train and %d holdout images (%dx%dx%d, %d classes) in %s",
            len(train),
            len(holdout),
            h,
            w,
            c,
            train.n_classes,
            paths.prepared,
        )

    def encode(self) -> None:
        from synthgen.encoders.images import ImageEncoder

        enc = ImageEncoder.fit(load_image_set(self.paths.prepared / "train.npz"))
        with staged_dir(self.paths.encoder_dir) as d:
            enc.save(d / "encoder.json")
        log.info("image encoder: %s", enc.layout)

    def load_encoder(self) -> ImageEncoder:
        from synthgen.artifacts import load_artifact
        from synthgen.encoders.images import ImageEncoder

        return load_artifact(self.paths.encoder, "encoder state", "encode", ImageEncoder.load)

    # ---- train -----------------------------------------------------------------------------------
    def datamodule(self, enc: ImageEncoder, model: pl.LightningModule, val_share: float) -> pl.LightningDataModule:
        from synthgen.data import TensorDataModule

        train = load_image_set(self.paths.prepared / "train.npz")
        if model.input_kind == "tokens":
            arrays = (enc.to_tokens(train), enc.labels_for(train))
        else:
            arrays = enc.encode(train)
        return TensorDataModule(arrays, model.batch_size, val_share, self.cfg.seed)

    def train_callbacks(self, enc: ImageEncoder) -> list[pl.Callback]:
        return [SampleGridLogger(enc, self.cfg.seed)]

    # ---- generate --------------------------------------------------------------------------------
    def generation(self, enc: ImageEncoder, staging: Path) -> GenerationPlan:
        from synthgen.data import plan_chunks

        cfg = self.cfg
        n = int(cfg.generate.n_rows or sum(enc.class_counts or [0]) or 1)
        chunk_rows = int(cfg.generate.chunk_rows)
        if n < 1 or chunk_rows < 1:
            raise SynthgenError("generate.n_rows and generate.chunk_rows must be positive")
        condition = plain(cfg.generate.condition) or {}
        labels = planned_labels(n, enc, condition)

        def cond_for_chunk(chunk, start, count):
            return torch.from_numpy(labels[start : start + count])

        writer = ImageChunkWriter(staging, enc, cfg.seed, bool(cfg.generate.get("png_parquet")))
        return GenerationPlan(
            plan_chunks(n, chunk_rows), cond_for_chunk, writer, {"condition": condition, "class_names": enc.class_names}
        )

    def finish_generation(self, plan: GenerationPlan, staging: Path) -> dict:
        return plan.writer.finish(plan.chunks, plan.info)

    def generation_log(self, manifest: dict) -> RunLog:
        images, labels = read_synthetic_images(self.paths.synthetic, limit_per_class=10)
        grid = sample_grid_png(images, labels, len(manifest["class_names"]), 10, scale=_grid_scale(images))
        return RunLog(images={"samples/generated.png": _png_array(grid)})

    # ---- evaluate --------------------------------------------------------------------------------
    def evaluate(self) -> tuple[dict, bool, str]:
        from synthgen.evaluate.gate import check_image_gate
        from synthgen.evaluate.image_report import write_image_evaluation
        from synthgen.evaluate.images import ImageEvalConfig, evaluate_images

        cfg, paths = self.cfg, self.paths
        if not (paths.synthetic / IMAGE_MANIFEST).exists():
            raise SynthgenError(f"no synthetic images at {paths.synthetic}; run `synthgen generate` first")
        enc = self.load_encoder()
        train = load_image_set(paths.prepared / "train.npz")
        test = load_image_set(paths.prepared / "holdout.npz")
        images, labels = read_synthetic_images(paths.synthetic)
        settings = {**plain(cfg.evaluate.images), "seed": cfg.seed}
        settings["cache_dir"] = settings.get("cache_dir") or str(paths.out / "cache")
        ecfg = ImageEvalConfig.from_mapping(settings)
        result = evaluate_images(
            train.images,
            enc.labels_for(train),
            test.images,
            enc.labels_for(test),
            images,
            labels,
            len(enc.class_names),
            ecfg,
        )
        write_image_evaluation(result, images, labels, enc.class_names, paths.evaluation)
        return result, *check_image_gate(result, cfg.evaluate.gate)


def planned_labels(n: int, enc, condition: dict) -> np.ndarray:
    """int64 [n] class labels of the output, sorted by class: all one class for
    `generate.condition.label=<class name>`, otherwise the training class shares (largest remainder)."""
    unknown = sorted(set(condition) - {"label"})
    if unknown:
        raise SynthgenError(f"generate.condition keys {unknown} are unknown for images; use generate.condition.label")
    if "label" in condition:
        name = str(condition["label"])
        if name not in enc.class_names:
            raise SynthgenError(
                f"generate.condition.label={name!r} is not a class of the training images "
                f"(classes: {enc.class_names[:20]})"
            )
        return np.full(n, enc.class_names.index(name), np.int64)
    from synthgen.conditions import largest_remainder

    counts = np.asarray(enc.class_counts or [1] * len(enc.class_names), np.float64)
    return np.repeat(np.arange(len(counts)), largest_remainder(n, counts / counts.sum())).astype(np.int64)


def _grid_scale(images: np.ndarray) -> int:
    return max(1, 32 // images.shape[1])


def _png_array(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


class SampleGridLogger(pl.Callback):
    """Logs a sample grid (one row per class, `per_class` images each, fixed seed) to the MLflow
    train run after every validation epoch and at the end (artifacts samples/epoch-NNN.png, final.png)."""

    def __init__(self, enc, seed: int, per_class: int = 10):
        self.enc, self.seed, self.per_class = enc, seed, per_class

    def _log(self, trainer, pl_module, name: str) -> None:
        if not trainer.is_global_zero or not isinstance(trainer.logger, AgentLogger):
            return
        labels = torch.arange(len(self.enc.class_names)).repeat_interleave(self.per_class)
        g = seeding.torch_generator(seeding.PREVIEW, self.seed, device=pl_module.device)
        out = pl_module.sample(labels.to(pl_module.device), g)
        images = to_uint8(self.enc, pl_module, out.cpu())
        grid = sample_grid_png(
            images, labels.numpy(), len(self.enc.class_names), self.per_class, scale=_grid_scale(images)
        )
        trainer.logger.log_image(_png_array(grid), f"samples/{name}.png")

    def on_validation_epoch_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._log(trainer, pl_module, f"epoch-{trainer.current_epoch:03d}")

    def on_train_end(self, trainer, pl_module):
        self._log(trainer, pl_module, "final")
