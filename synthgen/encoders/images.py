"""ImageEncoder: uint8 images HWC <-> model tensors, with class labels; state as JSON.

- GAN / VAE: `encode` -> float32 [N, C, H, W] in [-1, 1] and int64 labels; `decode` -> uint8 HWC.
- Autoregressive (transformer): `to_tokens` -> int64 [N, H*W*C], raster order with a pixel's
  channels adjacent (row by row, then pixel by pixel, then R, G, B), each intensity quantised to
  `levels` tokens; `from_tokens` maps back. levels=256 is lossless; fewer levels keep black (0)
  and white (255) exact and move a pixel by at most 127.5 / (levels - 1) + 0.5 grey levels
  (8 for levels=16, whose 16 grey levels are multiples of 17); levels=2 binarises at 128.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError
from synthgen.image_sources import ImageSet
from synthgen.io import atomic_write_text, read_encoder_state

STATE_VERSION = 1


@dataclass(frozen=True)
class ImageLayout:
    """What a model sees of an image set: sizes only. Tensors are [N, C, H, W]; tokens [N, H*W*C]."""

    channels: int
    height: int
    width: int
    n_classes: int
    levels: int = 256
    kind: str = "image"

    def __post_init__(self):
        for name in ("channels", "height", "width", "n_classes", "levels"):
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels}")
        if min(self.height, self.width, self.n_classes) < 1:
            raise ValueError(f"height, width and n_classes must be positive: {self}")
        if not 2 <= self.levels <= 256:
            raise ValueError(f"levels must lie in [2, 256], got {self.levels}")

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "channels": self.channels,
            "height": self.height,
            "width": self.width,
            "n_classes": self.n_classes,
            "levels": self.levels,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ImageLayout":
        return cls(d["channels"], d["height"], d["width"], d["n_classes"], d.get("levels", 256), d.get("kind", "image"))

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one encoded image."""
        return (self.channels, self.height, self.width)

    @property
    def n_tokens(self) -> int:
        """Sequence length of one image as tokens (H * W * C)."""
        return self.channels * self.height * self.width


def quantization_tables(levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables grey value (0..255) -> token (0..levels-1), int64 [256], and token -> grey
    value, uint8 [levels]: round-half-up of v * L / 255 and of t * 255 / L in integers (L = levels
    - 1), so no float drift. Models that quantise further (e.g. the image transformer) use these too."""
    L = int(levels) - 1
    v = np.arange(256, dtype=np.int64)
    return ((2 * L * v + 255) // 510).astype(np.int64), ((510 * np.arange(L + 1) + L) // (2 * L)).astype(np.uint8)


class ImageEncoder:
    def __init__(
        self,
        height: int,
        width: int,
        channels: int,
        class_names: list[str],
        levels: int = 256,
        class_counts: list[int] | None = None,
    ):
        if not isinstance(levels, (int, np.integer)) or isinstance(levels, bool) or not 2 <= levels <= 256:
            raise SynthgenError(f"encoder.levels={levels!r} must be a whole number from 2 to 256")
        self.class_names = [str(c) for c in class_names]
        self.class_counts = [int(c) for c in class_counts] if class_counts is not None else None
        self.layout = ImageLayout(channels, height, width, len(self.class_names), int(levels))
        self._quant, self._dequant = quantization_tables(self.layout.levels)

    # ---- fitting and state ------------------------------------------------------------------------
    @classmethod
    def fit(cls, data: ImageSet, levels: int = 256) -> "ImageEncoder":
        """Record the size, channels, class names and class counts of the training images."""
        if len(data) == 0:
            raise SynthgenError("cannot fit the image encoder on an empty image set")
        h, w, c = data.shape
        counts = np.bincount(data.labels, minlength=data.n_classes)
        return cls(h, w, c, data.class_names, levels, counts.tolist())

    def to_dict(self) -> dict:
        return {
            "version": STATE_VERSION,
            "kind": "image",
            "layout": self.layout.to_dict(),
            "class_names": self.class_names,
            "class_counts": self.class_counts,
        }

    def save(self, path: Path) -> None:
        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ImageEncoder":
        d = read_encoder_state(path, STATE_VERSION, kind="image")
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict) -> "ImageEncoder":
        lay = ImageLayout.from_dict(d["layout"])
        return cls(lay.height, lay.width, lay.channels, d["class_names"], lay.levels, d.get("class_counts"))

    # ---- float tensors (GAN, VAE) ------------------------------------------------------------------
    def encode(self, data: ImageSet) -> tuple[np.ndarray, np.ndarray]:
        """ImageSet -> (float32 [N, C, H, W] in [-1, 1], int64 labels [N] in this encoder's classes)."""
        images = self._check_images(data.images, "encode")
        x = images.transpose(0, 3, 1, 2).astype(np.float32)
        x = x * np.float32(2 / 255) - np.float32(1)
        return np.ascontiguousarray(x), self.labels_for(data)

    def decode(self, x) -> np.ndarray:
        """float [N, C, H, W] (numpy or torch; values outside [-1, 1] are clipped) -> uint8 [N, H, W, C]."""
        x = _numpy(x)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.layout.shape:
            raise ValueError(f"expected [N, {', '.join(map(str, self.layout.shape))}], got {tuple(x.shape)}")
        x = np.clip(np.nan_to_num(x.astype(np.float32), nan=0.0), -1, 1)
        u = np.rint((x + np.float32(1)) * np.float32(127.5)).astype(np.uint8)
        return np.ascontiguousarray(u.transpose(0, 2, 3, 1))

    # ---- pixel tokens (autoregressive) -------------------------------------------------------------
    def to_tokens(self, images) -> np.ndarray:
        """uint8 [N, H, W, C] (or an ImageSet) -> int64 tokens [N, H*W*C] in [0, levels)."""
        if isinstance(images, ImageSet):
            images = images.images
        images = self._check_images(images, "to_tokens")
        return self._quant[images.reshape(len(images), -1)]

    def from_tokens(self, tokens) -> np.ndarray:
        """int tokens [N, H*W*C] (numpy or torch) -> uint8 [N, H, W, C] (each token's grey level)."""
        t = _numpy(tokens)
        lay = self.layout
        if t.ndim != 2 or t.shape[1] != lay.n_tokens:
            raise ValueError(f"tokens must have shape [N, {lay.n_tokens}], got {tuple(t.shape)}")
        if t.size and (t.min() < 0 or t.max() >= lay.levels):
            raise ValueError(f"tokens lie in [{t.min()}, {t.max()}], outside [0, {lay.levels})")
        return self._dequant[t.astype(np.int64)].reshape(len(t), lay.height, lay.width, lay.channels)

    # ---- helpers ------------------------------------------------------------------------------------
    def _check_images(self, images, what: str) -> np.ndarray:
        images = np.asarray(images)
        lay = self.layout
        want = (lay.height, lay.width, lay.channels)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != want:
            raise SynthgenError(
                f"{what}: images are {images.dtype} {tuple(images.shape)}, but the encoder was "
                f"fitted on uint8 [N, {', '.join(map(str, want))}]; load the source with the "
                f"same size and channels"
            )
        return images

    def labels_for(self, data: ImageSet) -> np.ndarray:
        """The set's labels in this encoder's class order (matched by class name)."""
        if list(data.class_names) == self.class_names:
            return data.labels.astype(np.int64, copy=True)
        index = {n: i for i, n in enumerate(self.class_names)}
        unknown = [n for n in data.class_names if n not in index]
        used = set(np.unique(data.labels).tolist())
        unknown = [n for i, n in enumerate(data.class_names) if n in unknown and i in used]
        if unknown:
            raise SynthgenError(
                f"class(es) {unknown[:5]} were not seen when the encoder was fitted (it knows {self.class_names[:10]})"
            )
        remap = np.array([index.get(n, -1) for n in data.class_names], np.int64)
        return remap[data.labels]


def _numpy(x) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    return np.asarray(x)
