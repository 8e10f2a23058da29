"""ImageEncoder: uint8 HWC <-> float CHW in [-1, 1] and <-> pixel tokens; JSON state; layout."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from synthgen.encoders.images import ImageEncoder, ImageLayout
from synthgen.errors import SynthgenError
from synthgen.image_sources import ImageSet, load_image_source


def _set(n=12, h=5, w=5, c=1, n_classes=3, seed=0) -> ImageSet:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, h, w, c), dtype=np.uint8)
    images.reshape(-1)[:256] = np.arange(256, dtype=np.uint8)[: images.size]  # every intensity
    return ImageSet(images, rng.integers(0, n_classes, n), [f"c{k}" for k in range(n_classes)])


@pytest.fixture(scope="module")
def mnist_bit() -> ImageSet:
    return load_image_source({"kind": "mnist5k", "split": "test"}).subset(slice(0, 200))


def test_layout_and_state(tmp_path, mnist_bit):
    enc = ImageEncoder.fit(mnist_bit, levels=16)
    lay = enc.layout
    assert lay == ImageLayout(1, 28, 28, 10, 16)
    assert lay.to_dict() == {"kind": "image", "channels": 1, "height": 28, "width": 28, "n_classes": 10, "levels": 16}
    assert ImageLayout.from_dict(lay.to_dict()) == lay and lay.shape == (1, 28, 28) and lay.n_tokens == 784
    with pytest.raises(dataclasses.FrozenInstanceError):
        lay.levels = 4
    enc.save(tmp_path / "encoder.json")
    state = json.loads((tmp_path / "encoder.json").read_text())  # plain JSON text, never pickle
    assert state["class_names"] == [str(i) for i in range(10)]
    assert sum(state["class_counts"]) == 200
    back = ImageEncoder.load(tmp_path / "encoder.json")
    assert back.layout == lay and back.class_names == enc.class_names and back.class_counts == enc.class_counts
    np.testing.assert_array_equal(back.to_tokens(mnist_bit), enc.to_tokens(mnist_bit))


def test_load_errors(tmp_path):
    with pytest.raises(SynthgenError, match="synthgen encode"):
        ImageEncoder.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SynthgenError, match="not a valid encoder file"):
        ImageEncoder.load(tmp_path / "bad.json")
    (tmp_path / "tab.json").write_text(json.dumps({"version": 2, "layout": {"kind": "tokens"}}))
    with pytest.raises(SynthgenError, match="not an image encoder"):
        ImageEncoder.load(tmp_path / "tab.json")


@pytest.mark.parametrize("c", [1, 3])
def test_float_round_trip_is_exact(c):
    data = _set(c=c)
    enc = ImageEncoder.fit(data)
    x, y = enc.encode(data)
    assert x.dtype == np.float32 and x.shape == (12, c, 5, 5) and x.min() >= -1 and x.max() <= 1
    assert x.min() == -1 and x.max() == 1
    np.testing.assert_allclose(x[3, :, 2, 1], data.images[3, 2, 1, :] / 127.5 - 1, atol=1e-6)  # CHW from HWC
    assert y.dtype == np.int64 and (y == data.labels).all()
    np.testing.assert_array_equal(enc.decode(x), data.images)
    np.testing.assert_array_equal(enc.decode(torch.from_numpy(x)), data.images)  # torch input too
    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    e1 = ImageEncoder(16, 16, 1, ["a"])
    np.testing.assert_array_equal(e1.decode(e1.encode(ImageSet(every, [0], ["a"]))[0]), every)


def test_decode_clips_and_rounds():
    enc = ImageEncoder(1, 4, 1, ["a"])
    x = np.array([[[[-3.0, 2.0, np.nan, 0.0]]]], np.float32)
    assert enc.decode(x).reshape(-1).tolist() == [0, 255, 128, 128]
    with pytest.raises(ValueError, match="expected"):
        enc.decode(np.zeros((1, 3, 1, 4), np.float32))


@pytest.mark.parametrize("levels", [256, 16, 10, 7, 2])
@pytest.mark.parametrize("c", [1, 3])
def test_tokens_round_trip_within_quantisation(levels, c):
    data = _set(c=c)
    enc = ImageEncoder.fit(data, levels=levels)
    t = enc.to_tokens(data.images)
    assert t.dtype == np.int64 and t.shape == (12, 5 * 5 * c) and t.min() >= 0 and t.max() < levels
    back = enc.from_tokens(t)
    assert back.dtype == np.uint8 and back.shape == data.images.shape
    err = np.abs(back.astype(int) - data.images.astype(int))
    assert err.max() <= 127.5 / (levels - 1) + 0.5
    if levels == 256:
        assert err.max() == 0
    np.testing.assert_array_equal(enc.to_tokens(back), t)  # decoded grey levels are fixed points
    # raster order with a pixel's channels adjacent, each intensity v -> round(v * (levels - 1) / 255)
    expect = np.floor(data.images.astype(np.float64) * (levels - 1) / 255 + 0.5)
    np.testing.assert_array_equal(t.reshape(12, 5, 5, c), expect)
    np.testing.assert_array_equal(enc.from_tokens(torch.from_numpy(t)), back)


def test_token_levels_keep_black_and_white():
    every = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    for levels in (2, 16, 256):
        enc = ImageEncoder(16, 16, 1, ["a"], levels=levels)
        t = enc.to_tokens(every).reshape(-1)
        assert t[0] == 0 and t[255] == levels - 1 and (np.diff(t) >= 0).all()  # monotone, ends exact
        back = enc.from_tokens(t[None]).reshape(-1)
        assert back[0] == 0 and back[255] == 255
    two = ImageEncoder(16, 16, 1, ["a"], levels=2)
    assert two.from_tokens(two.to_tokens(every)).reshape(-1).tolist() == [0] * 128 + [255] * 128
    sixteen = ImageEncoder(16, 16, 1, ["a"], levels=16)
    assert sorted(set(sixteen.from_tokens(sixteen.to_tokens(every)).reshape(-1).tolist())) == list(range(0, 256, 17))


def test_token_and_shape_errors():
    data = _set()
    enc = ImageEncoder.fit(data, levels=16)
    with pytest.raises(ValueError, match="outside"):
        enc.from_tokens(np.full((1, 25), 16))
    with pytest.raises(ValueError, match="shape"):
        enc.from_tokens(np.zeros((1, 26), np.int64))
    with pytest.raises(SynthgenError, match="fitted on uint8"):
        enc.to_tokens(np.zeros((1, 5, 5, 3), np.uint8))
    with pytest.raises(SynthgenError, match="fitted on uint8"):
        enc.encode(_set(h=6))
    for bad in (1, 257, 2.5, True):
        with pytest.raises(SynthgenError, match="levels"):
            ImageEncoder.fit(data, levels=bad)


def test_labels_follow_class_names_not_positions():
    data = _set()
    enc = ImageEncoder.fit(data)
    order = [2, 0, 1]
    remapped = ImageSet(
        data.images, np.array([order.index(k) for k in data.labels]), [data.class_names[k] for k in order]
    )
    _, y = enc.encode(remapped)
    np.testing.assert_array_equal(y, data.labels)
    stranger = ImageSet(data.images[:1], [0], ["unseen"])
    with pytest.raises(SynthgenError, match="unseen"):
        enc.encode(stranger)
