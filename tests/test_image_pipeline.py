"""Images through the same stages as tables: prepare -> encode -> train -> generate -> evaluate,
on scikit-learn's 8x8 digits (bundled offline), with every family behind the same `model=` switch."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.modalities import families
from synthgen.paths import RunPaths
from tests.conftest import subprocess_env

FAMILIES = families("image")  # those with an `image:` network
SMALL = [
    "data=digits",
    "data.max_rows=300",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "generate.n_rows=200",
    "generate.chunk_rows=64",
    "evaluate.images.classifier_epochs=1",
    "evaluate.detection_folds=2",
]


def overrides(tmp, *extra):
    return [f"paths.out_dir={tmp / 'out'}", f"paths.mlflow_dir={tmp / 'mlruns'}", *SMALL, *extra]


def file_hashes(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*.png"))
    }


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("img")
    cfg = load_config(overrides(tmp))
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    return tmp


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])  # bf16-mixed: trainer=gpu's, autocast on CPU
@pytest.mark.parametrize("family", FAMILIES)
def test_fast_dev_run_of_each_image_family(encoded, family, precision):
    cfg = load_config(
        overrides(encoded, f"model={family}", "trainer.fast_dev_run=true", f"trainer.precision={precision}")
    )
    paths = pipeline.train(cfg)
    assert paths.model.exists()
    pipeline.generate(cfg)
    manifest = pq.read_table(paths.synthetic / "_manifest.parquet").to_pandas()
    assert len(manifest) == 200 and manifest["index"].tolist() == list(range(200))
    with Image.open(paths.synthetic / manifest["path"][0]) as im:
        assert im.size == (8, 8) and im.mode == "L"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("img_e2e")
    cfg = load_config(overrides(tmp, "model=vae"))
    result = pipeline.run_all(cfg)
    return tmp, cfg, RunPaths.from_config(cfg), result


def test_outputs_are_imagefolder_pngs_with_a_manifest(finished):
    _, cfg, paths, _ = finished
    classes = sorted(p.name for p in paths.synthetic.iterdir() if p.is_dir())
    assert classes == [str(i) for i in range(10)]
    manifest = pq.read_table(paths.synthetic / "_manifest.parquet").to_pandas()
    assert set(manifest.columns) >= {"path", "label", "class", "seed", "chunk", "sha256"}
    assert len(manifest) == 200 and manifest["chunk"].max() == 3  # 200 images in chunks of 64
    assert (manifest["seed"] == cfg.seed).all()
    for _, row in manifest.head(20).iterrows():
        data = (paths.synthetic / row["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        assert row["path"].startswith(f"{row['class']}/")
    # class shares follow the training set's (largest remainder), all classes present
    assert manifest["label"].nunique() == 10
    assert not list(paths.synthetic.rglob(".*")), "no hidden temporary or row files are left"


def test_evaluation_and_mlflow(finished):
    _, cfg, paths, result = finished
    metrics = json.loads((paths.evaluation / "metrics.json").read_text())
    for key in ("utility.cas", "utility.real_accuracy", "fidelity.fd", "fidelity.fd_floor"):
        assert isinstance(metrics[key], float), key
    assert metrics["fidelity.inception_fid"] is None  # no local weights: skipped, with a note
    assert "inception" in metrics["fidelity.inception_fid_note"].lower()
    assert (paths.evaluation / "report.html").exists()
    client = MlflowClient(tracking_uri=paths.tracking_uri)
    exp = client.get_experiment_by_name(cfg.logger.experiment_name)
    runs = {r.data.tags["synthgen.stage"]: r for r in client.search_runs([exp.experiment_id])}
    assert set(runs) == {"train", "generate", "evaluate"}
    train_artifacts = {a.path for a in client.list_artifacts(runs["train"].info.run_id, "samples")}
    assert "samples/final.png" in train_artifacts and "samples/epoch-000.png" in train_artifacts
    assert runs["evaluate"].data.metrics["utility.cas"] == pytest.approx(metrics["utility.cas"])
    assert runs["train"].data.tags["synthgen.max_epochs"] == "1"


def test_same_seed_same_png_bytes_other_seed_differs(finished):
    tmp, cfg, paths, _ = finished
    first = file_hashes(paths.synthetic)
    pipeline.generate(cfg)
    assert file_hashes(paths.synthetic) == first
    other = load_config(overrides(tmp, "model=vae", "seed=1"))
    pipeline.generate(other)
    assert file_hashes(paths.synthetic) != first


def test_ddp_generation_writes_the_same_bytes(finished):
    tmp, cfg, paths, _ = finished
    pipeline.generate(cfg)
    single = file_hashes(paths.synthetic)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "synthgen.cli",
            "generate",
            *overrides(tmp, "model=vae"),
            "trainer=ddp",
            "trainer.devices=2",
        ],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=400,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert file_hashes(paths.synthetic) == single
    assert len(pq.read_table(paths.synthetic / "_manifest.parquet")) == 200


def test_conditioned_on_a_class(finished):
    tmp, _, paths, _ = finished
    pipeline.generate(load_config(overrides(tmp, "model=vae", "generate.condition.label=7", "generate.n_rows=30")))
    manifest = pq.read_table(paths.synthetic / "_manifest.parquet").to_pandas()
    assert (manifest["class"] == "7").all() and len(manifest) == 30
    with pytest.raises(SynthgenError, match="not a class"):
        pipeline.generate(load_config(overrides(tmp, "model=vae", "generate.condition.label=cat")))
    with pytest.raises(SynthgenError, match="generate.condition.label"):
        pipeline.generate(load_config(overrides(tmp, "model=vae", "generate.condition.colour=red")))


def _png_folder(root, n=12):
    rng = np.random.default_rng(0)
    for k in ("a", "b"):
        (root / k).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (10, 10), dtype=np.uint8)).save(root / k / f"{i}.png")


def test_corrupt_file_is_named_or_skipped_and_counted(tmp_path):
    src = tmp_path / "src"
    _png_folder(src)
    (src / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    base = [
        f"paths.out_dir={tmp_path / 'out'}",
        f"paths.mlflow_dir={tmp_path / 'ml'}",
        "data=images",
        f"data.source.path={src}",
    ]
    with pytest.raises(SynthgenError, match="broken.png") as e:
        pipeline.prepare(load_config(base))
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out" / "prepared").exists(), "no partial output"
    pipeline.prepare(load_config([*base, "data.source.on_error=skip"]))
    info = json.loads((tmp_path / "out/prepared/schema.json").read_text())
    assert info["skipped"]["count"] == 1 and "broken.png" in info["skipped"]["files"][0]
    assert info["n_rows"] + info["n_holdout"] == 24


def test_missing_image_source_and_unknown_modality_are_one_line(tmp_path):
    with pytest.raises(SynthgenError, match="not found"):
        pipeline.prepare(
            load_config([f"paths.out_dir={tmp_path}", "data=images", f"data.source.path={tmp_path / 'nowhere'}"])
        )
    with pytest.raises(SynthgenError, match="data.modality"):
        from synthgen.modalities import modality_name

        modality_name(load_config(["data=digits", "data.modality=video"]))


def test_png_bytes_in_one_parquet_file(finished):
    """generate.png_parquet=true: the same images, readable back as an image source."""
    from synthgen.image_sources import load_image_source, read_synthetic_images

    tmp, _, paths, _ = finished
    pipeline.generate(load_config(overrides(tmp, "model=vae", "generate.png_parquet=true")))
    images, labels = read_synthetic_images(paths.synthetic)
    back = load_image_source(
        {"kind": "parquet", "path": str(paths.synthetic / "images.parquet"), "label_column": "class"}
    )
    assert (back.images == images).all()
    assert [back.class_names[i] for i in back.labels] == [str(i) for i in labels]
