"""Image sources (folder, npz, parquet, digits, mnist5k) and the PNG shard writer + manifest.

Inputs are tiny images built here with pillow; only the mnist5k and digits tests read real data.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from synthgen.errors import SynthgenError
from synthgen.image_sources import IMAGE_MANIFEST, ImageSet, load_image_source, mnist5k_permutation, mnist5k_split
from synthgen.writers.image import write_image_chunk, write_image_manifest, write_png_parquet
from synthgen.writers.png import encode_png, sample_grid_png


def _rng_images(n, h, w, c, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _png_bytes(a: np.ndarray, fmt="PNG", mode=None) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a)
    if mode:
        im = im.convert(mode)
    im.save(buf, format=fmt)
    return buf.getvalue()


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


@pytest.fixture
def gray_folder(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    """ImageFolder with classes 'cat' (3) and 'dog' (2): lossless grey 6x5 PNGs, plus distractors."""
    root = tmp_path / "folder"
    imgs = _rng_images(5, 6, 5, 1)
    labels = np.array([0, 0, 0, 1, 1])
    for i, (a, lab) in enumerate(zip(imgs, labels)):
        d = root / ["cat", "dog"][lab]
        d.mkdir(parents=True, exist_ok=True)
        (d / f"im{i}.png").write_bytes(_png_bytes(a))
    (root / "cat" / "notes.txt").write_text("not an image")  # other files are ignored
    (root / "cat" / ".hidden.png").write_bytes(b"garbage")  # hidden (e.g. temporary) files too
    (root / "_manifest.parquet").write_bytes(b"x")  # files at the top level too
    (root / ".partial").mkdir()  # and hidden folders
    return root, imgs, labels


# ---- folder -------------------------------------------------------------------------------------
def test_folder_lossless_png(gray_folder):
    root, imgs, labels = gray_folder
    s = load_image_source({"kind": "folder", "path": str(root)})
    assert s.class_names == ["cat", "dog"]
    assert s.images.dtype == np.uint8 and s.images.shape == (5, 6, 5, 1)
    np.testing.assert_array_equal(s.images, imgs)
    np.testing.assert_array_equal(s.labels, labels)
    assert s.labels.dtype == np.int64 and s.skipped == []


def test_folder_every_format_converted_to_one_size_and_mode(tmp_path):
    root = tmp_path / "mixed"
    rgb = _rng_images(1, 12, 10, 3, seed=1)[0]
    files = {
        "a/x.png": _png_bytes(rgb),
        "a/y.jpg": _png_bytes(rgb, "JPEG"),
        "b/z.bmp": _png_bytes(rgb, "BMP"),
        "b/w.gif": _png_bytes(rgb, "GIF"),
        "c/v.webp": _png_bytes(rgb, "WEBP"),
        "c/rgba.png": _png_bytes(np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])),
        "c/sub/small.PNG": _png_bytes(rgb[:4, :4]),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    s = load_image_source({"kind": "folder", "path": root, "size": 8, "channels": 1})
    assert s.images.shape == (7, 8, 8, 1) and s.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(np.bincount(s.labels), [2, 2, 3])
    s3 = load_image_source({"kind": "folder", "path": root, "size": [4, 6], "channels": 3})
    assert s3.images.shape == (7, 4, 6, 3)


def test_mode_conversion_matches_pillow(tmp_path):
    rgb = _rng_images(1, 5, 7, 3, seed=2)[0]
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "a.png").write_bytes(_png_bytes(rgb))
    grey = load_image_source({"kind": "folder", "path": tmp_path, "channels": 1}).images[0, :, :, 0]
    np.testing.assert_array_equal(grey, np.asarray(Image.fromarray(rgb).convert("L")))
    back = load_image_source({"kind": "folder", "path": tmp_path, "channels": 3}).images[0]
    np.testing.assert_array_equal(back, rgb)  # already RGB: untouched
    # grey -> RGB repeats the channel; no channels given: the first image's own mode
    (tmp_path / "k" / "a.png").write_bytes(_png_bytes(grey[:, :, None]))
    s = load_image_source({"kind": "folder", "path": tmp_path, "channels": 3})
    assert (s.images[0] == grey[:, :, None]).all()
    assert load_image_source({"kind": "folder", "path": tmp_path}).images.shape == (1, 5, 7, 1)


def test_16bit_png_is_scaled_not_clipped(tmp_path):
    (tmp_path / "k").mkdir()
    a = np.array([[0, 257 * 128, 65535]], np.uint16)
    Image.fromarray(a).save(tmp_path / "k" / "deep.png")
    s = load_image_source({"kind": "folder", "path": tmp_path, "channels": 1})
    np.testing.assert_array_equal(s.images[0, 0, :, 0], [0, 128, 255])


def test_mixed_sizes_without_size_is_an_error(gray_folder):
    root, imgs, _ = gray_folder
    (root / "dog" / "big.png").write_bytes(_png_bytes(_rng_images(1, 9, 9, 1)[0]))
    with pytest.raises(SynthgenError) as e:
        load_image_source({"kind": "folder", "path": root})
    msg = _one_line(e)
    assert "big.png" in msg and "9x9" in msg and "size" in msg
    assert load_image_source({"kind": "folder", "path": root, "size": 6}).images.shape == (6, 6, 6, 1)


@pytest.mark.parametrize("bad", [b"not an image at all", "truncated"])
def test_corrupt_file_raises_naming_it_or_is_skipped(gray_folder, bad):
    root, imgs, _ = gray_folder
    if bad == "truncated":
        bad = _png_bytes(_rng_images(1, 40, 40, 1)[0])[:60]
    (root / "dog" / "broken.png").write_bytes(bad)
    with pytest.raises(SynthgenError) as e:
        load_image_source({"kind": "folder", "path": root})
    msg = _one_line(e)
    assert str(root / "dog" / "broken.png") in msg and "on_error=skip" in msg
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        s = load_image_source({"kind": "folder", "path": root, "on_error": "skip"})
    assert len(s) == 5 and s.skipped == [str(root / "dog" / "broken.png")]


def test_all_unreadable_or_empty_folder(tmp_path):
    (tmp_path / "k").mkdir()
    (tmp_path / "k" / "a.png").write_bytes(b"junk")
    with pytest.raises(SynthgenError, match=r"no readable images \(1 skipped\)"):
        load_image_source({"kind": "folder", "path": tmp_path, "on_error": "skip"})
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SynthgenError, match="no images found"):
        load_image_source({"kind": "folder", "path": empty})


@pytest.mark.parametrize(
    "spec, needle",
    [
        ({"kind": "folder", "path": "/nonexistent/imgs"}, "/nonexistent/imgs"),
        ({"kind": "npz", "path": "/nonexistent/x.npz"}, "/nonexistent/x.npz"),
        ({"kind": "parquet", "path": "/nonexistent/x.parquet"}, "/nonexistent/x.parquet"),
        ({"kind": "zip", "path": "x"}, "kind='zip'"),
        ({"kind": "folder", "path": "x", "on_eror": "skip"}, "on_eror"),
        ({"kind": "digits", "on_error": "ignore"}, "on_error"),
        ({"kind": "digits", "channels": 2}, "channels"),
        ({"kind": "digits", "size": "big"}, "size"),
        ({"kind": "digits", "resample": "magic"}, "resample"),
        ({"kind": "mnist5k", "split": "val"}, "split"),
        ({"kind": "npz"}, "needs a path"),
    ],
)
def test_bad_specs_give_one_line_errors(spec, needle):
    with pytest.raises(SynthgenError) as e:
        load_image_source(spec)
    assert needle in _one_line(e)


def test_spec_may_be_an_omegaconf_node(gray_folder):
    from omegaconf import OmegaConf

    root, imgs, _ = gray_folder
    s = load_image_source(OmegaConf.create({"kind": "folder", "path": str(root), "size": None}))
    np.testing.assert_array_equal(s.images, imgs)


# ---- npz ----------------------------------------------------------------------------------------
def test_npz_shapes_keys_and_labels(tmp_path):
    imgs = _rng_images(6, 4, 3, 1)
    p = tmp_path / "a.npz"
    np.savez(p, images=imgs[..., 0], labels=np.array([3, 3, 7, 7, 9, 3]))
    s = load_image_source({"kind": "npz", "path": p})
    np.testing.assert_array_equal(s.images, imgs)
    assert s.class_names == ["3", "7", "9"] and s.labels.tolist() == [0, 0, 1, 1, 2, 0]
    q = tmp_path / "b.npz"
    np.savez(q, X=_rng_images(6, 4, 3, 3), y=np.array(["b", "a", "b", "a", "a", "b"]))
    s = load_image_source({"kind": "npz", "path": q, "images_key": "X", "labels_key": "y", "channels": 1, "size": 2})
    assert s.images.shape == (6, 2, 2, 1) and s.class_names == ["a", "b"]
    s = load_image_source({"kind": "npz", "path": q, "images_key": "X", "labels_key": "y", "class_names": ["b", "a"]})
    assert s.labels.tolist() == [0, 1, 0, 1, 1, 0] and s.images.shape == (6, 4, 3, 3)
    with pytest.raises(SynthgenError) as e:
        load_image_source({"kind": "npz", "path": q})
    assert "['images', 'labels']" in _one_line(e) and "'X'" in str(e.value)


def test_npz_bad_contents(tmp_path):
    p = tmp_path / "f.npz"
    np.savez(p, images=np.zeros((2, 3, 3), np.float32), labels=np.array([0, 1]))
    with pytest.raises(SynthgenError, match="uint8"):
        load_image_source({"kind": "npz", "path": p})
    np.savez(p, images=np.zeros((2, 3, 3), np.uint8), labels=np.array([0, 5]))
    with pytest.raises(SynthgenError, match="outside"):
        load_image_source({"kind": "npz", "path": p, "class_names": ["a", "b"]})
    np.savez(p, images=np.zeros((2, 3, 3), np.uint8), labels=np.array([0, 1, 1]))
    with pytest.raises(SynthgenError, match="one label per image"):
        load_image_source({"kind": "npz", "path": p})
    np.savez(p, images=np.zeros((2, 3, 3), np.uint8), labels=np.array(["ok", "a/b"]))
    with pytest.raises(SynthgenError, match="folder name"):
        load_image_source({"kind": "npz", "path": p})
    p.write_bytes(b"not a zip")
    with pytest.raises(SynthgenError, match="cannot read"):
        load_image_source({"kind": "npz", "path": p})


# ---- parquet ------------------------------------------------------------------------------------
def _parquet_source(path: Path, imgs: np.ndarray, labels, fmt="PNG") -> Path:
    pq.write_table(
        pa.table({"img": pa.array([_png_bytes(a, fmt) for a in imgs], pa.binary()), "digit": pa.array(labels)}), path
    )
    return path


def test_parquet_png_and_jpeg_bytes(tmp_path):
    imgs = _rng_images(4, 5, 5, 1)
    p = _parquet_source(tmp_path / "d.parquet", imgs, ["x", "y", "x", "y"])
    s = load_image_source({"kind": "parquet", "path": p, "image_column": "img", "label_column": "digit"})
    np.testing.assert_array_equal(s.images, imgs)
    assert s.class_names == ["x", "y"] and s.labels.tolist() == [0, 1, 0, 1]
    j = _parquet_source(tmp_path / "j.parquet", _rng_images(3, 16, 16, 3), [2, 0, 2], fmt="JPEG")
    s = load_image_source(
        {
            "kind": "parquet",
            "path": j,
            "image_column": "img",
            "label_column": "digit",
            "channels": 3,
            "class_names": ["zero", "one", "two"],
        }
    )
    assert s.images.shape == (3, 16, 16, 3) and s.labels.tolist() == [2, 0, 2] and s.n_classes == 3


def test_parquet_hugging_face_struct_column(tmp_path):
    imgs = _rng_images(2, 3, 3, 1)
    col = pa.array(
        [{"bytes": _png_bytes(a), "path": None} for a in imgs],
        pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )
    pq.write_table(pa.table({"image": col, "label": [1, 0]}), tmp_path / "hf.parquet")
    s = load_image_source({"kind": "parquet", "path": tmp_path / "hf.parquet"})
    np.testing.assert_array_equal(s.images, imgs)


def test_parquet_errors(tmp_path):
    p = _parquet_source(tmp_path / "d.parquet", _rng_images(2, 3, 3, 1), [0, 1])
    with pytest.raises(SynthgenError) as e:
        load_image_source({"kind": "parquet", "path": p, "image_column": "img", "label_column": "klass"})
    msg = _one_line(e)
    assert "'klass'" in msg and "'digit'" in msg and str(p) in msg
    with pytest.raises(SynthgenError, match="binary"):
        load_image_source({"kind": "parquet", "path": p, "image_column": "digit", "label_column": "digit"})
    t = pq.read_table(p)
    bad = t.set_column(0, "img", pa.array([t.column("img")[0].as_py(), b"\x89PNG broken"], pa.binary()))
    pq.write_table(bad, p)
    with pytest.raises(SynthgenError) as e:
        load_image_source({"kind": "parquet", "path": p, "image_column": "img", "label_column": "digit"})
    assert f"{p} row 1" in _one_line(e)
    with pytest.warns(UserWarning):
        s = load_image_source(
            {"kind": "parquet", "path": p, "image_column": "img", "label_column": "digit", "on_error": "skip"}
        )
    assert len(s) == 1 and s.skipped == [f"{p} row 1"] and s.class_names == ["0", "1"]
    (tmp_path / "x.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(SynthgenError, match="cannot read it as Parquet"):
        load_image_source({"kind": "parquet", "path": tmp_path / "x.parquet"})


# ---- built-in sources ---------------------------------------------------------------------------
def test_digits():
    from sklearn.datasets import load_digits

    s = load_image_source({"kind": "digits"})
    raw = load_digits()
    assert s.images.shape == (1797, 8, 8, 1) and s.class_names == [str(i) for i in range(10)]
    np.testing.assert_array_equal(s.images[..., 0], np.rint(raw.images * 255 / 16).astype(np.uint8))
    assert s.images.max() == 255 and s.images.min() == 0
    np.testing.assert_array_equal(s.labels, raw.target)
    assert load_image_source({"kind": "digits", "size": 28}).images.shape == (1797, 28, 28, 1)


def test_mnist5k_and_its_one_split():
    full = load_image_source({"kind": "mnist5k"})
    assert full.images.shape == (5000, 28, 28, 1) and np.bincount(full.labels).tolist() == [500] * 10
    perm = np.random.default_rng(0).permutation(5000)
    np.testing.assert_array_equal(mnist5k_permutation(), perm)
    train, test = mnist5k_split(full)
    assert len(train) == 4000 and len(test) == 1000
    np.testing.assert_array_equal(train.images, full.images[perm[:4000]])
    np.testing.assert_array_equal(test.labels, full.labels[perm[4000:]])
    tr = load_image_source({"kind": "mnist5k", "split": "train"})
    te = load_image_source({"kind": "mnist5k", "split": "test"})
    np.testing.assert_array_equal(tr.images, train.images)
    np.testing.assert_array_equal(te.images, test.images)
    hashes = {hashlib.sha256(a.tobytes()).hexdigest() for a in tr.images}
    assert not any(hashlib.sha256(a.tobytes()).hexdigest() in hashes for a in te.images)
    with pytest.raises(SynthgenError, match="5,000"):
        mnist5k_split(train)


# ---- writer -------------------------------------------------------------------------------------
CLASSES = ["zero", "one", "two"]


def _write_all(out: Path, images, labels, chunk_size=7, order=None, workers=1) -> list[dict]:
    starts = list(range(0, len(images), chunk_size))
    rows = []
    for c in order or range(len(starts)):
        s = starts[c]
        rows += write_image_chunk(
            out,
            c,
            images[s : s + chunk_size],
            labels[s : s + chunk_size],
            CLASSES,
            seed=5,
            first_index=s,
            workers=workers,
        )
    write_image_manifest(out, rows, extra={"class_names": CLASSES})
    return rows


def _tree(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("channels", [1, 3])
def test_writer_same_inputs_same_bytes_whatever_order_or_threads(tmp_path, channels):
    images = _rng_images(100, 6, 5, channels)
    labels = np.random.default_rng(1).integers(0, 3, 100)
    _write_all(tmp_path / "a", images, labels)
    _write_all(tmp_path / "b", images, labels, order=list(range(15))[::-1], workers=4)  # other "ranks"
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert a == b and len(a) == 101
    assert not [p for p in (tmp_path / "a").rglob("*") if p.name.startswith(".")]  # no temporary files


def test_writer_layout_manifest_and_round_trip(tmp_path):
    images = _rng_images(40, 6, 5, 1)
    labels = np.random.default_rng(1).integers(0, 3, 40)
    out = tmp_path / "out"
    rows = _write_all(out, images, labels)
    assert sorted(p.name for p in out.iterdir()) == ["_manifest.parquet", "one", "two", "zero"]
    assert (out / CLASSES[labels[12]] / "img-00000012.png").is_file()
    m = pq.read_table(out / IMAGE_MANIFEST)
    assert m.column_names == ["path", "index", "label", "class", "seed", "chunk", "sha256", "pixel_sha256"]
    assert m.column("index").to_pylist() == list(range(40))
    assert m.column("chunk").to_pylist() == [i // 7 for i in range(40)]
    assert set(m.column("seed").to_pylist()) == {5}
    r = m.slice(3, 1).to_pylist()[0]
    assert r["path"] == f"{CLASSES[labels[3]]}/img-00000003.png" and r["label"] == labels[3]
    assert r["sha256"] == hashlib.sha256((out / r["path"]).read_bytes()).hexdigest()
    assert r["pixel_sha256"] == hashlib.sha256(images[3].tobytes()).hexdigest()
    assert b"class_names" in m.schema.metadata[b"synthgen"]
    # readable back by the folder source: class folders sorted by name, files by global index
    back = load_image_source({"kind": "folder", "path": out})
    assert back.class_names == sorted(CLASSES)
    order = np.concatenate([np.flatnonzero(labels == CLASSES.index(c)) for c in sorted(CLASSES)])
    np.testing.assert_array_equal(back.images, images[order])
    assert [back.class_names[k] for k in back.labels] == [CLASSES[k] for k in labels[order]]
    # PNG parquet: one file with bytes and labels, readable by the parquet source
    p = write_png_parquet(out, rows)
    t = load_image_source({"kind": "parquet", "path": p, "label_column": "class", "class_names": CLASSES})
    np.testing.assert_array_equal(t.images, images)
    np.testing.assert_array_equal(t.labels, labels)


def test_manifest_refuses_missing_or_duplicate_images(tmp_path):
    images, labels = _rng_images(3, 2, 2, 1), np.array([0, 1, 2])
    rows = write_image_chunk(tmp_path, 0, images, labels, CLASSES, 0, 0)
    with pytest.raises(RuntimeError, match="listed twice"):
        write_image_manifest(tmp_path, rows + rows[:1])
    os.unlink(tmp_path / rows[1]["path"])
    with pytest.raises(RuntimeError, match="not written"):
        write_image_manifest(tmp_path, rows)
    assert not (tmp_path / IMAGE_MANIFEST).exists()


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    def boom(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        write_image_chunk(tmp_path, 0, _rng_images(2, 2, 2, 1), [0, 1], CLASSES, 0, 0)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_writer_rejects_unsafe_class_names(tmp_path):
    with pytest.raises(SynthgenError, match="folder name"):
        write_image_chunk(tmp_path, 0, _rng_images(1, 2, 2, 1), [0], ["../up"], 0, 0)


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 7, 1), (5, 4, 3), (28, 28, 1)])
def test_encode_png_is_plain_png(shape):
    a = _rng_images(1, *shape)[0]
    data = encode_png(a)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == ("L" if shape[2] == 1 else "RGB") and im.info.keys() <= {"dpi"}
        back = np.asarray(im)
    np.testing.assert_array_equal(back.reshape(a.shape), a)
    assert encode_png(a.copy()) == data


def test_sample_grid_png():
    images = np.stack([np.full((4, 3, 1), 10 * k, np.uint8) for k in [0, 1, 1, 2, 1]])
    labels = np.array([0, 1, 1, 2, 1])
    with Image.open(io.BytesIO(sample_grid_png(images, labels, n_classes=3, per_class=2, pad=1))) as im:
        g = np.asarray(im)
    assert g.shape == (1 + 3 * 5, 1 + 2 * 4)
    assert (g[1:5, 1:4] == 0).all() and (g[6:10, 5:8] == 10).all() and (g[11:15, 1:4] == 20).all()
    assert (g[11:15, 5:8] == 128).all()  # class 2 has one image: the second cell stays blank
    with Image.open(io.BytesIO(sample_grid_png(images, labels, 3, 2, pad=1, scale=3))) as im:
        assert im.size == (3 * 9, 3 * 16)


def test_image_set_checks():
    with pytest.raises(ValueError):
        ImageSet(np.zeros((2, 3, 3), np.uint8), np.zeros(2), ["a"])
    with pytest.raises(ValueError):
        ImageSet(np.zeros((2, 3, 3, 1), np.uint8), np.array([0, 1]), ["a"])
