"""Transformer blocks with a KV cache, shared by every autoregressive model (tables and images).

Shapes: B batch, T positions, d model width, H heads, D = d / H head width.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn

# Cached lengths (positions a row holds: a table's columns, an image's patches) from which the
# cache is batch-major and attends with matrix products. One layer over a sampling block, total ms
# over t = 1..T, broadcast / matrix products, 2 threads, three runs (benchmarks/bench_attention.py;
# the broadcast products take up to 2x longer in this machine's slow spells, the matrix products
# much less): T = 11: 42 / 138, 76 / 139, 46 / 106; 21: 74 / 123, 139 / 124, 77 / 90; 23: 91 / 145,
# 164 / 146, 93 / 94; 26: 183 / 102, 218 / 103, 120 / 115; 31: 296 / 130, 172 / 153; 65: 320 / 124,
# 184 / 145; 98: 770 / 301, 437 / 354. From 26 positions the matrix products win in every run.
BATCH_MAJOR_MIN_POSITIONS = 26

# PyTorch's CPU bmm multiplies matrices in a plain loop below rows x columns x contraction = 400 and
# through MKL's batched GEMM from there (aten's baddbmm). A one-query step is 1 x T x D, so with
# D = 8 (d_model 32, 4 heads) a batch-major cache is padded to at least 50 positions. At 8,192 rows,
# 4 heads of 16, a step's two products took 5.9 ms over 24 positions and 3.8 ms over 25
# (benchmarks/bench_attention.py, 2 threads). At the default width no padding is needed (26 >= 25).
BMM_MIN_WORK = 400


class KVCache:
    """Preallocated keys and values of every layer, in one of two layouts chosen by `max_len` (or
    forced by `batch_major`):

    - position-major, kv [T_max, L, 2, B, H, D] (max_len < BATCH_MAJOR_MIN_POSITIONS): attention
      by broadcast products over the filled positions (`cached_attention`), whose cost grows with
      t x B x H x D; writing one position of one layer is one contiguous [2, B, H, D] block.
    - batch-major, kv [L, 2, B, H, T_max, D]: attention by two batched matrix products per layer
      over all T_max positions, the ones not yet written masked out. Their cost is mostly a fixed
      ~0.1 us per (row, head) and step, so they win where rows are long (1.3-2.6x at 65 positions).
      The buffers start zeroed and later hold only written keys and values (or copies of them),
      so the masked positions are finite and weigh exactly 0.

    `select` copies only the filled positions. `capacity` (>= B) sizes a second buffer that
    `select` fills and then swaps with the first, so that pruning or growing the batch allocates
    nothing (fresh large tensors cost page faults).
    """

    def __init__(
        self,
        n_layers: int,
        batch: int,
        n_heads: int,
        max_len: int,
        head_dim: int,
        device=None,
        dtype=torch.float32,
        capacity: int = 0,
        batch_major: bool | None = None,
    ):
        # None: by the rule (BATCH_MAJOR_MIN_POSITIONS); True / False force a layout (benchmarks, tests)
        self.batch_major = max_len >= BATCH_MAJOR_MIN_POSITIONS if batch_major is None else batch_major
        if self.batch_major:  # padded to where bmm takes MKL's batched GEMM (the padding is never written)
            max_len = max(max_len, -(-BMM_MIN_WORK // head_dim))
        self.shape = (max_len, n_layers, 2, n_heads, head_dim)  # (T, L, 2, H, D); the batch goes in per layout
        self._buf = self._new_buffer(max(batch, capacity), device, dtype)
        self._spare = self._new_buffer(capacity, device, dtype)
        self.kv = self._view(self._buf, batch)  # only the filled positions are ever read unmasked
        self.pos = 0
        # batch-major: row p is 0 at the positions 0..p a query at p attends to, -inf after them
        if self.batch_major:
            self._mask = torch.full((max_len, max_len), float("-inf"), device=device, dtype=dtype).triu(1)

    def _new_buffer(self, batch: int, device, dtype) -> torch.Tensor:
        make = torch.zeros if self.batch_major else torch.empty
        return make(self._view_size(batch), device=device, dtype=dtype)

    def _view(self, buf: torch.Tensor, batch: int) -> torch.Tensor:
        T, L, two, H, D = self.shape
        shape = (L, two, batch, H, T, D) if self.batch_major else (T, L, two, batch, H, D)
        return buf[: self._view_size(batch)].view(shape)

    def reset(self, batch: int) -> None:
        """Empty the cache for a new batch of `batch` rows (reusing the buffer when it fits)."""
        if self._buf.numel() < self._view_size(batch):
            self._buf = self._new_buffer(batch, self._buf.device, self._buf.dtype)
        self.kv, self.pos = self._view(self._buf, batch), 0

    def _view_size(self, batch: int) -> int:
        T, L, two, H, D = self.shape
        return T * L * two * batch * H * D

    def _filled(self, kv: torch.Tensor) -> torch.Tensor:
        return kv[..., : self.pos, :] if self.batch_major else kv[: self.pos]

    def select(self, index: torch.Tensor) -> None:
        """Keep batch entries `index` [B'] (repeats allowed), copying only the filled positions."""
        need = self._view_size(len(index))
        if self._spare.numel() < need:
            self._spare = self._new_buffer(len(index), self._buf.device, self._buf.dtype)
        new = self._view(self._spare, len(index))
        torch.index_select(self._filled(self.kv), 2 if self.batch_major else 3, index, out=self._filled(new))
        self._buf, self._spare, self.kv = self._spare, self._buf, new

    def put(self, layer: int, kv: torch.Tensor) -> None:
        """Store one layer's keys and values kv [B, T, 2, H, D] at positions pos .. pos + T - 1."""
        p, T = self.pos, kv.shape[1]
        if self.batch_major:
            self.kv[layer, :, :, :, p : p + T] = kv.permute(2, 0, 3, 1, 4)
        else:
            self.kv[p : p + T, layer] = kv.permute(1, 2, 0, 3, 4)

    def attend(self, layer: int, q: torch.Tensor) -> torch.Tensor:
        """One query per row at position pos over positions 0..pos of `layer`: q [B, H, D] -> [B, H, D]."""
        if not self.batch_major:
            kv = self.kv[: self.pos + 1, layer]  # [t, 2, B, H, D]
            return cached_attention(q, kv[:, 0], kv[:, 1])
        T, _, _, H, D = self.shape
        B = q.shape[0]
        k, v = self.kv[layer].view(2, B * H, T, D)
        with torch.autocast(q.device.type, enabled=False):  # float32 products, as the broadcast ones
            q = q.reshape(B * H, 1, D).to(k.dtype)
            s = torch.baddbmm(self._mask[self.pos], q, k.transpose(1, 2), alpha=D**-0.5)  # [B*H, 1, T]
            return torch.bmm(s.softmax(-1), v).view(B, H, D)  # [B*H, 1, T] x [B*H, T, D]


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


# Rows per piece of the cached attention: each [t, rows, H, D] temporary holds at most
# ATTENTION_PIECE * H * D floats (2 MB at H * D = 64), so it stays in the CPU cache.
ATTENTION_PIECE = 8192


def cached_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One query per row over t cached positions: q [B, H, D], k and v [t, B, H, D] -> [B, H, D].

    Broadcast products on the position-major cache: 2x faster on CPU than SDPA's kernel for a
    single query row at small t. Their [t, b, H, D] temporaries grow with t, so the rows go in
    pieces of at most ATTENTION_PIECE / t (a power of 2, at least 64): at t = 65 and 2,048 rows,
    3-4x faster than one piece of 34 MB (benchmarks/bench_attention.py). The pieces depend only
    on t and B, so the same inputs give the same bits (a row's last bits may differ with the
    piece size).
    """
    t, B, H, D = k.shape
    rows = max(64, 1 << (ATTENTION_PIECE // t).bit_length() - 1)
    if rows >= B:
        return _attend(q, k, v)
    y = q.new_empty(B, H, D)
    for s in range(0, B, rows):
        _attend(q[s : s + rows], k[:, s : s + rows], v[:, s : s + rows], out=y[s : s + rows])
    return y


def _attend(q, k, v, out=None):
    scores = (k * q).sum(-1) * q.shape[-1] ** -0.5  # [t, b, H]
    return torch.sum(scores.softmax(0).unsqueeze(-1) * v, 0, out=out)  # [b, H, D]


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
            cache.put(layer, qkv[:, :, 1:])
            y = cache.attend(layer, qkv[:, 0, 0])  # [B, H, D]
            return self.drop(self.proj(y.view(B, 1, d)))
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # [B, H, T, D] each
        if cache is not None:  # a prefill of T positions
            if cache.pos > 0:
                raise ValueError("prefill must start from an empty cache")
            cache.put(layer, qkv[:, :, 1:])  # [B, T, 2, H, D]
        # No dropout on attention weights: it forces SDPA's slow "math" path on CPU.
        if q.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # float32 under CPU autocast: bf16 SDPA's forward + backward took 2.4-4.3x float32's time
            # (one layer, 4 heads of 16: 512 rows x 15 positions 22.9 against 9.4 ms; 256 x 65: 113 against 26)
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True)
        else:
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

    def new_cache(self, batch: int, max_len: int, like: torch.Tensor, capacity: int = 0) -> KVCache:
        H, D = self.n_heads, self.d // self.n_heads
        return KVCache(self.n_layers, batch, H, max_len, D, like.device, like.dtype, capacity)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        for i, block in enumerate(self.blocks):
            x = block(x, cache, i)
        if cache is not None:
            cache.pos += x.shape[1]
        return self.ln_f(x)


def bf16_native(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices natively (faster than float32): a CUDA GPU with
    bf16 support, or a CPU with AVX512-BF16 or AMX. Elsewhere bf16 is emulated and slower."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        cpu = torch.cpu
        return any(getattr(cpu, f, lambda: False)() for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))
    return False


def runs_bf16(precision: str, device: torch.device, native_ok: bool = True) -> bool:
    """Whether a precision setting (generate.precision, model.tabular.train_precision: "native",
    "bf16" or "32") computes in bfloat16 on `device`: "bf16" always, "32" never, "native" where the
    device multiplies bf16 natively and the caller's own condition `native_ok` holds."""
    return precision == "bf16" or (precision == "native" and native_ok and bf16_native(device))


def sample_categorical(logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0) -> torch.Tensor:
    """Sample from softmax(logits / temperature) along the last axis, reproducibly per generator.

    logits [..., k] -> int64 [...]. Inverse CDF with one uniform per draw: the token is the number
    of cumulative probabilities below u * total. Cheaper than Gumbel-max, which needs k uniforms
    and two logarithms per draw.
    """
    cdf = (logits.float() / temperature).softmax(-1).cumsum(-1)
    u = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device) * cdf[..., -1:]
    return (cdf < u).sum(-1).clamp_(max=cdf.shape[-1] - 1)  # clamp: guards u * total == total
