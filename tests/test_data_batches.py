"""synthgen/data.py: the batched dataset gives the loader exactly the batches the per-row default
collate would, for the training order and the validation pass, for tables and images with labels."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, RandomSampler, TensorDataset

from synthgen import seeding
from synthgen.data import TensorDataModule, TokenDataModule


def _default_batches(dataset, batch_size, sampler=None, drop_last=False):
    plain = TensorDataset(*dataset.tensors)  # one row per __getitem__, stacked by the default collate
    return list(DataLoader(plain, batch_size=batch_size, sampler=sampler, drop_last=drop_last))


def _same(a, b):
    return len(a) == len(b) and all(
        len(x) == len(y) and all(torch.equal(u, v) for u, v in zip(x, y)) for x, y in zip(a, b)
    )


def test_training_and_validation_batches_equal_the_default_collates():
    tokens = np.random.default_rng(0).integers(0, 50, size=(1000, 6))
    dm = TokenDataModule(tokens, batch_size=64, val_share=0.1, seed=3)
    dm.repeats = 2
    got = list(dm.train_dataloader())
    g = seeding.torch_generator(seeding.TRAIN_ORDER, 3)
    sampler = RandomSampler(dm.train_set, num_samples=2 * len(dm.train_set), generator=g)
    assert _same(got, _default_batches(dm.train_set, 64, sampler, drop_last=True))
    assert _same(list(dm.val_dataloader()), _default_batches(dm.val_set, 4096))


def test_images_and_labels_come_as_a_list_of_two_batched_tensors():
    rng = np.random.default_rng(1)
    images, labels = rng.random((40, 1, 4, 4), dtype=np.float32), rng.integers(0, 3, size=40)
    dm = TensorDataModule((images, labels), batch_size=8, val_share=0.0, seed=0)
    [first, *_] = list(dm.train_dataloader())
    assert isinstance(first, list) and first[0].shape == (8, 1, 4, 4) and first[1].shape == (8,)
