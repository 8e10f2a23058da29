"""PNG bytes written with the standard library: `encode_png` (one image) and `sample_grid_png`
(one row per class). The bytes depend only on the pixels and zlib, never on pillow's version.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_COMPRESS_LEVEL = 6  # fixed: part of what makes the bytes reproducible (see encode_png)
CHANNELS = (1, 3)  # grey or RGB


def encode_png(image: np.ndarray) -> bytes:
    """uint8 [H, W, C] (C = 1 or 3) -> PNG bytes: 8-bit grey or RGB, no filter, zlib level 6, no metadata.

    Written directly with the standard library's zlib (about twice as fast as pillow for small
    images): the bytes depend only on the pixels and zlib, not on the pillow version, so a pillow
    upgrade does not change DVC-tracked outputs. Any PNG reader (pillow included) decodes them.
    """
    h, w, c = image.shape
    rows = np.zeros((h, 1 + w * c), np.uint8)  # a leading 0 per row: filter type "none"
    rows[:, 1:] = image.reshape(h, w * c)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0 if c == 1 else 2, 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _png_chunk(b"IHDR", ihdr),
            _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_COMPRESS_LEVEL)),
            _PNG_IEND,
        )
    )


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = _png_chunk(b"IEND", b"")


def sample_grid_png(
    images: np.ndarray, labels, n_classes: int, per_class: int = 10, pad: int = 2, scale: int = 1
) -> bytes:
    """A PNG grid with one row per class: its first `per_class` images (blank cells if fewer).

    images uint8 [N, H, W, C]; `scale` enlarges each pixel (nearest) for tiny images, e.g. 8x8 digits.
    """
    images = np.asarray(images)
    labels = np.asarray(labels).reshape(-1)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[3] not in CHANNELS:
        raise ValueError(f"images must be uint8 [N, H, W, 1 or 3], got {images.dtype} {images.shape}")
    _, h, w, c = images.shape
    rows, cols = max(int(n_classes), 1), max(int(per_class), 1)
    grid = np.full((pad + rows * (h + pad), pad + cols * (w + pad), c), 128, np.uint8)  # grey frame
    for k in range(rows):
        for j, i in enumerate(np.flatnonzero(labels == k)[:cols]):
            y, x = pad + k * (h + pad), pad + j * (w + pad)
            grid[y : y + h, x : x + w] = images[i]
    if scale > 1:
        grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    return encode_png(grid)
