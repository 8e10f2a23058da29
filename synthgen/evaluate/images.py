"""evaluate_images: every image metric in one flat, JSON-ready dict with stable keys.

    result = evaluate_images(train.images, train.labels, test.images, test.labels,
                             synth.images, synth.labels, n_classes, ImageEvalConfig(cache_dir=...))
    write_image_evaluation(result, synth.images, synth.labels, class_names, out_dir)

Images are uint8 [N, H, W, C] (C = 1 or 3), labels int64 [N]. All feature-space metrics use
the penultimate layer (128 units) of a small CNN trained on the real train split
(image_classifier.py), cached per data set and trained deterministically. Keys:

fidelity.fd                   Fréchet distance, real test vs synthetic features (0 ideal)
fidelity.fd_floor             the same between real train and real test: what a perfect
                              generator would get with samples of these sizes
fidelity.fd_ratio             fd / fd_floor (1 ideal)
fidelity.precision, .recall   Kynkäänniemi et al. 2019 (k-NN radii, k = pr_k), real test vs
fidelity.density, .coverage   synthetic; density/coverage (Naeem et al. 2020) are robust to
                              real outliers, which can let precision credit junk images;
                              .<metric>_reference: real train in place of the synthetic set
fidelity.pixel_tv             total variation between the pixel-intensity histograms (32 bins),
                              real train vs synthetic; .pixel_tv_reference: train vs test
fidelity.class_tv             total variation between the class shares, train vs synthetic
fidelity.inception_fid(_floor) torchmetrics Inception FID, only with a local weights file
                              (inception_weights); otherwise null with .inception_fid_note
utility.cas                   classification accuracy score (Ravuri & Vinyals 2019): a fresh
                              CNN trained on synthetic images only (per class as many as the
                              real train split has), accuracy on the real test images
utility.real_accuracy         the real-trained CNN on the same test images; .cas_ratio = cas / it
utility.cas.class_<k>, utility.real_accuracy.class_<k>   per-class accuracy (recall)
utility.cas_short_classes     classes with fewer synthetic images than real train ones (then
                              also utility.cas_note); utility.cas_train_images, counts.cas_train.*
privacy.exact_copies(_share)  synthetic images byte-identical to a train image (all images)
privacy.exact_copies_test(_share)  the same for real test images (baseline)
privacy.near_copies_share     synthetic images whose nearest train image (pixel L2) is no
                              farther than the copy_quantile-quantile of the test images'
                              nearest-train distances; a fresh real sample gets ~copy_quantile
                              (.near_copies_test_share); .near_copy_threshold is that distance
privacy.nn_distance_*_p50     median nearest-train pixel distance, synthetic and test
counts.<set>[.class_<k>]      image counts; data.*, settings.*, classifier.cache_key
Values undefined for a run (e.g. the accuracy of a class absent from test) are left out. All
values are numbers except the strings classifier.cache_key, *_note, and inception_fid(_floor)
= None when skipped: filter on type before logging metrics to MLflow.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist
from sklearn.neighbors import NearestNeighbors

from synthgen import seeding
from synthgen.errors import SynthgenError
from synthgen.evaluate.image_classifier import ClassifierSettings, predict, real_classifier, train_classifier

log = logging.getLogger("synthgen")

INCEPTION_SKIPPED = (
    "Inception FID skipped: no local weights file; set evaluate.images.inception_weights="
    "<path to pt_inception-2015-12-05 .pth> (needs torch-fidelity) to compute it; "
    "nothing is downloaded"
)
_PIXEL_BINS = 32


@dataclass
class ImageEvalConfig:
    seed: int = 0
    classifier_epochs: int = 8  # ~0.975-0.98 test accuracy on MNIST-5k in 15-25 s on one CPU thread
    cache_dir: str | None = None  # where the real-trained classifier is cached; None = no cache
    inception_weights: str | None = None  # local Inception-v3 (torch-fidelity) weights; None = skip
    pr_k: int = 3  # neighbours for the precision/recall radii
    max_images: int = 5000  # per set, for FD / precision-recall / copies (seeded subsample)
    copy_quantile: float = 0.05  # near-copy threshold: this quantile of test-to-train NN distances

    def __post_init__(self) -> None:
        for name in ("seed", "classifier_epochs", "pr_k", "max_images"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise SynthgenError(f"evaluate.images.{name}={v!r} must be a whole number")
        if self.classifier_epochs < 1:
            raise SynthgenError(f"evaluate.images.classifier_epochs is {self.classifier_epochs}; use 1 or more")
        if self.pr_k < 1:
            raise SynthgenError(f"evaluate.images.pr_k is {self.pr_k}; use 1 or more")
        if self.max_images < max(10, self.pr_k + 2):
            raise SynthgenError(
                f"evaluate.images.max_images is {self.max_images}; use at least {max(10, self.pr_k + 2)}"
            )
        if not 0.0 < float(self.copy_quantile) < 1.0:
            raise SynthgenError(f"evaluate.images.copy_quantile is {self.copy_quantile}; use a share in (0, 1)")
        self.seed, self.classifier_epochs = int(self.seed), int(self.classifier_epochs)
        self.pr_k, self.max_images, self.copy_quantile = int(self.pr_k), int(self.max_images), float(self.copy_quantile)
        self.cache_dir = None if self.cache_dir in (None, "") else str(self.cache_dir)
        self.inception_weights = None if self.inception_weights in (None, "") else str(self.inception_weights)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any] | None) -> "ImageEvalConfig":
        raw = dict(raw or {})
        known = [f.name for f in fields(cls)]
        unknown = set(raw) - set(known)
        if unknown:
            raise SynthgenError(f"unknown evaluate.images setting(s) {sorted(unknown)}; known: {', '.join(known)}")
        return cls(**raw)


# ---- metric functions (plain arrays in, numbers out) ------------------------------------------
def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6
) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2)), as in the reference FID code (pytorch-fid):
    a non-finite sqrtm is retried with eps added to both diagonals; a complex result whose
    diagonal's imaginary part is negligible (< 1e-3) keeps its real part."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    s1, s2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"mean/covariance shapes differ: {mu1.shape} {s1.shape} vs {mu2.shape} {s2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # singular covariances (dead ReLU units) are handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all() or _imaginary(covmean):
            offset = np.eye(len(mu1)) * eps
            covmean = linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if _imaginary(covmean):
        raise SynthgenError(
            f"Fréchet distance: sqrtm has an imaginary part of "
            f"{np.max(np.abs(covmean.imag)):.3g}; the feature covariances are degenerate"
        )
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _imaginary(m: np.ndarray) -> bool:
    return np.iscomplexobj(m) and not np.allclose(np.diagonal(m).imag, 0, atol=1e-3)


def feature_fd(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a [N,D] and b [M,D]."""
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def knn_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of x to its k-th nearest other row: [N]."""
    k = min(k, len(x) - 1)
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)  # column 0 is the point itself
    return dist[:, k]


def _balls(query: np.ndarray, ref: np.ndarray, radii: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """How many ref balls (||q - r|| <= radius_r) hold each query row: [Q] ints; and whether
    each ref ball holds some query row: [R] bool."""
    count, hit = np.zeros(len(query), np.int64), np.zeros(len(ref), bool)
    for i in range(0, len(query), chunk):
        inside = cdist(query[i : i + chunk], ref) <= radii[None, :]  # [chunk,R]
        count[i : i + chunk] = inside.sum(1)
        hit |= inside.any(0)
    return count, hit


def manifold_metrics(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict[str, float]:
    """k-NN manifold metrics of fake vs real feature sets [N,D], [M,D].

    precision/recall (Kynkäänniemi et al. 2019): share of fake samples inside the real manifold
    (the union of each real sample's ball out to its k-th nearest real neighbour), and share of
    real samples inside the fake manifold. density/coverage (Naeem et al. 2020), the outlier-
    robust companions: mean number of real balls per fake sample / k (~1 for real data), and
    share of real balls that hold at least one fake sample.
    """
    count, hit = _balls(fake, real, knn_radii(real, k))
    recall_count = _balls(real, fake, knn_radii(fake, k))[0]
    return {
        "precision": float((count > 0).mean()),
        "recall": float((recall_count > 0).mean()),
        "density": float(count.mean() / min(k, len(real) - 1)),
        "coverage": float(hit.mean()),
    }


def pixel_tv(a: np.ndarray, b: np.ndarray, bins: int = _PIXEL_BINS) -> float:
    """Total variation (0..1) between the pixel-intensity histograms of two uint8 image sets."""
    ha = np.bincount((a.reshape(-1).astype(np.int64) * bins) // 256, minlength=bins) / a.size
    hb = np.bincount((b.reshape(-1).astype(np.int64) * bins) // 256, minlength=bins) / b.size
    return float(0.5 * np.abs(ha - hb).sum())


def exact_copies(train: np.ndarray, test: np.ndarray, synth: np.ndarray) -> dict:
    """Synthetic (and, as a baseline, test) images byte-identical to some train image."""
    digest = lambda im: hashlib.sha1(im.tobytes()).digest()  # noqa: E731
    seen = {digest(im) for im in train}
    syn = sum(digest(im) in seen for im in synth)
    test_hits = sum(digest(im) in seen for im in test)
    return {
        "privacy.exact_copies": int(syn),
        "privacy.exact_copies_share": syn / len(synth),
        "privacy.exact_copies_test": int(test_hits),
        "privacy.exact_copies_test_share": test_hits / len(test),
    }


def near_copies(train: np.ndarray, test: np.ndarray, synth: np.ndarray, q: float) -> dict:
    """Nearest train image per synthetic and per test image (pixel L2, values in [0, 1]).
    Threshold = the q-quantile of the test distances, so a fresh real sample has ~q of its
    images at or below it; a generator that copies train images has more."""
    flat = lambda x: x.reshape(len(x), -1).astype(np.float32) / 255.0  # noqa: E731
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(flat(train))
    d_syn = nn.kneighbors(flat(synth))[0][:, 0]  # [S]
    d_test = nn.kneighbors(flat(test))[0][:, 0]  # [T]
    thr = float(np.quantile(d_test, q))
    return {
        "privacy.near_copy_threshold": thr,
        "privacy.near_copies_share": float((d_syn <= thr).mean()),
        "privacy.near_copies_test_share": float((d_test <= thr).mean()),
        "privacy.nn_distance_synthetic_p50": float(np.median(d_syn)),
        "privacy.nn_distance_test_p50": float(np.median(d_test)),
    }


def per_class_accuracy(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> dict[int, float]:
    return {k: float((pred[labels == k] == k).mean()) for k in range(n_classes) if (labels == k).any()}


def cas_selection(train_labels: np.ndarray, synth_labels: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
    """Indices into the synthetic set: per class as many as the real train split has (a seeded
    choice), or all of them when there are fewer; sorted."""
    rng = seeding.numpy_rng(seeding.CAS_SELECTION, seed)
    chosen = []
    for k in range(n_classes):
        idx = np.flatnonzero(synth_labels == k)
        chosen.append(rng.permutation(idx)[: int((train_labels == k).sum())])
    return np.sort(np.concatenate(chosen)).astype(np.int64)


# ---- the evaluation ----------------------------------------------------------------------------
def _check(name: str, images, labels, n_classes: int, shape=None) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels).reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in (1, 3):
        raise SynthgenError(f"{name} images must be uint8 [N, H, W, 1 or 3], got {images.dtype} {images.shape}")
    if len(images) < 2:
        raise SynthgenError(f"{name} images: {len(images)} given, at least 2 are needed")
    if shape is not None and images.shape[1:] != shape:
        raise SynthgenError(
            f"{name} images are {images.shape[1:]} (H, W, C) but the train images are {shape}; "
            f"generate at the training size"
        )
    if labels.shape != (len(images),):
        raise SynthgenError(f"{name}: {len(images)} images but {labels.size} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise SynthgenError(f"{name} labels must lie in [0, {n_classes}), got {labels.min()}..{labels.max()}")
    return images, labels.astype(np.int64)


def _cap(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, cap, replace=False))


def evaluate_images(
    train_images,
    train_labels,
    test_images,
    test_labels,
    synth_images,
    synth_labels,
    n_classes: int,
    cfg: ImageEvalConfig | None = None,
) -> dict:
    """All image metrics as one flat dict (see the module docstring for the keys)."""
    cfg = cfg or ImageEvalConfig()
    n_classes = int(n_classes)
    xtr, ytr = _check("train", train_images, train_labels, n_classes)
    xte, yte = _check("test", test_images, test_labels, n_classes, xtr.shape[1:])
    xsy, ysy = _check("synthetic", synth_images, synth_labels, n_classes, xtr.shape[1:])
    settings = ClassifierSettings(epochs=int(cfg.classifier_epochs), seed=int(cfg.seed))
    inception = _inception_check(cfg)  # fail early on a missing weights file, before training

    model, key = real_classifier(xtr, ytr, n_classes, settings, cfg.cache_dir)
    rng = seeding.numpy_rng(seeding.EVAL_SUBSET, cfg.seed)
    i_tr, i_te, i_sy = (_cap(len(x), cfg.max_images, rng) for x in (xtr, xte, xsy))
    f_tr = predict(model, xtr[i_tr])[0]
    f_te, p_te = predict(model, xte)  # all test images: accuracy; the capped subset: features
    f_te = f_te[i_te]
    f_sy = predict(model, xsy[i_sy])[0]

    r: dict[str, Any] = {"classifier.cache_key": key}
    h, w, c = xtr.shape[1:]
    r.update({"data.height": int(h), "data.width": int(w), "data.channels": int(c), "data.n_classes": n_classes})
    r.update(
        {
            f"settings.{f.name}": getattr(cfg, f.name)
            for f in fields(cfg)
            if f.name not in ("cache_dir", "inception_weights")
        }
    )
    for name, y in (("train", ytr), ("test", yte), ("synthetic", ysy)):
        r[f"counts.{name}"] = int(len(y))
        r.update({f"counts.{name}.class_{k}": int(v) for k, v in enumerate(np.bincount(y, minlength=n_classes))})

    # Fidelity: feature space of the real-trained classifier.
    r["fidelity.fd"] = feature_fd(f_te, f_sy)
    r["fidelity.fd_floor"] = feature_fd(f_te, f_tr)
    if r["fidelity.fd_floor"] > 0:
        r["fidelity.fd_ratio"] = r["fidelity.fd"] / r["fidelity.fd_floor"]
    r.update({f"fidelity.{m}": v for m, v in manifold_metrics(f_te, f_sy, int(cfg.pr_k)).items()})
    r.update({f"fidelity.{m}_reference": v for m, v in manifold_metrics(f_te, f_tr, int(cfg.pr_k)).items()})
    r["fidelity.pixel_tv"] = pixel_tv(xtr, xsy)
    r["fidelity.pixel_tv_reference"] = pixel_tv(xtr, xte)
    share = lambda y: np.bincount(y, minlength=n_classes) / len(y)  # noqa: E731
    r["fidelity.class_tv"] = float(0.5 * np.abs(share(ytr) - share(ysy)).sum())
    r.update(
        inception(xtr[i_tr], xte[i_te], xsy[i_sy])
        if inception
        else {
            "fidelity.inception_fid": None,
            "fidelity.inception_fid_floor": None,
            "fidelity.inception_fid_note": INCEPTION_SKIPPED,
        }
    )
    if not inception:
        log.info(INCEPTION_SKIPPED)

    # Utility: classification accuracy score.
    r.update(_cas(xtr, ytr, xte, yte, xsy, ysy, p_te, n_classes, settings))

    # Privacy: copies of train images.
    r.update(exact_copies(xtr, xte, xsy))  # every image: cheap hashes
    r.update(near_copies(xtr, xte[i_te], xsy[i_sy], float(cfg.copy_quantile)))
    return r


def _cas(xtr, ytr, xte, yte, xsy, ysy, p_real, n_classes: int, settings: ClassifierSettings) -> dict:
    sel = cas_selection(ytr, ysy, n_classes, settings.seed)
    used = np.bincount(ysy[sel], minlength=n_classes)
    need = np.bincount(ytr, minlength=n_classes)
    r: dict[str, Any] = {
        "utility.cas_train_images": int(len(sel)),
        "utility.cas_short_classes": int((used < need).sum()),
    }
    r.update({f"counts.cas_train.class_{k}": int(v) for k, v in enumerate(used)})
    short = [f"{k} ({used[k]}/{need[k]})" for k in range(n_classes) if used[k] < need[k]]
    if short:
        r["utility.cas_note"] = (
            "fewer synthetic than real train images for class(es) "
            + ", ".join(short)
            + "; CAS was trained on what there is"
        )
        log.warning("CAS: %s", r["utility.cas_note"])
    p_syn = predict(train_classifier(xsy[sel], ysy[sel], n_classes, settings), xte)[1]
    r["utility.cas"] = float((p_syn == yte).mean())
    r["utility.real_accuracy"] = float((p_real == yte).mean())
    if r["utility.real_accuracy"] > 0:
        r["utility.cas_ratio"] = r["utility.cas"] / r["utility.real_accuracy"]
    r.update({f"utility.cas.class_{k}": v for k, v in per_class_accuracy(p_syn, yte, n_classes).items()})
    r.update({f"utility.real_accuracy.class_{k}": v for k, v in per_class_accuracy(p_real, yte, n_classes).items()})
    return r


# ---- Inception FID (opt-in, local weights only) -------------------------------------------------
def _inception_check(cfg: ImageEvalConfig):
    """None when Inception FID is off; else a function (train, test, synth) -> result entries."""
    if cfg.inception_weights is None:
        return None
    path = Path(cfg.inception_weights).expanduser()
    if not path.is_file():
        raise SynthgenError(
            f"evaluate.images.inception_weights: file not found: {path}; give a local "
            f"Inception-v3 weights file or set it to null to skip Inception FID"
        )
    try:
        importlib.import_module("torch_fidelity")  # torchmetrics' Inception feature extractor
    except ImportError as e:
        raise SynthgenError(
            f"evaluate.images.inception_weights is set but torch-fidelity cannot be imported "
            f"({e}); pip install torch-fidelity torchvision, or set it to null"
        ) from None
    return lambda xtr, xte, xsy: inception_fid(xtr, xte, xsy, str(path))


def inception_fid(xtr: np.ndarray, xte: np.ndarray, xsy: np.ndarray, weights: str, batch: int = 64) -> dict:
    """torchmetrics FrechetInceptionDistance (2048-d pool features) of real test vs synthetic, and
    of real train vs real test (floor); grey images are repeated to 3 channels and resized to
    299x299 by torch-fidelity; no download. Costly: ~6 GFLOP per image, so it runs on a GPU
    when one is visible (a few seconds per 1,000 images) and takes minutes on a CPU."""
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance

    device = "cuda" if torch.cuda.is_available() else "cpu"
    fid = FrechetInceptionDistance(
        feature=2048, reset_real_features=False, normalize=False, feature_extractor_weights_path=weights
    ).to(device)

    def feed(x: np.ndarray, real: bool) -> None:
        for i in range(0, len(x), batch):
            t = torch.from_numpy(np.ascontiguousarray(x[i : i + batch])).permute(0, 3, 1, 2)  # [B,C,H,W] uint8
            fid.update((t.expand(-1, 3, -1, -1) if t.shape[1] == 1 else t).to(device), real=real)

    with torch.no_grad():
        feed(xte, True)
        feed(xsy, False)
        value = float(fid.compute())
        fid.reset()  # keeps the real (test) statistics
        feed(xtr, False)
        floor = float(fid.compute())
    return {
        "fidelity.inception_fid": value,
        "fidelity.inception_fid_floor": floor,
        "fidelity.inception_fid_note": f"Inception FID computed with local weights {weights}",
    }
