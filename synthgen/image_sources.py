"""Image sources -> one ImageSet (uint8 [N, H, W, C] + int64 labels + class names), and a
generated folder read back through its manifest (read_synthetic_images).

Sources (`load_image_source(spec)`, spec["kind"]):
- "folder":  one subfolder per class (ImageFolder layout), png/jpg/bmp/gif/webp/tif, read with pillow;
- "npz":     arrays `images` uint8 [N, H, W] or [N, H, W, C] and `labels` [N] (key names configurable);
- "parquet": a binary column of encoded images (PNG/JPEG; also Hugging Face's {bytes, path} struct)
             and a label column;
- "digits":  scikit-learn's load_digits (1,797 8x8 images, 0..16 scaled to 0..255);
- "mnist5k": the bundled 5,000 MNIST digits (data/mnist5k); split "train"/"test" is `mnist5k_split`.

Every image is converted to the configured size and channels (pillow resize, convert to "L" or
"RGB"). An unreadable image raises a one-line SynthgenError naming it, or with on_error="skip" is
skipped and counted in `ImageSet.skipped`. The output side (PNGs, manifest, grids) is
synthgen/writers/image.py and writers/png.py.
"""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from synthgen.errors import SynthgenError

ROOT = Path(__file__).resolve().parent.parent
MNIST5K_PATH = ROOT / "data" / "mnist5k" / "mnist5k.npz"
MNIST5K_SEED, MNIST5K_TRAIN = 0, 4000
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
IMAGE_MANIFEST = "_manifest.parquet"  # leading underscore: folder and Parquet dataset readers skip it
_MODES = {1: "L", 3: "RGB"}
# Exceptions pillow raises for a file it cannot decode (truncated, unknown format, bad header...).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, TypeError, Image.DecompressionBombError)
_COMMON_KEYS = {"kind", "size", "channels", "on_error", "resample"}
_KIND_KEYS = {
    "folder": {"path"},
    "npz": {"path", "images_key", "labels_key", "class_names"},
    "parquet": {"path", "image_column", "label_column", "class_names"},
    "digits": set(),
    "mnist5k": {"path", "split"},
}


@dataclass
class ImageSet:
    """images uint8 [N, H, W, C]; labels int64 [N], indices into class_names."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    skipped: list[str] = field(default_factory=list)  # sources of images skipped with on_error="skip"

    def __post_init__(self):
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 [N, H, W, C], got {self.images.dtype} {self.images.shape}")
        self.labels = np.asarray(self.labels, dtype=np.int64)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"{len(self.images)} images but labels of shape {self.labels.shape}")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
            raise ValueError(f"labels must lie in [0, {len(self.class_names)})")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image."""
        return tuple(self.images.shape[1:])

    def subset(self, index) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], list(self.class_names))


# ---- reading -------------------------------------------------------------------------------------
def load_image_source(spec: dict) -> ImageSet:
    """Read any image source into one ImageSet of the configured size and channels.

    spec: {"kind": ..., "path": ..., "size": 28 | [H, W] | None, "channels": 1 | 3 | None,
    "on_error": "raise" | "skip", "resample": "bilinear" | "nearest" | "bicubic" | "lanczos"} plus,
    for npz, images_key/labels_key/class_names; for parquet, image_column/label_column/class_names;
    for mnist5k, split ("all" | "train" | "test"). size/channels None keep the source's own (all
    images must then share it).
    """
    spec = _plain(spec)
    kind = spec.get("kind")
    if kind not in _KIND_KEYS:
        raise SynthgenError(f"image source kind={kind!r} is unknown; use one of {sorted(_KIND_KEYS)}")
    unknown = sorted(set(spec) - _COMMON_KEYS - _KIND_KEYS[kind])
    if unknown:
        raise SynthgenError(
            f"image source '{kind}' has unknown key(s) {unknown}; allowed: {sorted(_COMMON_KEYS | _KIND_KEYS[kind])}"
        )
    conv = _Conform.from_spec(spec)
    if kind == "digits":
        return _digits(conv)
    if kind == "mnist5k":
        return _mnist5k(spec, conv)
    if spec.get("path") in (None, ""):
        raise SynthgenError(f"image source '{kind}' needs a path")
    path = Path(spec["path"])
    if not path.exists():
        raise SynthgenError(
            f"image source not found: {path}; set the source path to an existing "
            f"{'folder' if kind == 'folder' else kind + ' file'}"
        )
    if kind == "folder":
        return _folder(path, conv)
    if kind == "npz":
        return _npz(path, spec, conv)
    return _parquet(path, spec, conv)


def mnist5k_permutation() -> np.ndarray:
    """The one MNIST-5k split: perm[:4000] is train, perm[4000:] test (kept in this order)."""
    return np.random.default_rng(MNIST5K_SEED).permutation(5000)


def mnist5k_split(data: ImageSet) -> tuple[ImageSet, ImageSet]:
    """(train, test) = (data[perm[:4000]], data[perm[4000:]]); every tool uses this function."""
    if len(data) != 5000:
        raise SynthgenError(f"mnist5k_split expects the 5,000 MNIST-5k images, got {len(data)}")
    perm = mnist5k_permutation()
    return data.subset(perm[:MNIST5K_TRAIN]), data.subset(perm[MNIST5K_TRAIN:])


def _plain(spec) -> dict:
    try:
        from omegaconf import DictConfig, OmegaConf

        if isinstance(spec, DictConfig):
            spec = OmegaConf.to_container(spec, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    if not isinstance(spec, dict):
        raise SynthgenError(f"image source spec must be a mapping, got {type(spec).__name__}")
    return dict(spec)


class _Conform:
    """Converts decoded images to one size and channel count; remembers the first size seen."""

    _RESAMPLE = {
        "nearest": Image.Resampling.NEAREST,
        "bilinear": Image.Resampling.BILINEAR,
        "bicubic": Image.Resampling.BICUBIC,
        "lanczos": Image.Resampling.LANCZOS,
    }

    def __init__(self, size, channels, on_error, resample):
        self.size, self.channels, self.on_error, self.resample = size, channels, on_error, resample
        self.first = None  # with no size configured: the first image, whose size all must share

    @classmethod
    def from_spec(cls, spec: dict) -> "_Conform":
        size = spec.get("size")
        if size is not None:
            if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
                size = (int(size), int(size))
            elif (
                isinstance(size, (list, tuple))
                and len(size) == 2
                and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
            ):
                size = (int(size[0]), int(size[1]))
            else:
                raise SynthgenError(f"image size={spec['size']!r} must be a whole number or [height, width]")
            if min(size) < 1 or max(size) > 4096:
                raise SynthgenError(f"image size={spec['size']!r} must lie between 1 and 4096 pixels")
        channels = spec.get("channels")
        if channels is not None and (isinstance(channels, bool) or channels not in _MODES):
            raise SynthgenError(f"image channels={channels!r} must be 1 (grayscale) or 3 (RGB)")
        on_error = spec.get("on_error", "raise")
        if on_error not in ("raise", "skip"):
            raise SynthgenError(f"on_error={on_error!r} must be 'raise' or 'skip'")
        resample = spec.get("resample", "bilinear")
        if resample not in cls._RESAMPLE:
            raise SynthgenError(f"resample={resample!r} must be one of {sorted(cls._RESAMPLE)}")
        return cls(size, channels, on_error, cls._RESAMPLE[resample])

    def image(self, im: Image.Image, name: str) -> np.ndarray:
        """A decoded pillow image -> uint8 [H, W, C] of the configured (or first seen) size/mode."""
        if self.channels is None:
            self.channels = 1 if im.mode in ("1", "L", "LA", "La", "I", "F") or im.mode.startswith("I;16") else 3
        im = _to_mode(im, _MODES[self.channels])
        hw = (im.height, im.width)
        if self.size is None:
            self.size, self.first = hw, name
        elif hw != self.size and self.first is not None:
            raise SynthgenError(
                f"{name}: image is {hw[0]}x{hw[1]} but {self.first} is "
                f"{self.size[0]}x{self.size[1]}; set the source size to convert them all"
            )
        if hw != self.size:
            im = im.resize((self.size[1], self.size[0]), self.resample)
        a = np.asarray(im, dtype=np.uint8)
        return a[:, :, None] if a.ndim == 2 else a

    def arrays(self, images: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, C] from memory; pillow only where the size or channels must change."""
        n, h, w, c = images.shape
        if c == 4:  # drop alpha, like pillow's RGBA -> RGB
            images, c = images[..., :3], 3
        if (self.size in (None, (h, w))) and self.channels in (None, c):
            self.size, self.channels = (h, w), c
            return np.ascontiguousarray(images)
        mode = {1: "L", 3: "RGB"}[c]
        out = [
            self.image(Image.fromarray(a[:, :, 0] if c == 1 else a, mode), f"image {i}") for i, a in enumerate(images)
        ]
        return np.stack(out) if out else np.zeros((0, *self.size, self.channels), np.uint8)


def _to_mode(im: Image.Image, mode: str) -> Image.Image:
    if im.mode == mode:
        return im
    if im.mode in ("I", "F") or im.mode.startswith("I;16"):  # pillow clips 16-bit to 8 bits; scale instead
        a = np.asarray(im).astype(np.float64)
        sixteen = im.mode.startswith("I;16") or (im.mode == "I" and a.size and a.max() > 255)
        a = np.clip(np.rint(a * (255 / 65535)) if sixteen else np.rint(a), 0, 255)
        im = Image.fromarray(a.astype(np.uint8), "L")
    elif im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    return im if im.mode == mode else im.convert(mode)


def _decode(data, name: str, conv: _Conform) -> np.ndarray | None:
    """Encoded bytes or a file path -> uint8 [H, W, C]; None when skipped (on_error="skip")."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. palette transparency, EXIF warnings
            with Image.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data) as im:
                im.load()
                return conv.image(im, name)
    except SynthgenError:
        raise
    except _DECODE_ERRORS as e:
        if conv.on_error == "skip":
            return None
        reason = "unknown or corrupt image format" if isinstance(e, Image.UnidentifiedImageError) else _first_line(e)
        raise SynthgenError(
            f"{name}: cannot read the image ({reason}); replace or remove it, "
            f"or set on_error=skip to skip unreadable images"
        ) from None


def _first_line(e: Exception) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def _collect(items, conv: _Conform, source: str, class_names: list[str]) -> ImageSet:
    """items: (data, name, label) -> ImageSet, counting the skipped ones."""
    images, labels, skipped = [], [], []
    for data, name, label in items:
        a = _decode(data, name, conv)
        if a is None:
            skipped.append(name)
        else:
            images.append(a)
            labels.append(label)
    if not images:
        raise SynthgenError(f"{source}: no readable images" + (f" ({len(skipped)} skipped)" if skipped else ""))
    if skipped:
        warnings.warn(f"{source}: skipped {len(skipped)} unreadable image(s), e.g. {skipped[0]}", stacklevel=3)
    return ImageSet(np.stack(images), np.array(labels, np.int64), class_names, skipped)


def _folder(root: Path, conv: _Conform) -> ImageSet:
    if not root.is_dir():
        raise SynthgenError(f"{root}: a folder source must be a folder with one subfolder per class")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    hidden = [n for n in folders if n.startswith(".")]
    if hidden:  # e.g. .ipynb_checkpoints, .git: skipped, but said so, since a class may hide there
        logging.getLogger("synthgen").warning(
            "%s: skipping hidden folder(s) %s; they are not classes", root, ", ".join(hidden)
        )
    classes = [n for n in folders if not n.startswith(".")]
    check_class_names(classes, str(root))  # before training: generate writes one folder per class
    items = []
    for label, name in enumerate(classes):
        for f in sorted((root / name).rglob("*")):
            rel = f.relative_to(root / name)
            if f.suffix.lower() in IMAGE_SUFFIXES and not any(p.startswith(".") for p in rel.parts) and f.is_file():
                items.append((f, str(f), label))
    if not items:
        raise SynthgenError(
            f"{root}: no images found; expected <class>/<image>.png (or jpg, bmp, gif, webp) in one subfolder per class"
        )
    return _collect(items, conv, str(root), classes)


def _npz(path: Path, spec: dict, conv: _Conform) -> ImageSet:
    ik, lk = spec.get("images_key", "images"), spec.get("labels_key", "labels")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in (ik, lk) if k not in z.files]
            if missing:
                raise SynthgenError(f"{path}: no array(s) {missing}; it holds {z.files} (set images_key / labels_key)")
            images, raw = z[ik], z[lk]
    except SynthgenError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise SynthgenError(f"{path}: cannot read it as .npz ({_first_line(e)})") from None
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise SynthgenError(
            f"{path}: '{ik}' has shape {images.shape}; expected [N, H, W] or [N, H, W, C] with C = 1, 3 or 4"
        )
    if images.dtype != np.uint8:
        ok = np.issubdtype(images.dtype, np.integer) and (
            images.size == 0 or (images.min() >= 0 and images.max() <= 255)
        )
        if not ok:
            raise SynthgenError(f"{path}: '{ik}' is {images.dtype}; store uint8 intensities 0..255")
        images = images.astype(np.uint8)
    if raw.ndim != 1 or len(raw) != len(images):
        raise SynthgenError(f"{path}: '{lk}' has shape {raw.shape}; expected one label per image ({len(images)})")
    labels, names = _labels(raw, spec.get("class_names"), f"{path} '{lk}'")
    return ImageSet(conv.arrays(images), labels, names)


def _labels(raw, class_names, source: str) -> tuple[np.ndarray, list[str]]:
    """Label values -> (int64 indices, class names). Given class_names: integer labels index them,
    string labels are looked up by name. Otherwise the sorted distinct values name the classes."""
    raw = np.asarray(raw)
    if raw.dtype.kind not in "iuUSO":
        raise SynthgenError(f"{source}: labels are {raw.dtype}; use whole numbers or strings")
    if raw.dtype.kind == "S":
        raw = raw.astype(str)
    if raw.dtype.kind == "O":
        if any(v is None for v in raw):
            raise SynthgenError(f"{source}: some labels are missing (null); drop those images")
        raw = raw.astype(str)
    if class_names is not None:
        names = [str(c) for c in class_names]
        if len(set(names)) != len(names):
            raise SynthgenError(f"class_names {names} repeat a name")
        if raw.dtype.kind in "iu":
            bad = raw[(raw < 0) | (raw >= len(names))]
            if len(bad):
                raise SynthgenError(f"{source}: label {bad[0]} is outside [0, {len(names)}) of class_names")
            labels = raw.astype(np.int64)
        else:
            index = {n: i for i, n in enumerate(names)}
            unknown = sorted(set(raw.astype(str).tolist()) - set(index))
            if unknown:
                raise SynthgenError(f"{source}: label(s) {unknown[:5]} are not in class_names")
            labels = np.array([index[v] for v in raw.astype(str).tolist()], np.int64)
    else:
        values, labels = np.unique(raw, return_inverse=True)
        names = [str(v) for v in values.tolist()]
    check_class_names(names, source)
    return labels.astype(np.int64).reshape(-1), names


def check_class_names(names: list[str], source: str) -> None:
    """Class names become folder names of the output: no separators, nothing hidden or empty."""
    for n in names:
        if not n or n in (".", "..") or n.startswith(".") or any(c in n for c in "/\\\0"):
            raise SynthgenError(f"{source}: class name {n!r} cannot be a folder name; rename it or give class_names")


def _parquet(path: Path, spec: dict, conv: _Conform) -> ImageSet:
    ic, lc = spec.get("image_column", "image"), spec.get("label_column", "label")
    try:
        names = pq.read_schema(path).names
        missing = [c for c in (ic, lc) if c not in names]
        if missing:
            raise SynthgenError(f"{path}: no column(s) {missing}; it has {names} (set image_column / label_column)")
        table = pq.read_table(path, columns=list(dict.fromkeys([ic, lc])))
    except SynthgenError:
        raise
    except (pa.ArrowException, OSError) as e:
        raise SynthgenError(f"{path}: cannot read it as Parquet ({_first_line(e)})") from None
    col = table.column(ic).combine_chunks()
    if pa.types.is_struct(col.type) and col.type.get_field_index("bytes") >= 0:  # Hugging Face Image feature
        col = col.field("bytes")
    if not (pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type) or pa.types.is_binary_view(col.type)):
        raise SynthgenError(f"{path}: column '{ic}' is {col.type}; it must hold encoded image bytes (binary)")
    lab = table.column(lc)
    if lab.null_count:
        raise SynthgenError(f"{path}: column '{lc}' has {lab.null_count} null label(s); drop those rows")
    if pa.types.is_dictionary(lab.type):
        lab = lab.cast(lab.type.value_type)
    if not (pa.types.is_integer(lab.type) or pa.types.is_string(lab.type) or pa.types.is_large_string(lab.type)):
        raise SynthgenError(f"{path}: label column '{lc}' is {lab.type}; use whole numbers or strings")
    labels, class_names = _labels(lab.to_numpy(zero_copy_only=False), spec.get("class_names"), f"{path} '{lc}'")
    blobs = col.to_pylist()
    items = ((b if b is not None else b"", f"{path} row {i}", labels[i]) for i, b in enumerate(blobs))
    return _collect(items, conv, str(path), class_names)


def _digits(conv: _Conform) -> ImageSet:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images * (255 / 16)).clip(0, 255).astype(np.uint8)[..., None]  # 0..16 -> 0..255
    return ImageSet(conv.arrays(images), d.target.astype(np.int64), [str(i) for i in range(10)])


def _mnist5k(spec: dict, conv: _Conform) -> ImageSet:
    split = spec.get("split", "all")
    if split not in ("all", "train", "test"):
        raise SynthgenError(f"mnist5k split={split!r} must be 'all', 'train' or 'test'")
    path = Path(spec.get("path") or MNIST5K_PATH)
    if not path.exists():
        raise SynthgenError(f"MNIST-5k not found at {path}; copy shared/data/mnist5k/mnist5k.npz there")
    data = _npz(path, {"class_names": [str(i) for i in range(10)]}, conv)
    if split == "all":
        return data
    return mnist5k_split(data)[0 if split == "train" else 1]


def read_synthetic_images(folder: Path, limit_per_class: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, H, W, C] and int64 labels [N] from a generated folder, in manifest order."""
    table = pq.read_table(Path(folder) / IMAGE_MANIFEST, columns=["path", "label"])
    paths, labels = table.column("path").to_pylist(), np.asarray(table.column("label").to_pylist(), np.int64)
    if limit_per_class is not None:
        keep = np.concatenate([np.flatnonzero(labels == k)[:limit_per_class] for k in np.unique(labels)])
        paths, labels = [paths[i] for i in np.sort(keep)], labels[np.sort(keep)]
    images = []
    for p in paths:
        with Image.open(Path(folder) / p) as im:
            a = np.asarray(im)
        images.append(a[..., None] if a.ndim == 2 else a)
    return np.stack(images), labels
