"""The cached one-query attention of the transformers' sampling step (synthgen/models/blocks.py),
in the KV cache's two layouts: ms for one layer over a whole sampling block, i.e. summed over the
cached lengths t = 1..T of a row of T positions (a table's columns, an image's patches), for
  - `broadcast`: the position-major cache, blocks.cached_attention (broadcast products over the
    filled positions, rows in pieces of ATTENTION_PIECE / t);
  - `matmul`: the batch-major cache, KVCache.attend's two batched matrix products over all T
    positions (at least 25: the padding below), the unwritten ones masked.
The rows of a block follow the sampler's rule (synthgen/sizing.sample_block at d_model 64, 2
layers). Best of 5 calls after one warm-up per t, 2 threads. The crossover sets
blocks.BATCH_MAJOR_MIN_POSITIONS; the figures move with the machine's load (the JSON records it).
Second, one matmul step (both products) at 8,192 rows over a cache of 24 and of 25 positions:
PyTorch's CPU bmm leaves its plain loop for MKL's batched GEMM from 1 x 25 x 16 = 400
(blocks.BMM_MIN_WORK, to which a batch-major cache is padded).

    python benchmarks/bench_attention.py [--threads 2] [--out results/attention.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
from table import best_of  # benchmarks/table.py (scripts run with this folder on sys.path)

from synthgen.models import blocks
from synthgen.sizing import sample_block

LENGTHS = (8, 11, 16, 21, 23, 24, 26, 31, 41, 65, 98)  # tabular columns (digits: 65); MNIST's 98 patches
H, D, D_MODEL, LAYERS = 4, 16, 64, 2


def block_ms(T: int, rows: int) -> dict:
    """Total ms over t = 1..T of one layer's attention for `rows` rows, in each layout."""
    g = torch.Generator().manual_seed(T)
    totals = {}
    for name, batch_major in (("broadcast", False), ("matmul", True)):
        cache = blocks.KVCache(1, rows, H, T, D, batch_major=batch_major)
        cache.kv.copy_(torch.randn(cache.kv.shape, generator=g))
        q = torch.randn(rows, H, D, generator=g)
        total = 0.0
        for t in range(1, T + 1):
            cache.pos = t - 1
            total += best_of(lambda: cache.attend(0, q), reps=5)
        totals[name] = round(total * 1000, 1)
    return totals


def bmm_step_ms(width: int, rows: int = 8192) -> float:
    """ms of one batch-major step's two products over `width` cached positions."""
    g = torch.Generator().manual_seed(width)
    k, v = torch.randn(2, rows * H, width, D, generator=g)
    q, mask = torch.randn(rows * H, 1, D, generator=g), torch.zeros(width)
    step = lambda: torch.bmm(torch.baddbmm(mask, q, k.transpose(1, 2)).softmax(-1), v)  # noqa: E731
    return round(best_of(step, reps=7) * 1000, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "attention.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows_out = []
    print("| positions T | rows a block | broadcast ms | matmul ms | broadcast / matmul |\n|---|---|---|---|---|")
    for T in LENGTHS:
        rows = sample_block(T, D_MODEL, LAYERS)
        ms = block_ms(T, rows)
        ratio = ms["broadcast"] / ms["matmul"]
        rows_out.append({"positions": T, "rows": rows, **ms, "ratio": round(ratio, 2)})
        print(f"| {T} | {rows} | {ms['broadcast']} | {ms['matmul']} | {ratio:.2f} |", flush=True)
    widths = {w: bmm_step_ms(w) for w in (24, 25)}
    print(f"one matmul step at 8192 rows: 24 positions {widths[24]} ms, 25 positions {widths[25]} ms")
    result = {
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "threads": args.threads,
        "load_1min": os.getloadavg()[0],
        "batch_major_min_positions": blocks.BATCH_MAJOR_MIN_POSITIONS,
        "heads": H,
        "head_dim": D,
        "rows": rows_out,
        "matmul_step_ms_at_8192_rows": {str(w): ms for w, ms in widths.items()},
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
