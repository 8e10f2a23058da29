"""Images through the Python API (synthgen/api_images.py) on real 8x8 digits (scikit-learn's,
bundled offline): arrays in -> arrays out, a folder in -> PNGs + manifest out (the same bytes as
`synthgen generate`), save/load, synthgen.evaluate of image sets, and one-line errors for bad input.
Tiny networks and one epoch, so each fit takes seconds."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

import synthgen
from synthgen import cli
from synthgen.api import Synthesizer
from synthgen.errors import SynthgenError
from synthgen.image_sources import load_image_source

TINY = {  # per family: the smallest networks that still train
    "vae": {"model__image__width": 8, "model__image__latent_dim": 4, "model__image__label_dim": 4},
    "gan": {
        "model__image__generator_width": 8,
        "model__image__critic_width": 8,
        "model__image__noise_dim": 8,
        "model__image__label_dim": 4,
    },
    "transformer": {"model__image__d_model": 16, "model__image__n_layers": 1, "model__image__n_heads": 2},
}


def tiny(family: str, tmp) -> dict:
    return {
        "trainer": {"max_epochs": 1},
        "evaluate": {"images": {"classifier_epochs": 1}},
        "paths": {"mlflow_dir": str(tmp / "mlruns")},
        **TINY[family],
    }


@pytest.fixture(scope="module")
def digits():
    """72 real 8x8 digits as uint8 [72, 8, 8] (0..16 scaled to 0..255) and int labels 0..9."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return np.rint(d.images[:72] * (255 / 16)).astype(np.uint8), d.target[:72].astype(np.int64)


@pytest.fixture(scope="module")
def fitted(digits, tmp_path_factory, one_thread):
    tmp = tmp_path_factory.mktemp("imgapi")
    images, labels = digits
    synth = Synthesizer(model="vae", out_dir=tmp / "fit", **tiny("vae", tmp)).fit(images, labels, holdout=0.25)
    return tmp, synth


def test_array_in_array_out_through_the_cli_stages(fitted, digits):
    tmp, synth = fitted
    images, labels = digits
    fake, fake_labels = synth.sample(25, seed=1)
    assert fake.shape == (25, 8, 8) and fake.dtype == np.uint8  # the input's layout: [n, H, W]
    assert fake_labels.dtype == np.int64 and set(fake_labels) <= set(labels.tolist())
    assert fake.max() > fake.min()  # not a blank image set
    again, again_labels = synth.sample(25, seed=1)
    assert np.array_equal(again, fake) and np.array_equal(again_labels, fake_labels)
    assert not np.array_equal(synth.sample(25, seed=2)[0], fake)
    threes, three_labels = synth.sample(6, conditions={"label": 3}, seed=1)
    assert threes.shape == (6, 8, 8) and set(three_labels) == {3}
    # the CLI's layout and source: the array is the npz image source, split 54 / 18
    out = tmp / "fit"
    for rel in ("prepared/train.npz", "prepared/holdout.npz", "encoder/encoder.json", "model/model.ckpt"):
        assert (out / rel).exists(), rel
    assert synth.config.data.source.kind == "npz" and synth.config.data.modality == "image"
    again_read = load_image_source({"kind": "npz", "path": synth.config.data.source.path})
    assert np.array_equal(again_read.images[..., 0], images)
    assert not any((out / "samples").iterdir())  # temporary sets removed
    c = MlflowClient(f"sqlite:///{tmp / 'mlruns' / 'mlflow.db'}")
    run = c.get_run(synth.run_id)
    assert run.data.params["data.name"] == "images" and run.data.tags["synthgen.family"] == "vae"
    stages = [r.data.tags["synthgen.stage"] for r in c.search_runs([run.info.experiment_id])]
    assert stages.count("train") == 1 and stages.count("generate") == 4


def test_save_load_gives_the_same_bytes(fitted, tmp_path):
    _, synth = fitted
    want, want_labels = synth.sample(30, seed=7)
    for include_data in (True, False):
        dest = synth.save(tmp_path / f"saved-{include_data}", include_data=include_data)
        loaded = Synthesizer.load(dest)
        assert loaded.model == "vae"
        got, got_labels = loaded.sample(30, seed=7)
        assert got.shape == want.shape and got.tobytes() == want.tobytes() and np.array_equal(got_labels, want_labels)
    with pytest.raises(SynthgenError, match="not empty"):
        synth.save(tmp_path / "saved-True")
    # from the MLflow train run: the same model, encoder and input layout
    tmp = synth.out_dir.parent
    for i, ref in enumerate((synth.run_id, f"runs:/{synth.run_id}")):
        loaded = Synthesizer.load(ref, mlflow_dir=tmp / "mlruns", out_dir=tmp_path / f"dl{i}")
        got, got_labels = loaded.sample(30, seed=7)
        assert got.shape == want.shape and got.tobytes() == want.tobytes() and np.array_equal(got_labels, want_labels)


def test_float_rgb_images_without_labels(digits, tmp_path, one_thread):
    images, _ = digits
    rgb = np.stack([images, images[:, ::-1], 255 - images], axis=-1).astype(np.float32) / 255  # [72, 8, 8, 3] in [0, 1]
    synth = Synthesizer(model="transformer", out_dir=tmp_path / "fit", **tiny("transformer", tmp_path)).fit(rgb)
    fake = synth.sample(10, seed=0)  # no labels given: the images alone
    assert isinstance(fake, np.ndarray) and fake.shape == (10, 8, 8, 3) and fake.dtype == np.uint8
    with pytest.raises(SynthgenError, match="fitted without labels"):
        synth.sample(3, conditions={"label": 0})


def _write_folder(root, images, labels):
    for i, (a, y) in enumerate(zip(images, labels)):
        (root / f"digit{y}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(root / f"digit{y}" / f"{i:03d}.png")


def test_folder_in_pngs_out_quietly_as_the_cli_writes_them(digits, tmp_path, capfd, one_thread):
    images, labels = digits
    _write_folder(tmp_path / "real", images, labels)
    synth = Synthesizer(model="gan", out_dir=tmp_path / "fit", **tiny("gan", tmp_path)).fit(tmp_path / "real")
    output = "".join(capfd.readouterr())
    for banner in ("GPU available", "Tip:", "Total params", "LOCAL_RANK"):
        assert banner not in output, banner
    fake, fake_labels = synth.sample(30, seed=3, out_dir=tmp_path / "fake")
    assert fake.shape == (30, 8, 8, 1) and set(fake_labels) <= {f"digit{k}" for k in range(10)}  # folder names
    manifest = pq.read_table(tmp_path / "fake" / "_manifest.parquet").to_pandas()
    assert len(manifest) == 30 and manifest["index"].tolist() == list(range(30))
    for i, row in manifest.iterrows():
        data = (tmp_path / "fake" / row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"] and row["path"].startswith(f"{row['class']}/")
        with Image.open(tmp_path / "fake" / row["path"]) as im:
            assert np.array_equal(np.asarray(im), fake[i, ..., 0]) and fake_labels[i] == row["class"]
    # `synthgen generate` on the same out dir, seed and count writes the same PNG bytes
    common = [
        "data=images",
        f"data.source.path={tmp_path / 'real'}",
        "model=gan",
        f"paths.out_dir={tmp_path / 'fit'}",
        f"paths.mlflow_dir={tmp_path / 'mlruns'}",
        "seed=3",
    ]
    assert cli.main(["generate", *common, "generate.n_rows=30", f"generate.out_dir={tmp_path / 'cli'}"]) == 0
    cli_manifest = pq.read_table(tmp_path / "cli" / "_manifest.parquet").to_pandas()
    assert cli_manifest["sha256"].tolist() == manifest["sha256"].tolist()
    # an earlier set is replaced whole; a folder holding anything else is refused
    synth.sample(5, seed=3, out_dir=tmp_path / "fake")
    assert len(pq.read_table(tmp_path / "fake" / "_manifest.parquet")) == 5
    assert len(list((tmp_path / "fake").rglob("*.png"))) == 5
    with pytest.raises(SynthgenError, match="not a generated image set"):
        synth.sample(5, out_dir=tmp_path / "real")
    assert len(list((tmp_path / "real").rglob("*.png"))) == len(images)  # untouched


def test_a_cli_out_dir_loads_with_its_data_and_family(digits, tmp_path, one_thread):
    """`synthgen prepare|encode|train|generate data=images ...`, then Synthesizer.load(out dir): the
    config its train run logged comes back (image data, the gan family), and sample() gives the bytes
    the CLI wrote for the same seed and count."""
    images, labels = digits
    _write_folder(tmp_path / "real", images, labels)
    common = [
        "data=images",
        f"data.source.path={tmp_path / 'real'}",
        "model=gan",
        *(f"{k.replace('__', '.')}={v}" for k, v in TINY["gan"].items()),
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "generate.n_rows=24",
        f"paths.out_dir={tmp_path / 'out'}",
        f"paths.mlflow_dir={tmp_path / 'mlruns'}",
    ]
    for stage in ("prepare", "encode", "train", "generate"):
        assert cli.main([stage, *common]) == 0, stage
    loaded = Synthesizer.load(tmp_path / "out", mlflow_dir=tmp_path / "mlruns")
    assert loaded.model == "gan" and loaded.config.data.modality == "image"
    fake, fake_labels = loaded.sample(24, seed=0, out_dir=tmp_path / "again")
    assert fake.shape == (24, 8, 8, 1) and set(fake_labels) <= {f"digit{k}" for k in range(10)}
    want = pq.read_table(tmp_path / "out" / "synthetic" / "_manifest.parquet").column("sha256").to_pylist()
    assert pq.read_table(tmp_path / "again" / "_manifest.parquet").column("sha256").to_pylist() == want


def test_evaluate_image_arrays_and_a_fitted_model(fitted, digits, tmp_path):
    tmp, synth = fitted
    images, labels = digits
    fake, fake_labels = synth.sample(40, seed=1)
    result = synthgen.evaluate(
        (images, labels),
        (fake, fake_labels),
        out_dir=tmp_path / "ev",
        evaluate={"images": {"classifier_epochs": 1}},
        paths={"mlflow_dir": str(tmp / "mlruns")},
    )
    assert result.metrics["counts.synthetic"] == 40 and 0 <= result.metrics["utility.cas"] <= 1
    assert "fidelity.fd" in result.metrics and "Fréchet distance / floor" in result.summary()
    assert result.passed and result.report.exists()
    assert len(pq.read_table(tmp_path / "ev" / "synthetic" / "_manifest.parquet")) == 40  # the writer's format
    # the fitted model scores any set against its own training images and holdout
    own = synth.evaluate((fake, fake_labels))
    assert own.metrics["counts.synthetic"] == 40 and own.out_dir == tmp / "fit" / "evaluation-synthetic"
    with pytest.raises(SynthgenError, match="images are \\(4, 4, 1\\)"):
        synth.evaluate((fake[:, :4, :4], fake_labels))


def _one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((10, 8, 8), np.int16), None, "pixels are int16; give uint8"),
        (np.zeros((10, 8, 8), bool), None, "pixels are bool"),
        (np.full((10, 8, 8), 2.0), None, "float pixels must lie in \\[0, 1\\]"),
        (np.full((10, 8, 8), np.nan), None, "float pixels must lie in \\[0, 1\\]"),
        (np.zeros((10, 64), np.uint8), None, "has 2 dimensions"),
        (np.zeros((10, 8, 8, 1, 1), np.uint8), None, "has 5 dimensions"),
        (np.zeros((10, 8, 8, 2), np.uint8), None, "2 channels"),
        (np.zeros((0, 8, 8), np.uint8), None, "holds no images"),
        (np.zeros((10, 8, 8), np.uint8), np.arange(9), "but 10 images; give one label per image"),
        (np.zeros((10, 8, 8), np.uint8), np.arange(10.0), "labels are float64"),
        (np.zeros((10, 8, 8), np.uint8), np.array([1, None] * 5, object), "some labels are missing"),
        (np.zeros((10, 8, 8), np.uint8), ["a/b"] * 10, "'a/b' cannot name a class folder"),
    ],
)
def test_bad_images_give_one_line_and_leave_nothing(images, labels, match, tmp_path):
    with pytest.raises(SynthgenError, match=match) as e:
        Synthesizer(model="vae", out_dir=tmp_path / "fit").fit(images, labels)
    _one_line(e)
    assert not any(tmp_path.iterdir())


def test_bad_calls_give_one_line_and_leave_nothing(fitted, digits, tmp_path):
    _, synth = fitted
    images, labels = digits
    calls = [
        (lambda: synth.sample(3, conditions={"label": 11}), "label 11 is not a class"),
        (lambda: synth.sample(3, conditions={"digit": 1}), "take \\{'label': <class>\\} only"),
        (lambda: synth.sample(3, rebalance={"column": "label"}), "rebalance= is for tables"),
        (lambda: synth.sample(0), "positive whole number"),
        (lambda: Synthesizer(out_dir=tmp_path / "a").fit(images, labels=labels, target="y"), "for tables"),
        (lambda: Synthesizer(out_dir=tmp_path / "b").fit(images, labels, holdout=images[:5]), "holdout=\\(images"),
        (lambda: Synthesizer(out_dir=tmp_path / "c").fit(tmp_path / "none.npz"), "not found"),
        (lambda: Synthesizer(modality="video"), "modality='video'"),
        (lambda: synth.sample(3, out_dir=tmp_path / "busy"), "not a generated image set"),
        (lambda: synthgen.evaluate((images, labels), images, out_dir=tmp_path / "d"), "give \\(images, labels\\)"),
    ]
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    for call, match in calls:
        with pytest.raises(SynthgenError, match=match) as e:
            call()
        _one_line(e)
    assert [p.name for p in tmp_path.iterdir()] == ["busy"] and (tmp_path / "busy" / "notes.txt").exists()


@pytest.mark.slow
def test_the_readme_image_example_runs_as_written(tmp_path, monkeypatch):
    """The README's Python image block, run as written in a fresh folder (5 VAE epochs on 1,797 digits)."""
    import re

    from tests.conftest import ROOT

    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    (code,) = [b for b in blocks if "load_digits" in b]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert scope["fake"].shape == (100, 8, 8) and set(scope["fake_labels"]) <= set(range(10))
    assert set(scope["_"]) == {7} and len(list((tmp_path / "sevens" / "7").glob("*.png"))) == 20
    assert (tmp_path / "models" / "digits" / "model" / "model.ckpt").exists()
    assert scope["result"].passed and "utility.cas" in scope["result"].metrics
