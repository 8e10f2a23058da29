"""Transformer blocks with a KV cache, shared by every autoregressive model (tables and images).

Shapes: B batch, T positions, d model width, H heads, D = d / H head width.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KVCache:
    """Preallocated keys and values per layer: [B, H, T_max, D]; `pos` is the number filled."""

    def __init__(self, n_layers: int, batch: int, n_heads: int, max_len: int, head_dim: int,
                 device=None, dtype=torch.float32):
        shape = (n_layers, batch, n_heads, max_len, head_dim)
        self.k = torch.empty(shape, device=device, dtype=dtype)  # only [:pos] is ever read
        self.v = torch.empty(shape, device=device, dtype=dtype)
        self.pos = 0


class CausalSelfAttention(nn.Module):
    def __init__(self, d: int, n_heads: int, dropout: float):
        super().__init__()
        assert d % n_heads == 0, "d_model must be divisible by n_heads"
        self.n_heads = n_heads
        self.drop = nn.Dropout(dropout)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, d = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)  # [B,H,T,D]
        if cache is not None:
            p = cache.pos
            cache.k[layer, :, :, p:p + T] = k
            cache.v[layer, :, :, p:p + T] = v
            k, v = cache.k[layer, :, :, :p + T], cache.v[layer, :, :, :p + T]
            # A single new position may attend to everything cached; a prefill needs the causal mask.
            causal = T > 1
            if causal and p > 0:
                raise ValueError("prefill must start from an empty cache")
        else:
            causal = True
        # No dropout on attention weights: it forces SDPA's slow "math" path on CPU.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.drop(self.proj(y.transpose(1, 2).reshape(B, T, d)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, d: int, n_heads: int, dropout: float, mlp_ratio: int = 4):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CausalSelfAttention(d, n_heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(), nn.Linear(mlp_ratio * d, d), nn.Dropout(dropout))

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


def gumbel_argmax(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """Sample from softmax(logits / temperature) along the last axis, reproducibly per generator."""
    u = torch.rand(logits.shape, generator=generator, device=logits.device).clamp_(1e-20, 1.0)
    return (logits / temperature - torch.log(-torch.log(u))).argmax(-1)
