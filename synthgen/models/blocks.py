"""Transformer blocks with a KV cache, shared by every autoregressive model (tables and images).

Shapes: B batch, T positions, d model width, H heads, D = d / H head width.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn


class KVCache:
    """Preallocated keys and values per layer, position-major: [T_max, B, H, D] per layer, so that
    writing one position is one contiguous block; `pos` is the number of positions filled."""

    def __init__(
        self, n_layers: int, batch: int, n_heads: int, max_len: int, head_dim: int, device=None, dtype=torch.float32
    ):
        shape = (n_layers, max_len, batch, n_heads, head_dim)
        self.k = torch.empty(shape, device=device, dtype=dtype)  # only [:, :pos] is ever read
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.pos = 0

    def select(self, index: torch.Tensor) -> None:
        """Keep batch entries `index` [B'] (repeats allowed), copying only the filled positions."""
        L, T, _, H, D = self.k.shape
        for name in ("k", "v"):
            old = getattr(self, name)
            new = old.new_empty((L, T, len(index), H, D))
            new[:, : self.pos] = old[:, : self.pos, index]
            setattr(self, name, new)


# The 16-bit pieces of an int64 that hold its low 48 bits, in memory order.
_LOW_PIECES = slice(0, 3) if sys.byteorder == "little" else slice(1, 4)


class Dropout(nn.Module):
    """Inverted dropout, as nn.Dropout, with the mask drawn from 16 random bits per element.

    nn.Dropout's bernoulli_ draws one random number per element, which on CPU took a fifth of the
    tabular transformer's training step; here one 64-bit draw serves three elements (its low 48
    bits: the top bit of a random int64 is always 0): 2x faster forward and backward. The drop
    probability is p rounded to a multiple of 1/65536 (0.1 -> 0.100006), and the kept values are
    scaled by 1 / (1 - that). Draws from the default generator, like nn.Dropout.
    """

    def __init__(self, p: float):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {p}")
        self.p = p
        drop = round(p * 65536)
        self.threshold = drop - 32768  # an int16 r is kept when r >= threshold: (65536 - drop) of 65536 values
        self.scale = 65536 / (65536 - drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        n = x.numel()
        bits = torch.empty((n + 2) // 3, dtype=torch.int64, device=x.device).random_()  # [0, 2^63)
        r = bits.view(torch.int16).view(-1, 4)[:, _LOW_PIECES]  # the three uniform 16-bit pieces
        keep = (r >= self.threshold).reshape(-1)[:n].view(x.shape)
        return x * keep.to(x.dtype).mul_(self.scale)  # in x's dtype (bf16 under autocast)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        assert d % n_heads == 0, "d_model must be divisible by n_heads"
        self.n_heads = n_heads
        self.drop = Dropout(dropout)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, d = x.shape
        H, D = self.n_heads, d // self.n_heads
        qkv = self.qkv(x).view(B, T, 3, H, D)
        if cache is not None and T == 1:  # one new position attends to everything cached
            p = cache.pos
            cache.k[layer, p] = qkv[:, 0, 1]
            cache.v[layer, p] = qkv[:, 0, 2]
            # [t, B, H] scores over the t = p + 1 cached positions, as broadcast products on the
            # position-major cache: 2x faster on CPU than SDPA's kernel for a single query row.
            scores = (cache.k[layer, : p + 1] * qkv[:, 0, 0]).sum(-1) * D**-0.5
            y = (scores.softmax(0).unsqueeze(-1) * cache.v[layer, : p + 1]).sum(0)  # [B, H, D]
            return self.drop(self.proj(y.reshape(B, 1, d)))
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # [B, H, T, D] each
        if cache is not None:  # a prefill of T positions
            if cache.pos > 0:
                raise ValueError("prefill must start from an empty cache")
            cache.k[layer, :T] = k.permute(2, 0, 1, 3)
            cache.v[layer, :T] = v.permute(2, 0, 1, 3)
        # No dropout on attention weights: it forces SDPA's slow "math" path on CPU.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.drop(self.proj(y.transpose(1, 2).reshape(B, T, d)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d: int, n_heads: int, dropout: float, mlp_ratio: int = 4):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, n_heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d), Dropout(dropout))

    def forward(self, x, cache: KVCache | None = None, layer: int = 0):
        x = x + self.attn(self.ln1(x), cache, layer)
        return x + self.mlp(self.ln2(x))


class Trunk(nn.Module):
    """A stack of blocks with a final norm; advances the cache position after a full pass."""

    def __init__(self, d: int, n_layers: int, n_heads: int, dropout: float):
        super().__init__()
        self.blocks = nn.ModuleList([Block(d, n_heads, dropout) for _ in range(n_layers)])
        self.ln_f = nn.LayerNorm(d)
        self.n_layers, self.n_heads, self.d = n_layers, n_heads, d

    def new_cache(self, batch: int, max_len: int, like: torch.Tensor) -> KVCache:
        return KVCache(self.n_layers, batch, self.n_heads, max_len, self.d // self.n_heads, like.device, like.dtype)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.pos += x.shape[1]
        return self.ln_f(x)


def sample_categorical(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """Sample from softmax(logits / temperature) along the last axis, reproducibly per generator.

    logits [..., k] -> int64 [...]. Inverse CDF with one uniform per draw: the token is the number
    of cumulative probabilities below u * total. Cheaper than Gumbel-max, which needs k uniforms
    and two logarithms per draw.
    """
    cdf = (logits.float() / temperature).softmax(-1).cumsum(-1)
    u = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device) * cdf[..., -1:]
    return (cdf < u).sum(-1).clamp_(max=cdf.shape[-1] - 1)  # clamp: guards u * total == total
