"""Images through the Python API (synthgen/api.py): arrays or a folder in, arrays or PNGs out.

    synth = synthgen.Synthesizer(model="vae", trainer={"max_epochs": 5}).fit(images, labels)
    fake, fake_labels = synth.sample(100, conditions={"label": 3}, seed=1)   # uint8, as the input
    synth.sample(1000, out_dir="fake")      # also fake/<class>/img-*.png + fake/_manifest.parquet

Nothing here reads or writes images itself: an array is stored as the `npz` image source the CLI
reads (conf/data/images.yaml, synthgen/image_sources.py), a folder or .npz path is that source as
it is, and sampling is the generate stage, whose PNGs and manifest (synthgen/writers/image.py) are
read back with read_synthetic_images. Arrays given to `evaluate` are written with the same writer.

Input arrays: uint8 [N, H, W] or [N, H, W, C] (C = 1, 3 or 4; alpha is dropped), or float in
[0, 1] (scaled by 255 and rounded). Output arrays are uint8 with the input's layout ([n, H, W] for a
[N, H, W] input, [n, H, W, C] otherwise). Labels: one whole number or string per image; without
them the images are one class and `sample` returns the images alone, with them `(images, labels)`
in the labels' own type.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synthgen.errors import SynthgenError

META = "api_images.json"  # {"ndim": 3 | 4, "labels": "none" | "int" | "str"} in the out dir and a saved folder


# ---- what the input is ------------------------------------------------------------------------------
def is_image_input(data) -> bool:
    """An array (or (array, labels)), an .npz file, or a folder of class subfolders holding images."""
    from synthgen.image_sources import IMAGE_SUFFIXES

    if isinstance(data, tuple) and len(data) == 2:
        data = data[0]
    if isinstance(data, np.ndarray):
        return True
    if not isinstance(data, (str, Path)):
        return False
    path = Path(data)
    if path.is_file():
        return path.suffix.lower() == ".npz"
    if not path.is_dir():
        return False
    for sub in path.iterdir():  # the ImageFolder layout: <class>/<image>
        if sub.is_dir() and not sub.name.startswith("."):
            if any(f.suffix.lower() in IMAGE_SUFFIXES for f in sub.iterdir()):
                return True
    return False


def check_images(images, what: str = "images") -> tuple[np.ndarray, int]:
    """(uint8 [N, H, W, C], the input's ndim) or a one-line SynthgenError saying what to fix."""
    if not isinstance(images, np.ndarray):
        raise SynthgenError(f"{what}: expected a numpy array [N, H, W] or [N, H, W, C], got {type(images).__name__}")
    if images.ndim not in (3, 4):
        raise SynthgenError(
            f"{what}: shape {images.shape} has {images.ndim} dimensions; give [N, H, W] or [N, H, W, C]"
        )
    if images.ndim == 4 and images.shape[3] not in (1, 3, 4):
        raise SynthgenError(f"{what}: {images.shape[3]} channels in {images.shape}; give 1 (grey), 3 (RGB) or 4 (RGBA)")
    if len(images) == 0 or min(images.shape[1:3]) == 0:
        raise SynthgenError(f"{what}: shape {images.shape} holds no images")
    ndim = images.ndim
    if images.dtype == np.uint8:
        pass
    elif images.dtype.kind == "f":
        lo, hi = float(np.min(images)), float(np.max(images))
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi > 1:
            raise SynthgenError(
                f"{what}: float pixels must lie in [0, 1] (found {lo:.4g}..{hi:.4g}); scale them, or give uint8 0..255"
            )
        images = np.rint(images * 255).astype(np.uint8)
    else:
        raise SynthgenError(
            f"{what}: pixels are {images.dtype}; give uint8 (0..255) or float (0..1), e.g. images.astype(np.uint8)"
        )
    return (images[..., None] if ndim == 3 else images), ndim


def check_labels(labels, n: int, what: str = "labels") -> tuple[np.ndarray, str]:
    """(labels as an int64 or str array [n], "int" | "str") or a one-line SynthgenError."""
    raw = np.asarray(labels)
    if raw.ndim != 1 or len(raw) != n:
        raise SynthgenError(f"{what}: shape {raw.shape} but {n} images; give one label per image")
    if raw.dtype.kind == "O":
        if any(v is None or (isinstance(v, float) and v != v) for v in raw):
            raise SynthgenError(f"{what}: some labels are missing (None/NaN); drop those images")
        kinds = {type(v) for v in raw}
        if all(issubclass(k, (int, np.integer)) and not issubclass(k, bool) for k in kinds):
            raw = raw.astype(np.int64)
        elif all(issubclass(k, str) for k in kinds):
            raw = raw.astype(str)
        else:
            raise SynthgenError(
                f"{what}: labels mix types {sorted(k.__name__ for k in kinds)}; use all ints or all strings"
            )
    if raw.dtype.kind in "iu":
        return raw.astype(np.int64), "int"
    if raw.dtype.kind in "US":
        raw = raw.astype(str)
        for name in np.unique(raw).tolist():  # each class becomes an output folder <class>/
            if not name or name in (".", "..") or name.startswith(".") or any(c in name for c in "/\\\0"):
                raise SynthgenError(f"{what}: {name!r} cannot name a class folder (slashes, leading dot); rename it")
        return raw, "str"
    raise SynthgenError(f"{what}: labels are {raw.dtype}; use whole numbers or strings (class names)")


def _write_npz(images: np.ndarray, labels: np.ndarray, path: Path) -> str:
    """The CLI's npz image source (images, labels) in the out dir's input/."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, images=images, labels=labels)
    return str(path)


def source_spec(data, labels, where: Path, stem: str, what: str, parquet: bool = False) -> tuple[dict, dict]:
    """An image input -> (the image source's keys, META for the output). Arrays are written as npz."""
    if isinstance(data, tuple) and len(data) == 2 and labels is None:
        data, labels = data
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.exists():
            raise SynthgenError(f"{what}: not found: {path}")
        if labels is not None:
            raise SynthgenError(
                f"{what}: labels= is for arrays; a folder's classes are its subfolders (an .npz holds its labels)"
            )
        if path.is_dir():
            kind = "folder"
        elif path.suffix.lower() == ".npz":
            kind = "npz"
        elif path.suffix.lower() == ".parquet" and parquet:
            kind = "parquet"
        else:
            raise SynthgenError(f"{what}: {path} is not an image folder (<class>/<image>.png) or an .npz file")
        return {"kind": kind, "path": str(path.resolve())}, {"ndim": 4, "labels": "str"}
    images, ndim = check_images(data, what)
    if labels is None:
        values, kind = np.zeros(len(images), np.int64), "none"
    else:
        values, kind = check_labels(labels, len(images), "labels" if what == "images" else f"{what} labels")
    return {"kind": "npz", "path": _write_npz(images, values, where / f"{stem}.npz")}, {"ndim": ndim, "labels": kind}


def data_overrides(data, labels, holdout, name, size, channels, where: Path) -> tuple[dict, dict | None, dict]:
    """(config overrides, data.holdout_source or None, META) for fit(images, labels, holdout=...)."""
    parquet = isinstance(data, (str, Path)) and Path(data).suffix.lower() == ".parquet"
    spec, meta = source_spec(data, labels, where, "images", "images", parquet)
    values = {
        "data": "images",
        **{f"data.source.{k}": v for k, v in spec.items()},
        "data.name": name or (Path(data).stem if isinstance(data, (str, Path)) else "images"),
    }
    if size is not None:
        values["data.source.size"] = list(size) if isinstance(size, (tuple, list)) else size
    if channels is not None:
        values["data.source.channels"] = channels
    holdout_source = None
    if isinstance(holdout, float):
        values["data.holdout_share"] = holdout
    elif holdout is not None:
        if isinstance(holdout, np.ndarray) and meta["labels"] != "none":
            raise SynthgenError("holdout: the training images have labels; give holdout=(images, labels)")
        if isinstance(holdout, tuple) and meta["labels"] == "none":
            raise SynthgenError("holdout: the training images have no labels; give the holdout images alone")
        holdout_source = source_spec(holdout, None, where, "holdout", "holdout")[0]
    return values, holdout_source, meta


def record_meta(cfg, meta: dict) -> None:
    """META in the out dir, and beside the encoder on the MLflow train run, so that a model loaded
    from a run id (registry.fetch_model downloads encoder/) returns the same arrays."""
    from synthgen import tracking
    from synthgen.io import atomic_write_text
    from synthgen.paths import RunPaths

    paths = RunPaths.from_config(cfg)
    atomic_write_text(paths.out / META, json.dumps(meta) + "\n")
    run_id = tracking.read_run_info(paths)
    if run_id:
        tracking.client(cfg, paths).log_artifact(run_id, str(paths.out / META), "encoder")


def read_meta(folder: Path, n_classes: int) -> dict:
    """What fit was given; a CLI out dir (no META): [n, H, W, C] arrays, labels when it has classes."""
    for path in (Path(folder) / META, Path(folder) / "encoder" / META):
        if path.exists():
            return json.loads(path.read_text())
    return {"ndim": 4, "labels": "str" if n_classes > 1 else "none"}


# ---- sample --------------------------------------------------------------------------------------------
def condition_for(conditions, enc, meta: dict) -> dict:
    """sample(conditions={"label": 3}) -> generate.condition {"label": "3"} (a class name), checked here
    so the message names the API's argument."""
    if not conditions:
        return {}
    if not isinstance(conditions, dict) or set(conditions) != {"label"}:
        raise SynthgenError(f"conditions={conditions!r}: images take {{'label': <class>}} only")
    if meta["labels"] == "none":
        raise SynthgenError("conditions: this model was fitted without labels; fit(images, labels) to condition")
    value = conditions["label"]
    value = value.item() if isinstance(value, np.generic) else value
    name = str(value)
    if isinstance(value, bool) or name not in enc.class_names:
        raise SynthgenError(
            f"conditions: label {value!r} is not a class of the training images ({enc.class_names[:20]})"
        )
    return {"label": name}


def check_out_dir(out_dir) -> Path:
    """A folder sample() may write PNGs into: new, empty, or an earlier generated set (replaced whole)."""
    from synthgen.image_sources import IMAGE_MANIFEST

    out = Path(out_dir).resolve()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / IMAGE_MANIFEST).exists())):
        raise SynthgenError(f"out_dir={out_dir}: exists and is not a generated image set; pick a new folder")
    return out


def read_back(folder: Path, enc, meta: dict):
    """The generated set at `folder` as the user's arrays: images (and labels unless fitted without)."""
    from synthgen.image_sources import read_synthetic_images

    images, labels = read_synthetic_images(folder)
    if meta["ndim"] == 3:
        images = images[..., 0]
    if meta["labels"] == "none":
        return images
    names = np.asarray(enc.class_names)[labels]
    return images, (names.astype(np.int64) if meta["labels"] == "int" else names)


# ---- evaluate --------------------------------------------------------------------------------------------
def write_image_set(data, labels, folder: Path, enc, seed: int, what: str) -> int:
    """Synthetic images from any tool (an array, (array, labels), a folder or .npz) -> `folder` as the
    generate stage writes it (<class>/img-*.png + _manifest.parquet), in the encoder's classes, size
    and channels. Returns the image count."""
    from synthgen.image_sources import load_image_source
    from synthgen.writers.image import write_image_chunk, write_image_manifest

    h, w, c = enc.layout.height, enc.layout.width, enc.layout.channels
    if isinstance(data, tuple) and len(data) == 2 and labels is None:
        data, labels = data
    if isinstance(data, np.ndarray):
        images, _ = check_images(data, what)
        if images.shape[3] == 4:
            images = images[..., :3]
        if labels is None:
            if len(enc.class_names) > 1:
                raise SynthgenError(
                    f"{what}: the real images have classes {enc.class_names[:10]}; give (images, labels)"
                )
            names = np.full(len(images), enc.class_names[0])
        else:
            names = check_labels(labels, len(images), f"{what} labels")[0].astype(str)
    else:
        spec, _ = source_spec(data, labels, folder.parent, "unused", what)
        got = load_image_source(spec)
        images, names = got.images, np.asarray(got.class_names)[got.labels]
    if images.shape[1:] != (h, w, c):
        raise SynthgenError(f"{what}: images are {images.shape[1:]} (H, W, C) but the real ones {(h, w, c)}")
    unknown = sorted(set(names.tolist()) - set(enc.class_names))
    if unknown:
        raise SynthgenError(f"{what}: label(s) {unknown[:5]} are not classes of the real images {enc.class_names[:10]}")
    index = {n: i for i, n in enumerate(enc.class_names)}
    y = np.array([index[n] for n in names.tolist()], np.int64)
    rows = write_image_chunk(folder, 0, images, y, enc.class_names, seed, first_index=0)
    write_image_manifest(folder, rows, {"seed": seed, "class_names": enc.class_names, "source": what})
    return len(rows)


def evaluate_images(real, synthetic, holdout, *, name, out_dir, verbose: bool, overrides: dict):
    """synthgen.evaluate for images: prepare and encode `real` (its holdout split off, or `holdout`),
    write `synthetic` as a generated set in <out>/synthetic, then the evaluate stage as the CLI runs it
    (the same metrics, report, gate and MLflow run; a top-level run, since no train run made the set)."""
    from synthgen import api, pipeline
    from synthgen.modalities import handler_for

    out = Path(out_dir).resolve() if out_dir else api._fresh_dir("outputs/api", "evaluate")
    with api._cleanup_on_error(out):
        values, holdout_source, _ = data_overrides(real, None, holdout, name, None, None, out / "input")
        cfg = api._compose({**values, "paths.out_dir": str(out), **overrides})
        if holdout_source:
            api._set(cfg, "data.holdout_source", holdout_source)
        with api.quiet(verbose):
            paths = pipeline.prepare(cfg)
            pipeline.encode(cfg)
            enc = handler_for(cfg, paths).load_encoder()
            write_image_set(synthetic, None, paths.synthetic, enc, int(cfg.seed), "synthetic")
            result, passed, reason, paths = pipeline.score(cfg)
    return api._evaluation(result, passed, reason, paths)


def synthetic_set(synthetic, cfg, enc) -> Path:
    """Synthesizer.evaluate(synthetic=...) for images: the set written under <out>/input/synthetic."""
    import shutil

    folder = Path(cfg.paths.out_dir) / "input" / "synthetic"
    shutil.rmtree(folder, ignore_errors=True)
    try:
        write_image_set(synthetic, None, folder, enc, int(cfg.seed), "synthetic")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
