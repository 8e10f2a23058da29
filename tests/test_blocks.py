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


def test_select_keeps_the_indexed_rows_of_the_filled_positions():
    """Prune, repeat and grow the batch (the tabular sampler's prefix nodes); the two buffers swap
    and never alias: each select reads the state the previous one left."""
    cache = KVCache(n_layers=2, batch=3, n_heads=2, max_len=6, head_dim=4, capacity=8)
    cache.kv.copy_(torch.randn(cache.kv.shape))
    cache.pos = 4
    expect = cache.kv[:4].clone()
    for index in ([2, 0], [1, 1, 0, 0, 1], [4, 3, 2, 1, 0, 0, 1, 2], [7]):
        index = torch.tensor(index)
        cache.select(index)
        expect = expect[:, :, :, index]
        assert cache.kv.shape == (6, 2, 2, len(index), 2, 4)
        assert torch.equal(cache.kv[:4], expect)
    cache.select(torch.arange(1).repeat(20))  # beyond the capacity: a new buffer
    assert torch.equal(cache.kv[:4], expect[:, :, :, [0] * 20])
    cache.reset(2)
    assert cache.pos == 0 and cache.kv.shape == (6, 2, 2, 2, 2, 4)


def test_cached_steps_with_selects_equal_the_full_forward():
    """A prefill of 2 positions, then one position per step over 70 positions (past one piece of
    the cached attention), reordering the batch between steps: each step's output equals the
    full causal forward of the reordered sequences."""
    torch.manual_seed(0)
    trunk = Trunk(d=32, n_layers=2, n_heads=4, dropout=0.1).eval()
    B, T = 130, 70
    x = torch.randn(B, T, 32)
    cache = trunk.new_cache(B, T, x, capacity=B)
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
