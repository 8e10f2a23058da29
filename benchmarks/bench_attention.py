"""The cached one-query attention of the transformers' sampling step (synthgen/models/blocks.py):
ms per 2,048 rows at each cached length t, 1 thread, for
  - `pieces`: blocks.cached_attention as it is (rows in pieces of ATTENTION_PIECE / t);
  - `one piece`: the same broadcast products over all rows at once (the sampler before the pieces);
  - `sdpa`: PyTorch's scaled_dot_product_attention on a contiguous [B, H, t, D] copy of the cache
    (the copy not timed), the kernel a batch-major cache would use.
Best of 5 calls after one warm-up; the figures depend on the machine's load (print `uptime` beside).

    python benchmarks/bench_attention.py [--rows 2048] [--heads 4] [--head-dim 16]
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from table import best_of  # benchmarks/table.py (scripts run with this folder on sys.path)

from synthgen.models import blocks

LENGTHS = (2, 4, 8, 16, 32, 65, 98)  # tabular: one position per column (digits: 65); images: MNIST patches 98


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--head-dim", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    B, H, D = args.rows, args.heads, args.head_dim
    print(f"ms per {B} rows, H={H}, D={D}, 1 thread")
    print("| t | pieces | one piece | sdpa |\n|---|---|---|---|")
    for t in LENGTHS:
        g = torch.Generator().manual_seed(t)
        k, v = torch.randn(2, t, B, H, D, generator=g)  # position-major, as in KVCache
        q = torch.randn(B, H, D, generator=g)
        kb, vb = k.permute(1, 2, 0, 3).contiguous(), v.permute(1, 2, 0, 3).contiguous()
        pieces = best_of(lambda: blocks.cached_attention(q, k, v), reps=5) * 1000
        one = best_of(lambda: blocks._attend(q, k, v), reps=5) * 1000
        sdpa = best_of(lambda: F.scaled_dot_product_attention(q.unsqueeze(2), kb, vb), reps=5) * 1000
        print(f"| {t} | {pieces:.2f} | {one:.2f} | {sdpa:.2f} |", flush=True)


if __name__ == "__main__":
    main()
