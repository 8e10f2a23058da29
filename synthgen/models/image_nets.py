"""Convolutional building blocks shared by the image GAN and VAE, sized from the image.

    ConvDecoder:  (z [B, Z], label [B]) -> fc -> [B, 2^(s-1) w, H'/2^s, W'/2^s] -> s transposed convs
                  (4x4, stride 2, each halving the channels; the last one, ToImage, gives C) ->
                  [B, C, H, W] raw values (the family picks the output function: tanh for the GAN,
                  a Bernoulli mean for the VAE). Conditional batch norm after every hidden layer.
    ConvEncoder:  [B, C, H, W] -> s stages (a 4x4 stride-2 conv, then depth - 1 3x3 convs; channels
                  w, 2w, ...) -> features [B, F] (optionally spectrally normalised: the GAN critic).

Sampling speed (MNIST, batch 1000, one CPU thread: ~5,000 images/s for either family) comes from
two CPU-specific choices: the last transposed conv is a matmul + fold (PyTorch's own is several
times slower with 1 or 3 output channels), and eval-mode conditional batch norm is one in-place
multiply-add (fresh allocations of [1000, 64, 14, 14] cost more than the arithmetic).

s = `conv_stages(H, W)`: the number of halvings that keep the smallest side at least 4 (8x8 -> 1,
28x28 -> 2, 32x32 -> 3, 64x64 -> 4). H' and W' are H and W rounded up to a multiple of 2^s: the
encoder pads its input to them (with -1, the background of most image sets) and the decoder crops
its output back, so any H x W works. MNIST (28x28) needs no padding.

`class_moment_distance` compares generated and real images class by class (the GAN's val_loss).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from synthgen import seeding


def conv_stages(height: int, width: int) -> int:
    """Stride-2 stages between an image and the smallest feature map (whose side stays >= 4), >= 1."""
    stages, side = 0, min(height, width)
    while side / 2 >= 4:
        stages, side = stages + 1, side / 2
    return max(1, stages)


def padded_size(height: int, width: int) -> tuple[int, int, int]:
    """(stages, H', W'): H and W rounded up to a multiple of 2^stages."""
    s = conv_stages(height, width)
    m = 2**s
    return s, math.ceil(height / m) * m, math.ceil(width / m) * m


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm without its own affine part, then a per-class gain and bias (gain starts at 1)."""

    def __init__(self, channels: int, n_classes: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """h [B, c, h, w], labels [B] -> [B, c, h, w]."""
        gain, bias = self.gain(labels), self.bias(labels)  # [B, c]
        if self.training:
            return self.norm(h) * gain[:, :, None, None] + bias[:, :, None, None]
        # eval (sampling): the running statistics folded into the gain and bias, applied in place,
        # which spares two passes over h and a fresh allocation (the caller does not reuse h)
        n = self.norm
        scale = gain * torch.rsqrt(n.running_var + n.eps)
        shift = bias - n.running_mean * scale
        return h.mul_(scale[:, :, None, None]).add_(shift[:, :, None, None])


class ToImage(nn.Module):
    """The last layer of the decoder: a 4x4 stride-2 transposed convolution to few channels,
    [B, c, h, w] -> [B, C, 2h, 2w], computed as a per-pixel matmul then fold (col2im). Same map
    as nn.ConvTranspose2d(c, C, 4, 2, 1), but several times faster on CPU for C = 1 or 3."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        # one 4x4 patch of C channels per input pixel, initialised as nn.Linear(in_channels, C * 16)
        bound = in_channels**-0.5
        self.weight = nn.Parameter(torch.empty(channels * 16, in_channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, c, H, W = h.shape
        cols = torch.bmm(self.weight.expand(B, -1, -1), h.flatten(2))  # [B, C * 16, H * W]
        return F.fold(cols, (2 * H, 2 * W), 4, stride=2, padding=1) + self.bias[:, None, None]


class ConvDecoder(nn.Module):
    """(z [B, Z], labels [B]) -> raw image [B, C, H, W]; the label enters as an embedding
    concatenated to z and through conditional batch norm."""

    def __init__(
        self,
        in_dim: int,
        channels: int,
        height: int,
        width: int,
        n_classes: int,
        base_width: int = 64,
        label_dim: int = 16,
    ):
        super().__init__()
        self.height, self.width = height, width
        stages, hp, wp = padded_size(height, width)
        self.start = (hp >> stages, wp >> stages)
        widths = [base_width * 2**i for i in reversed(range(stages))]  # e.g. [128, 64] for 28x28
        self.label = nn.Embedding(n_classes, label_dim)
        self.fc = nn.Linear(in_dim + label_dim, widths[0] * self.start[0] * self.start[1])
        self.norms = nn.ModuleList([ConditionalBatchNorm2d(widths[0], n_classes)])
        self.ups = nn.ModuleList()
        for a, b in zip(widths[:-1], widths[1:]):
            self.ups.append(nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False))  # bias: the norm's
            self.norms.append(ConditionalBatchNorm2d(b, n_classes))
        self.out = ToImage(widths[-1], channels)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.fc(torch.cat([z, self.label(labels)], 1))
        h = h.view(len(z), -1, *self.start)  # [B, 2^(s-1) w, H'/2^s, W'/2^s]
        h = F.relu(self.norms[0](h, labels), inplace=True)
        for up, norm in zip(self.ups, self.norms[1:]):
            h = F.relu(norm(up(h), labels), inplace=True)  # twice the side, half the channels
        x = self.out(h)  # [B, C, H', W']
        top, left = (x.shape[2] - self.height) // 2, (x.shape[3] - self.width) // 2
        return x[:, :, top : top + self.height, left : left + self.width]


class ConvEncoder(nn.Module):
    """[B, C, H, W] (padded to H' x W' with -1) -> features [B, out_features] by convs with LeakyReLU(0.2)."""

    def __init__(
        self, channels: int, height: int, width: int, base_width: int = 64, spectral: bool = False, depth: int = 1
    ):
        super().__init__()
        stages, self.hp, self.wp = padded_size(height, width)
        widths = [channels] + [base_width * 2**i for i in range(stages)]  # e.g. [1, 64, 128]
        wrap = spectral_norm if spectral else (lambda m: m)
        layers = []
        for a, b in zip(widths[:-1], widths[1:]):
            layers += [wrap(nn.Conv2d(a, b, 4, 2, 1)), nn.LeakyReLU(0.2)]
            for _ in range(depth - 1):  # then depth - 1 3x3 convs at that resolution
                layers += [wrap(nn.Conv2d(b, b, 3, 1, 1)), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.out_features = widths[-1] * (self.hp >> stages) * (self.wp >> stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dh, dw = self.hp - x.shape[2], self.wp - x.shape[3]
        if dh or dw:
            x = F.pad(x, (dw // 2, dw - dw // 2, dh // 2, dh - dh // 2), value=-1.0)
        return self.body(x).flatten(1)


def class_moment_distance(fake: torch.Tensor, real: torch.Tensor, labels: torch.Tensor, n_classes: int):
    """Generated vs real images with the same labels [N]: per class, the mean absolute difference
    of the per-pixel means plus that of the per-pixel standard deviations, averaged over the
    classes present (0 is a perfect match; [-1, 1] images bound it by 3; a few hundred real images
    leave a floor of a few hundredths). fake, real [N, C, H, W]."""
    parts = []
    for k in range(n_classes):
        sel = labels == k
        if sel.sum() < 2:
            continue
        f, r = fake[sel], real[sel]
        parts.append((f.mean(0) - r.mean(0)).abs().mean() + (f.std(0) - r.std(0)).abs().mean())
    return torch.stack(parts).mean() if parts else real.new_zeros(())


def validation_moment(model, batches: list) -> torch.Tensor | None:
    """class_moment_distance between the validation batches [(x [B, C, H, W], y [B]), ...] and as
    many images generated by `model` with the same labels, from a fixed noise draw (seed 0), so
    that the value compares across epochs; None without validation images. Empties `batches`."""
    if not batches:
        return None
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    batches.clear()
    fake = model.sample(y, seeding.torch_generator(seeding.VAL_SAMPLE, seeding.FIXED, device=model.device))
    return class_moment_distance(fake, x, y, model.n_classes)
