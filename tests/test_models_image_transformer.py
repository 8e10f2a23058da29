"""Image transformer: patch tokens round trip, a real Lightning fit on load_digits, sample shapes and
range (grey and colour, with padding), KV-cached sampling equal to full-sequence sampling, seeded
reproducibility, class conditioning that is learned, and the export/reload round trip."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from synthgen.checkpoint import export_generator, load_generator
from synthgen.config import load_config
from synthgen.encoders.images import ImageEncoder, ImageLayout, quantization_tables
from synthgen.image_sources import load_image_source

# A small network so that every test takes a second or two on one CPU thread.
SMALL = [
    "model.image.d_model=32",
    "model.image.n_layers=2",
    "model.image.n_heads=2",
    "model.image.batch_size=50",
    "model.image.sample_batch=64",
]


def make_model(layout: dict, *extra: str):
    """The network of conf/model/transformer.yaml's `image:` block, as the pipeline instantiates it."""
    cfg = load_config([*SMALL, *extra])
    model_config = OmegaConf.to_container(cfg.model.image, resolve=True)
    return instantiate(model_config, layout=layout, _convert_="all"), model_config


def layout_of(channels: int, height: int, width: int, n_classes: int = 10) -> dict:
    return ImageLayout(channels, height, width, n_classes).to_dict()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fit(model, tokens: torch.Tensor, labels: torch.Tensor, **trainer_kwargs):
    torch.manual_seed(0)
    train = DataLoader(TensorDataset(tokens, labels), batch_size=model.batch_size, shuffle=True)
    val = DataLoader(TensorDataset(tokens[:100], labels[:100]), batch_size=100)
    kwargs = dict(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        gradient_clip_val=1.0,
        num_sanity_val_steps=0,
    )
    trainer = pl.Trainer(**{**kwargs, **trainer_kwargs})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, train, val)
    return trainer


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    """300 load_digits images (8x8x1): encoder, tokens int64 [300, 64] at 256 levels, labels [300]."""
    data = load_image_source({"kind": "digits"}).subset(np.arange(300))
    enc = ImageEncoder.fit(data)
    return enc, torch.from_numpy(enc.to_tokens(data)), torch.from_numpy(data.labels)


@pytest.fixture(scope="module")
def digits_model(digits):
    """A model fitted for a few steps on the digits (weights no longer at their initial values)."""
    enc, tokens, labels = digits
    model, model_config = make_model(enc.layout.to_dict())
    fit(model, tokens, labels, max_steps=5)
    return model.eval(), model_config


# ---- patch tokens ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,levels,patch", [((1, 28, 28), 2, [2, 4]), ((1, 10, 7), 4, 3), ((3, 6, 5), 2, 2)])
def test_patch_tokens_round_trip_to_the_quantised_grey_values(shape, levels, patch):
    C, H, W = shape
    model, _ = make_model(layout_of(C, H, W), f"model.image.levels={levels}", f"model.image.patch={patch}")
    t = torch.randint(0, 256, (20, H * W * C), generator=seeded(0))
    p = model.to_patches(t)  # [20, P]
    assert p.shape == (20, model.n_pos) and 0 <= p.min() and p.max() < model.vocab
    q, dq = quantization_tables(levels)
    assert torch.equal(model.from_patches(p), torch.from_numpy(dq[q[t.numpy()]].astype(np.int64)))


def test_colour_images_get_a_smaller_patch_within_the_vocabulary_cap():
    model, _ = make_model(layout_of(3, 10, 6))  # default patch [2, 4]: 2^24 tokens -> [2, 2]
    assert (model.ph, model.pw, model.vocab, model.n_pos) == (2, 2, 4096, 5 * 3)


# ---- training -------------------------------------------------------------------------------------
def test_fast_dev_run_on_digits_logs_losses_and_learns(digits):
    enc, tokens, labels = digits
    model, _ = make_model(enc.layout.to_dict())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = fit(model, tokens, labels, fast_dev_run=True)
    val = trainer.callback_metrics["val_loss"]
    assert math.isfinite(float(val)) and 0 < float(val) < math.log(model.vocab) + 1
    assert "train_loss" in trainer.callback_metrics
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    images = enc.from_tokens(model.sample(labels[:7], seeded(0)))
    assert images.shape == (7, 8, 8, 1) and images.dtype == np.uint8
    assert set(np.unique(images)) <= {0, 255}  # levels=2: black and white only


def test_class_conditioning_is_learned():
    """Class 0 all black, class 1 all white (4x4): after a short fit each class samples its colour."""
    layout = layout_of(1, 4, 4, n_classes=2)
    model, _ = make_model(layout, "model.image.lr=0.01", "model.image.warmup_steps=5")
    labels = torch.arange(2).repeat(200)
    tokens = (labels * 255).unsqueeze(1).expand(-1, 16).contiguous()
    fit(model, tokens, labels, max_epochs=5)
    out = model.sample(torch.tensor([0] * 100 + [1] * 100), seeded(0)).float().mean(1)  # mean grey per image
    # After 5 epochs the model still gives the other colour's tokens ~1% of the probability.
    assert (out[:100] < 20).sum() >= 95 and (out[100:] > 235).sum() >= 95


# ---- sampling -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 10, 6)])
def test_sample_shapes_and_token_range(shape):
    C, H, W = shape
    model, _ = make_model(layout_of(C, H, W), "model.image.sample_batch=4")
    labels = torch.tensor([0, 3, 9, 1, 1, 2])  # two blocks of sample_batch=4
    out = model.sample(labels, seeded(0))
    assert out.shape == (6, H * W * C) and out.dtype == torch.int64
    assert 0 <= out.min() and out.max() < 256
    assert model.training  # sample() restores the mode it found


def test_kv_cached_sampling_equals_full_sequence_sampling(digits_model):
    model, _ = digits_model
    labels = torch.arange(10).repeat(3)
    with torch.no_grad():
        cached = model.sample_images(labels, seeded(5))
        full = model.sample_images(labels, seeded(5), use_cache=False)
    assert torch.equal(cached, full)


def test_cached_logits_equal_the_teacher_forced_forward(digits_model):
    """Run the cache step by step over given patch tokens: each step's logits match forward()."""
    model, _ = digits_model
    p = torch.randint(0, model.vocab, (6, model.n_pos), generator=seeded(1))
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    with torch.no_grad():
        full = model(p, y)  # [6, P, vocab]
        x = torch.cat([model.cls_emb(y).unsqueeze(1), model.tok_emb(p[:, :-1])], 1) + model.pos_emb
        cache = model.trunk.new_cache(6, model.n_pos, x)
        steps = [model.head(model.trunk(x[:, :2], cache))]  # a prefill of two positions, then one at a time
        steps += [model.head(model.trunk(x[:, t : t + 1], cache)) for t in range(2, model.n_pos)]
    torch.testing.assert_close(torch.cat(steps, 1), full, atol=1e-5, rtol=1e-5)


def test_same_seed_same_images_other_seed_differs(digits_model):
    model, _ = digits_model
    labels = torch.arange(10).repeat(10)
    a, b, c = (model.sample(labels, seeded(s)) for s in (0, 0, 1))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_export_and_reload_give_identical_samples(digits_model, tmp_path):
    model, model_config = digits_model
    export_generator(model, model_config, tmp_path / "model.pt")
    loaded = load_generator(tmp_path / "model.pt")
    assert type(loaded) is type(model) and not loaded.training
    labels = torch.arange(10).repeat(4)
    assert torch.equal(loaded.sample(labels, seeded(3)), model.sample(labels, seeded(3)))
