"""The shared transformer blocks (synthgen/models/blocks.py): the cached one-query attention
against PyTorch's attention, in one piece and in row pieces; KVCache.select against indexing
the cache; cached steps with selects between them against the full causal forward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from synthgen.models import blocks
from synthgen.models.blocks import KVCache, Trunk, cached_attention


@pytest.mark.parametrize("t,B", [(1, 5), (8, 300), (65, 300), (200, 130)])
def test_cached_attention_equals_sdpa_in_one_piece_or_many(t, B, monkeypatch):
    """t = 65 and 200 run in pieces of 64 rows (the last one short); t = 1 and 8 in one piece."""
    g = torch.Generator().manual_seed(t)
    H, D = 4, 16
    k, v = torch.randn(2, t, B, H, D, generator=g)
    q = torch.randn(B, H, D, generator=g)
    got = cached_attention(q, k, v)
    ref = F.scaled_dot_product_attention(q.unsqueeze(2), k.permute(1, 2, 0, 3), v.permute(1, 2, 0, 3)).squeeze(2)
    assert got.shape == (B, H, D)
    assert torch.allclose(got, ref, atol=1e-5, rtol=1e-5)
    monkeypatch.setattr(blocks, "ATTENTION_PIECE", 10**9)  # every row in one piece
    assert torch.allclose(cached_attention(q, k, v), got, atol=1e-6)


def _position_major(cache: KVCache) -> torch.Tensor:
    """The cache as [T, L, 2, B, H, D] whatever its layout."""
    return cache.kv.permute(4, 0, 1, 2, 3, 5) if cache.batch_major else cache.kv


@pytest.mark.parametrize("max_len", [6, blocks.BATCH_MAJOR_MIN_POSITIONS])
def test_select_keeps_the_indexed_rows_of_the_filled_positions(max_len):
    """Prune, repeat and grow the batch (the tabular sampler's prefix nodes); the two buffers swap
    and never alias: each select reads the state the previous one left. Both layouts."""
    cache = KVCache(n_layers=2, batch=3, n_heads=2, max_len=max_len, head_dim=4, capacity=8)
    assert cache.batch_major == (max_len >= blocks.BATCH_MAJOR_MIN_POSITIONS)
    # batch-major: padded to where bmm takes MKL's GEMM, 1 x T x 4 >= BMM_MIN_WORK
    length = max(max_len, blocks.BMM_MIN_WORK // 4) if cache.batch_major else max_len
    cache.kv.copy_(torch.randn(cache.kv.shape))
    cache.pos = 4
    expect = _position_major(cache)[:4].clone()
    for index in ([2, 0], [1, 1, 0, 0, 1], [4, 3, 2, 1, 0, 0, 1, 2], [7]):
        index = torch.tensor(index)
        cache.select(index)
        expect = expect[:, :, :, index]
        assert _position_major(cache).shape == (length, 2, 2, len(index), 2, 4)
        assert torch.equal(_position_major(cache)[:4], expect)
    cache.select(torch.arange(1).repeat(20))  # beyond the capacity: a new buffer
    assert torch.equal(_position_major(cache)[:4], expect[:, :, :, [0] * 20])
    if cache.batch_major:  # it attends over every position, masked: the unfilled ones must not be NaN
        assert torch.isfinite(cache.kv).all()
    # (position-major reads the filled positions alone; a new buffer's other positions are torch.empty's
    # garbage, which held NaN on one CI run)
    cache.reset(2)
    assert cache.pos == 0 and _position_major(cache).shape == (length, 2, 2, 2, 2, 4)


@pytest.mark.parametrize("batch_major", [False, True])
def test_cached_steps_with_selects_equal_the_full_forward(batch_major, monkeypatch):
    """A prefill of 2 positions, then one position per step over 70 positions (past one piece of
    the cached attention), reordering the batch between steps: each step's output equals the
    full causal forward of the reordered sequences, in either cache layout."""
    monkeypatch.setattr(blocks, "BATCH_MAJOR_MIN_POSITIONS", 1 if batch_major else 10**9)
    torch.manual_seed(0)
    trunk = Trunk(d=32, n_layers=2, n_heads=4, dropout=0.1).eval()
    B, T = 130, 70
    x = torch.randn(B, T, 32)
    cache = trunk.new_cache(B, T, x, capacity=B)
    assert cache.batch_major == batch_major
    with torch.no_grad():
        full = trunk(x)  # [B, T, d]
        assert torch.allclose(trunk(x[:, :2], cache), full[:, :2], atol=1e-5)
        rows = torch.arange(B)  # the row of x behind each cache entry
        for t in range(2, T):
            perm = torch.randint(B, (B,))  # repeats and drops rows, like the sampler's prefix nodes
            cache.select(perm)
            rows = rows[perm]
            step = trunk(x[rows, t : t + 1], cache)[:, 0]
            assert torch.allclose(step, full[rows, t], atol=1e-5), t


def test_batch_major_attention_stays_float32_under_autocast():
    """Under bf16 autocast (generate.precision) the batch-major products still run in float32 over
    the float32 cache, as the broadcast ones do; the positions after `pos` weigh nothing."""
    g = torch.Generator().manual_seed(1)
    B, H, T, D = 40, 4, blocks.BATCH_MAJOR_MIN_POSITIONS + 5, 16
    cache = KVCache(n_layers=2, batch=B, n_heads=H, max_len=T, head_dim=D)
    assert cache.batch_major
    cache.kv.copy_(torch.randn(cache.kv.shape, generator=g))
    cache.pos = 9  # a query at position 9 attends to positions 0..9
    q = torch.randn(B, H, D, generator=g).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = cache.attend(1, q)
    k, v = _position_major(cache)[:10, 1].unbind(1)  # [10, B, H, D] each
    assert got.dtype == torch.float32
    assert torch.allclose(got, cached_attention(q.float(), k, v), atol=1e-6)
