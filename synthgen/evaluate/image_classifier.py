"""The small CNN behind the image metrics: trained deterministically, cached per data set.

One architecture serves every metric: the classifier trained on the real train split gives
the feature space (its penultimate layer) for the Fréchet distance and precision/recall, and
the real-data accuracy that CAS is compared with; a fresh copy of it trained on synthetic
images only gives CAS.

Determinism: the same images, labels and settings give the same weights, bit for bit, on
this machine: the weights are initialised after seeding the CPU generator with `seed`, batches come from
a torch.Generator seeded with the same seed, dropout draws from the forked (and then
restored) global generator, and training and inference run on the CPU with one thread (so
no reduction depends on the thread count). The caller's RNG state and thread count are
restored afterwards.

Cache: the real-trained classifier is stored as <cache_dir>/image_classifier-<key>.pt, key =
sha256 over the train images and labels, their shape, the class count, the settings and
CLASSIFIER_VERSION. A missing or unreadable file is (re)trained and written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from synthgen import seeding

log = logging.getLogger("synthgen")

# bump when the architecture or the training loop changes: old caches are ignored
# (2: the batch order comes from seeding.CLASSIFIER_ORDER)
CLASSIFIER_VERSION = 2
STATS = {"trained": 0, "loaded": 0}  # how often a classifier was trained / read from the cache (tests)
_BATCH_EVAL = 512


@dataclass(frozen=True)
class ClassifierSettings:
    epochs: int = 8
    batch_size: int = 64
    lr: float = 1e-2  # peak of a one-cycle schedule (Adam)
    seed: int = 0


def _block(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]


class SmallCNN(nn.Module):
    """Three 3x3 conv + batch-norm blocks (16, 32, 64 channels; max-pool after the first two), adaptive
    average pooling to 3x3, a 128-unit hidden layer (the feature space) and the class layer.

    Any H, W >= 1 and 1 or 3 channels: 8x8 digits end as 2x2 maps, 28x28 MNIST as 7x7, both
    pooled to 3x3. About 2 M multiply-adds per 28x28 image; 8 epochs on the 4,000 MNIST-5k
    train images take ~15-25 s on one thread and reach 0.975-0.98 test accuracy (seeds 0-2).
    """

    FEATURES = 128

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.body = nn.Sequential(
            *_block(channels, 16),
            nn.MaxPool2d(2, ceil_mode=True),  # [B,16,H/2,W/2]
            *_block(16, 32),
            nn.MaxPool2d(2, ceil_mode=True),  # [B,32,H/4,W/4]
            *_block(32, 64),  # [B,64,H/4,W/4]
            nn.AdaptiveAvgPool2d(3),
            nn.Flatten(),  # [B,576]
            nn.Linear(64 * 9, self.FEATURES),
            nn.ReLU(),  # [B,128] penultimate features
        )
        self.drop = nn.Dropout(0.25)
        self.head = nn.Linear(self.FEATURES, n_classes)  # [B,n_classes]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.body(x)))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W,C] -> float32 [N,C,H,W] in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    return x.div_(127.5).sub_(1.0)


@contextmanager
def deterministic_cpu():
    """One CPU thread and a forked global RNG for the block; the caller's settings come back."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads(threads)


def train_classifier(images: np.ndarray, labels: np.ndarray, n_classes: int, settings: ClassifierSettings) -> SmallCNN:
    """A fresh SmallCNN trained on (images uint8 [N,H,W,C], labels int64 [N]); eval mode."""
    STATS["trained"] += 1
    n = len(images)
    with deterministic_cpu():
        torch.default_generator.manual_seed(settings.seed)  # torch.manual_seed, CPU only (no CUDA reseed)
        model = SmallCNN(images.shape[3], n_classes)
        x, y = to_tensor(images), torch.as_tensor(np.asarray(labels, dtype=np.int64))
        gen = seeding.torch_generator(seeding.CLASSIFIER_ORDER, settings.seed)
        bs = max(1, min(settings.batch_size, n))
        steps = settings.epochs * math.ceil(n / bs)
        opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=max(steps, 1))
        model.train()
        for _ in range(settings.epochs):
            order = torch.randperm(n, generator=gen)
            for i in range(0, n, bs):
                idx = order[i : i + bs]
                if len(idx) == 1 and n > 1:
                    continue  # a lone leftover image would give batch norm a one-sample batch
                loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    return model.eval()


@torch.no_grad()
def predict(model: SmallCNN, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features float64 [N,128], predicted labels int64 [N]) in batches."""
    feats, preds = [], []
    with deterministic_cpu():
        for i in range(0, len(images), _BATCH_EVAL):
            f = model.features(to_tensor(images[i : i + _BATCH_EVAL]))
            feats.append(f.double().numpy())
            preds.append(model.head(f).argmax(1).numpy())
    if not feats:
        return np.zeros((0, SmallCNN.FEATURES)), np.zeros(0, dtype=np.int64)
    return np.concatenate(feats), np.concatenate(preds).astype(np.int64)


def cache_key(images: np.ndarray, labels: np.ndarray, n_classes: int, settings: ClassifierSettings) -> str:
    h = hashlib.sha256()
    meta = {"version": CLASSIFIER_VERSION, "shape": list(images.shape), "n_classes": int(n_classes), **asdict(settings)}
    h.update(json.dumps(meta, sort_keys=True).encode())
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return h.hexdigest()


def real_classifier(
    images: np.ndarray, labels: np.ndarray, n_classes: int, settings: ClassifierSettings, cache_dir: str | Path | None
) -> tuple[SmallCNN, str]:
    """The classifier trained on the real train split, from the cache when present; (model, key)."""
    key = cache_key(images, labels, n_classes, settings)
    path = Path(cache_dir) / f"image_classifier-{key[:24]}.pt" if cache_dir else None
    if path is not None and path.exists():
        model = _load(path, key, images.shape[3], n_classes)
        if model is not None:
            STATS["loaded"] += 1
            log.info("image classifier read from cache %s", path)
            return model, key
    model = train_classifier(images, labels, n_classes, settings)
    if path is not None:
        try:
            _save(path, key, model)
            log.info("image classifier trained and cached at %s", path)
        except OSError as e:  # an unwritable cache costs a retraining next time, nothing else
            log.warning("image classifier not cached at %s (%s)", path, e)
    return model, key


def _load(path: Path, key: str, channels: int, n_classes: int) -> SmallCNN | None:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("key") != key:
            raise ValueError("the file belongs to other data or settings")
        model = SmallCNN(channels, n_classes)
        model.load_state_dict(blob["state_dict"])
        return model.eval()
    except Exception as e:  # noqa: BLE001 - any unreadable cache file is simply rebuilt
        log.warning("image classifier cache %s unusable (%s); retraining", path, str(e).splitlines()[0][:200])
        return None


def _save(path: Path, key: str, model: SmallCNN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        torch.save({"key": key, "version": CLASSIFIER_VERSION, "state_dict": model.state_dict()}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
