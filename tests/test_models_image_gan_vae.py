"""Image GAN and VAE: training through a real Lightning Trainer on 8x8 digits, any image size and
channel count, seeded and bounded samples, both GAN optimisers stepping, the export round trip,
the shared conv blocks, and a short learning check that samples follow their labels."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from synthgen.checkpoint import export_generator, load_generator
from synthgen.encoders.images import ImageEncoder
from synthgen.image_sources import load_image_source
from synthgen.models.image_gan import ImageGAN
from synthgen.models.image_nets import (
    ConditionalBatchNorm2d,
    ConvDecoder,
    ConvEncoder,
    ToImage,
    class_moment_distance,
    padded_size,
)
from synthgen.models.image_vae import ImageVAE

FAMILIES = {"gan": ImageGAN, "vae": ImageVAE}
# Small networks so that every test takes a second or two on one CPU thread.
SMALL = {
    "gan": {"noise_dim": 8, "generator_width": 8, "critic_width": 8, "batch_size": 32, "sample_batch": 64},
    "vae": {"latent_dim": 4, "width": 8, "batch_size": 32, "sample_batch": 64},
}


def layout(channels=1, height=8, width=8, n_classes=10) -> dict:
    return {
        "kind": "image",
        "channels": channels,
        "height": height,
        "width": width,
        "n_classes": n_classes,
        "levels": 256,
    }


def make(family: str, lay: dict | None = None, **kw):
    torch.manual_seed(0)
    return FAMILIES[family](lay or layout(), **{**SMALL[family], **kw})


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits():
    """The first 300 load_digits images: x float32 [300, 1, 8, 8] in [-1, 1], y int64 [300]."""
    data = load_image_source({"kind": "digits"})
    x, y = ImageEncoder.fit(data).encode(data)
    return torch.from_numpy(x[:300]), torch.from_numpy(y[:300])


def fit(model, x, y, **trainer_kwargs):
    torch.manual_seed(0)
    train = DataLoader(TensorDataset(x, y), batch_size=model.batch_size, shuffle=True, drop_last=True)
    val = DataLoader(TensorDataset(x[:100], y[:100]), batch_size=100)
    kwargs = dict(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
    )
    trainer = pl.Trainer(**{**kwargs, **trainer_kwargs})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(model, train, val)
    return trainer


def draw(model, labels, seed: int) -> torch.Tensor:
    return model.sample(labels, torch.Generator().manual_seed(seed))


# ---- training ---------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_fast_dev_run_trains_and_logs_val_loss(family, digits):
    model = make(family)
    trainer = fit(model, *digits, fast_dev_run=True)
    assert torch.isfinite(trainer.callback_metrics["val_loss"])
    assert torch.isfinite(trainer.callback_metrics["train_loss"])


def test_gan_steps_both_optimisers_and_the_weight_average(digits):
    model = make("gan")
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    fit(model, *digits, limit_train_batches=3, limit_val_batches=0)

    def changed(prefix: str) -> bool:
        return any(not torch.equal(p, before[n]) for n, p in model.named_parameters() if n.startswith(prefix))

    assert changed("generator.") and changed("critic.")
    assert int(model.ema_steps) == 3
    avg, raw = model.generator_ema.fc.weight, model.generator.fc.weight
    assert not torch.equal(avg, before["generator.fc.weight"]) and not torch.equal(avg, raw)


def test_the_image_gan_steps_both_optimisers_with_the_fused_kernel_in_float32_and_not_under_mixed_precision(digits):
    def fused_flags(precision):
        model = make("gan")
        trainer = fit(model, *digits, limit_train_batches=2, limit_val_batches=0, precision=precision)
        return [bool(g.get("fused")) for opt in trainer.optimizers for g in opt.param_groups]

    assert fused_flags("32-true") == [True, True]
    assert not any(fused_flags("bf16-mixed"))


# ---- sampling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "lay", [layout(), layout(1, 28, 28), layout(3, 13, 10, n_classes=3)], ids=["8x8x1", "28x28x1", "13x10x3"]
)
def test_samples_have_the_layout_shape_and_lie_in_range(family, lay):
    model = make(family, lay)
    labels = torch.arange(150) % lay["n_classes"]  # more than sample_batch: several blocks
    out = draw(model, labels, 0)
    assert out.shape == (150, lay["channels"], lay["height"], lay["width"]) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    assert model.training  # sample() restores the mode


@pytest.mark.parametrize("family", FAMILIES)
def test_the_seed_fixes_the_samples(family, digits):
    model = make(family)
    fit(model, *digits, limit_train_batches=2, limit_val_batches=0)  # batch-norm statistics away from their start
    labels = torch.arange(100) % 10
    torch.manual_seed(123)  # the global stream must not matter
    a = draw(model, labels, 7)
    torch.manual_seed(456)
    assert torch.equal(a, draw(model, labels, 7))
    assert not torch.equal(a, draw(model, labels, 8))


@pytest.mark.parametrize("family", FAMILIES)
def test_export_and_reload_give_identical_samples(family, digits, tmp_path):
    model = make(family)
    fit(model, *digits, limit_train_batches=2, limit_val_batches=0)
    config = {"_target_": f"{type(model).__module__}.{type(model).__name__}", **SMALL[family]}
    export_generator(model, config, tmp_path / "model.ckpt")
    loaded = load_generator(tmp_path / "model.ckpt")
    labels = torch.arange(50) % 10
    assert torch.equal(draw(model, labels, 3), draw(loaded, labels, 3))


def test_samples_follow_their_labels(digits):
    """A VAE trained for ~2 s: each class's mean sample is nearest to that class's real mean."""
    x, y = digits
    model = make("vae", width=16, latent_dim=8, lr=3e-3)
    fit(model, x, y, max_epochs=15, limit_val_batches=0)
    fake = draw(model, torch.arange(10).repeat_interleave(50), 0).view(10, 50, -1).mean(1)  # [10, 64]
    real = torch.stack([x[y == k].flatten(1).mean(0) for k in range(10)])  # [10, 64]
    nearest = torch.cdist(fake, real).argmin(1)
    assert (nearest == torch.arange(10)).sum() >= 9


# ---- building blocks --------------------------------------------------------------------------
def test_conv_stack_sizes():
    assert padded_size(8, 8) == (1, 8, 8)
    assert padded_size(28, 28) == (2, 28, 28)
    assert padded_size(32, 32) == (3, 32, 32)
    assert padded_size(13, 10) == (1, 14, 10)
    enc = ConvEncoder(3, 13, 10, base_width=4, depth=2)
    assert enc(torch.zeros(2, 3, 13, 10)).shape == (2, enc.out_features)
    dec = ConvDecoder(5, 3, 13, 10, n_classes=2, base_width=4)
    assert dec(torch.zeros(2, 5), torch.tensor([0, 1])).shape == (2, 3, 13, 10)


def test_to_image_is_a_transposed_convolution():
    to_image, ref = ToImage(6, 3), nn.ConvTranspose2d(6, 3, 4, 2, 1)
    with torch.no_grad():
        to_image.bias.normal_()
        ref.weight.copy_(to_image.weight.view(3, 4, 4, 6).permute(3, 0, 1, 2))
        ref.bias.copy_(to_image.bias)
    h = torch.randn(2, 6, 5, 7)
    torch.testing.assert_close(to_image(h), ref(h))


def test_conditional_batch_norm_eval_matches_its_definition():
    cbn = ConditionalBatchNorm2d(4, 3)
    for _ in range(3):  # running statistics away from (0, 1)
        cbn(torch.randn(16, 4, 3, 3) * 2 + 1, torch.randint(0, 3, (16,)))
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    cbn.eval()
    h, labels = torch.randn(5, 4, 3, 3), torch.tensor([0, 1, 2, 1, 0])
    want = cbn.norm(h) * cbn.gain(labels)[:, :, None, None] + cbn.bias(labels)[:, :, None, None]
    torch.testing.assert_close(cbn(h.clone(), labels), want)


def test_class_moment_distance():
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(200, 1, 4, 4, generator=gen) * 2 - 1
    labels = torch.arange(200) % 2
    real[labels == 1] = real[labels == 1] * 0.2 + 0.5  # class 1: brighter, less spread
    assert class_moment_distance(real, real, labels, 2) == 0
    swapped = class_moment_distance(real.roll(1, 0), real, labels, 2)  # each image has the other label
    same = class_moment_distance(real.roll(2, 0), real, labels, 2)  # the same classes, shuffled
    assert swapped > 0.5 and same < 0.2 * swapped
    assert np.isfinite(float(class_moment_distance(real[:3], real[:3], torch.tensor([0, 1, 2]), 3)))
