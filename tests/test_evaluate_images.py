"""Image evaluation: the Fréchet formula, determinism and caching of the classifier, metric
ordering on real vs noise, CAS trained on synthetic only, Inception FID opt-in, config errors,
report files. Small data: sklearn's 8x8 digits (1,437 train / 360 test)."""

from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest

from synthgen.errors import SynthgenError
from synthgen.evaluate import image_classifier
from synthgen.evaluate.image_report import write_image_evaluation
from synthgen.evaluate.images import ImageEvalConfig, cas_selection, evaluate_images, frechet_distance, manifold_metrics
from synthgen.image_sources import load_image_source

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    d = load_image_source({"kind": "digits"})
    perm = np.random.default_rng(0).permutation(len(d))
    return d.subset(perm[:1437]), d.subset(perm[1437:])


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("classifier_cache")


def run(digits, synth_images, synth_labels, cfg: ImageEvalConfig) -> dict:
    train, test = digits
    return evaluate_images(train.images, train.labels, test.images, test.labels, synth_images, synth_labels, 10, cfg)


@pytest.fixture(scope="module")
def real_result(digits, cache):
    """The real train split posing as the synthetic set."""
    train, _ = digits
    return run(digits, train.images, train.labels, ImageEvalConfig(cache_dir=str(cache)))


@pytest.fixture(scope="module")
def noise_result(digits, cache):
    train, _ = digits
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 256, train.images.shape, dtype=np.uint8)
    return run(digits, noise, rng.integers(0, 10, len(train)), ImageEvalConfig(cache_dir=str(cache)))


# ---- Fréchet distance -----------------------------------------------------------------------------
def _reference_fd(mu1, s1, mu2, s2) -> float:
    """Direct computation through the symmetric form sqrt(S1) S2 sqrt(S1) (eigh, always real)."""

    def psd_sqrt(m):
        w, v = np.linalg.eigh(m)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r = psd_sqrt(s1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(psd_sqrt(r @ s2 @ r)))


def test_frechet_distance_matches_closed_forms():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 6))
    s = a @ a.T + np.eye(6)
    mu = rng.normal(size=6)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-8)  # equal Gaussians
    # 1-D: (mu1 - mu2)^2 + (sd1 - sd2)^2
    assert frechet_distance([1.5], [[4.0]], [-0.5], [[0.25]]) == pytest.approx(2.0**2 + (2.0 - 0.5) ** 2)
    b = rng.normal(size=(6, 6))
    s2 = b @ b.T + 0.1 * np.eye(6)
    mu2 = rng.normal(size=6)
    assert frechet_distance(mu, s, mu2, s2) == pytest.approx(_reference_fd(mu, s, mu2, s2), rel=1e-7)
    # Diagonal covariances: sum of the per-dimension 1-D formula.
    v1, v2 = rng.uniform(0.1, 3, 5), rng.uniform(0.1, 3, 5)
    expect = float(np.sum((mu[:5] - mu2[:5]) ** 2 + (np.sqrt(v1) - np.sqrt(v2)) ** 2))
    assert frechet_distance(mu[:5], np.diag(v1), mu2[:5], np.diag(v2)) == pytest.approx(expect, rel=1e-9)


def test_frechet_distance_singular_covariances_stay_finite():
    """Dead ReLU units give zero-variance features: the result must stay finite and match."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 4)), rng.normal(1.0, 2.0, size=(60, 4))
    x[:, 0] = y[:, 0] = 0.0  # a dead unit in both sets
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    assert np.linalg.matrix_rank(s1) == 3
    fd = frechet_distance(x.mean(0), s1, y.mean(0), s2)
    assert np.isfinite(fd)
    assert fd == pytest.approx(_reference_fd(x.mean(0), s1, y.mean(0), s2), rel=1e-4)


def test_manifold_metrics_identical_and_far_sets():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    same = manifold_metrics(x, x.copy(), 3)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = manifold_metrics(x, x + 100.0, 3)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


# ---- the evaluation on digits ----------------------------------------------------------------------
def test_real_as_synthetic_scores_better_than_noise(real_result, noise_result):
    r, n = real_result, noise_result
    assert r["utility.real_accuracy"] > 0.9
    # The real train set as "synthetic": FD equals its floor, CAS equals real accuracy.
    assert r["fidelity.fd"] == pytest.approx(r["fidelity.fd_floor"], rel=1e-6)
    assert r["utility.cas_ratio"] > 0.95
    assert r["fidelity.precision"] > 0.8 and r["fidelity.recall"] > 0.8
    assert r["privacy.exact_copies_share"] == 1.0 and r["privacy.near_copies_share"] == 1.0
    assert r["privacy.exact_copies_test_share"] == 0.0
    # Noise: far away, useless for training, covers nothing.
    assert n["fidelity.fd"] > 10 * r["fidelity.fd"]
    assert n["utility.cas"] < 0.3 < r["utility.cas"]
    assert n["fidelity.precision"] < r["fidelity.precision"]
    assert n["fidelity.coverage"] < 0.3 < r["fidelity.coverage"]
    assert n["fidelity.pixel_tv"] > 10 * r["fidelity.pixel_tv_reference"]
    assert n["privacy.exact_copies"] == 0 and n["privacy.near_copies_share"] == 0.0
    assert r["counts.synthetic.class_3"] == r["counts.train.class_3"]


def test_same_inputs_same_metrics_and_cache_reused(digits, cache, real_result, caplog):
    train, _ = digits
    files = list(cache.glob("image_classifier-*.pt"))
    assert len(files) == 1
    mtime = files[0].stat().st_mtime_ns
    trained, loaded = image_classifier.STATS["trained"], image_classifier.STATS["loaded"]
    with caplog.at_level(logging.INFO, logger="synthgen"):
        again = run(digits, train.images, train.labels, ImageEvalConfig(cache_dir=str(cache)))
    assert again == real_result  # bit-identical metrics
    assert image_classifier.STATS["trained"] == trained + 1  # only the CAS classifier
    assert image_classifier.STATS["loaded"] == loaded + 1
    assert files[0].stat().st_mtime_ns == mtime  # the cache file was read, not rewritten
    # Inception FID is off without weights: null, a note saying how to enable it, a log line.
    assert again["fidelity.inception_fid"] is None
    assert "inception_weights" in again["fidelity.inception_fid_note"]
    assert any("Inception FID skipped" in m for m in caplog.messages)


def test_cas_is_trained_on_synthetic_images_only(digits, cache, real_result):
    train, _ = digits
    shuffled = np.random.default_rng(2).permutation(train.labels)
    r = run(digits, train.images, shuffled, ImageEvalConfig(cache_dir=str(cache)))
    assert r["utility.real_accuracy"] == real_result["utility.real_accuracy"]  # the cached real classifier
    assert r["utility.cas"] < 0.3
    assert r["fidelity.fd"] == pytest.approx(real_result["fidelity.fd"])  # same images, labels ignored


def test_cas_with_a_missing_class_reports_it(digits, cache):
    train, _ = digits
    keep = train.labels != 0
    r = run(digits, train.images[keep], train.labels[keep], ImageEvalConfig(cache_dir=str(cache)))
    assert r["utility.cas_short_classes"] == 1 and r["counts.cas_train.class_0"] == 0
    assert r["utility.cas.class_0"] == 0.0 and "0 (0/" in r["utility.cas_note"]
    assert r["utility.cas.class_1"] > 0.8


def test_cas_selection_takes_real_counts_per_class():
    ytr = np.array([0] * 3 + [1] * 2)
    ysy = np.array([1, 0, 1, 1, 0, 1, 0, 0, 0])
    sel = cas_selection(ytr, ysy, 2, seed=0)
    assert np.bincount(ysy[sel], minlength=2).tolist() == [3, 2]
    assert sel.tolist() == cas_selection(ytr, ysy, 2, seed=0).tolist()


# ---- configuration and errors --------------------------------------------------------------------
def test_config_from_mapping_and_errors():
    cfg = ImageEvalConfig.from_mapping({"seed": 3, "pr_k": 5, "cache_dir": None})
    assert (cfg.seed, cfg.pr_k, cfg.max_images) == (3, 5, ImageEvalConfig().max_images)
    with pytest.raises(SynthgenError, match=r"unknown evaluate.images setting\(s\) \['prk'\]"):
        ImageEvalConfig.from_mapping({"prk": 3})
    with pytest.raises(SynthgenError, match="pr_k"):
        ImageEvalConfig(pr_k=0)
    with pytest.raises(SynthgenError, match="copy_quantile"):
        ImageEvalConfig(copy_quantile=1.5)


def test_missing_inception_weights_is_a_one_line_error(digits, tmp_path):
    train, _ = digits
    missing = tmp_path / "nowhere" / "inception.pth"
    before = image_classifier.STATS["trained"]
    with pytest.raises(SynthgenError) as e:
        run(digits, train.images, train.labels, ImageEvalConfig(inception_weights=str(missing)))
    assert str(missing) in str(e.value) and "\n" not in str(e.value)
    assert image_classifier.STATS["trained"] == before  # failed before any training


def test_inception_without_torch_fidelity_is_a_one_line_error(digits, tmp_path, monkeypatch):
    train, _ = digits
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"not used")
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # import fails as when not installed
    with pytest.raises(SynthgenError, match="pip install torch-fidelity") as e:
        run(digits, train.images, train.labels, ImageEvalConfig(inception_weights=str(weights)))
    assert "\n" not in str(e.value)


def test_bad_synthetic_shape_is_an_error(digits):
    train, _ = digits
    with pytest.raises(SynthgenError, match="synthetic images are"):
        run(digits, train.images[:, :4], train.labels, ImageEvalConfig())


# ---- report ---------------------------------------------------------------------------------------
def test_report_files(digits, real_result, tmp_path):
    train, _ = digits
    out = tmp_path / "evaluation"
    write_image_evaluation(real_result, train.images, train.labels, train.class_names, out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == real_result
    text = (out / "report.html").read_text()
    for needle in (
        "Fréchet distance",
        "floor",
        "CAS",
        "Precision",
        "Inception FID skipped",
        "Exact copies",
        "fidelity.fd_floor",
        "One row per class",
    ):
        assert needle in text
    for name in ("samples.png", "per_class_accuracy.png", "class_counts.png"):
        assert (out / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((out / "plots" / "per_class.csv").read_text().splitlines()) == 11
    assert not list(tmp_path.glob(".evaluation*"))  # no staging folder left behind
