"""What every image generator shares: the layout, the training batch format and the sample contract.

- `input_kind` says what the data module feeds the family:
    "pixels": batches (x float32 [B, C, H, W] in [-1, 1], y int64 [B])  (GAN, VAE)
    "tokens": batches (t int64 [B, H*W*C] in [0, levels), y int64 [B])  (transformer; raster
              order, a pixel's channels adjacent; see encoders/images.py)
- `sample_images(labels, generator)`: labels int64 [b] -> the same kind as the input, for b
  images, using only `generator` for randomness (the output is fixed by the seed, whatever the process).
  The writer turns it into uint8 images with ImageEncoder.decode / from_tokens.
- Training logs `val_loss` once per validation epoch (early stopping and checkpoints watch it).
"""

from __future__ import annotations

import torch

from synthgen.encoders.images import ImageLayout
from synthgen.models.base import Generator


class ImageGenerator(Generator):
    input_kind = "pixels"

    def __init__(self, layout: dict, batch_size: int, lr: float, sample_batch: int = 1000):
        super().__init__()
        self.layout = ImageLayout.from_dict(layout)
        self.batch_size, self.lr, self.sample_batch = batch_size, lr, sample_batch

    @property
    def n_classes(self) -> int:
        return self.layout.n_classes

    def sample(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """labels int64 [n] -> pixels or tokens for n images, in blocks of `sample_batch` (bounded
        memory), in eval mode and without gradients; the family implements `sample_images`."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                parts = [
                    self.sample_images(labels[i : i + self.sample_batch], generator)
                    for i in range(0, len(labels), self.sample_batch)
                ]
        finally:
            self.train(was_training)
        return torch.cat(parts)

    def sample_images(self, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One block: labels int64 [b] -> float [b, C, H, W] in [-1, 1] ("pixels") or int64 [b, H*W*C]."""
        raise NotImplementedError
