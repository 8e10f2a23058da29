"""How fast could each tabular family sample on this machine? The compute floor of its networks.

For the models bench_adult.py trained (benchmarks/work/<family>/model/model.ckpt), this script
  1. times the sampler as it is (`model.sample`, model in memory, N rows, best of 3);
  2. records every matrix multiplication the sampler runs (torch.profiler, shapes and counts) and
     replays them alone, in float32 and in bfloat16, outside the profiler: the rows/s the
     sampler would reach if everything but its matrix products (softmax, categorical draws,
     attention products, indexing, Python) were free. bfloat16 uses the CPU's AMX units where
     it has them;
  3. times decoding the tokens and writing them as one zstd Parquet file (single thread, like
     the shard writer), the floor of the rest of `synthgen generate`;
  4. adds them up: `floor_e2e_*` is the rate of matrix products + decoding + writing one after the
     other, as `synthgen generate` runs a chunk, with everything else free.

It writes benchmarks/results/sampling_floor.json and prints the table. The floors are upper
bounds of what any sampler of these networks reaches here; compare them with the issue's targets.

    python benchmarks/bench_sampling_floor.py [--families transformer,gan,vae] [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from table import best_of, print_table  # benchmarks/table.py (scripts run with this folder on sys.path)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"
TARGETS = {"gan": 1_000_000, "vae": 1_000_000, "transformer": 200_000}  # rows/s end to end (issue 4)
MATMULS = {"aten::addmm": 3, "aten::mm": 2, "aten::bmm": 2, "aten::baddbmm": 3}  # op: its tensor inputs


def recorded_matmuls(fn) -> Counter:
    """{(op, input shapes): calls} of the matrix products `fn` runs."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    calls = Counter()
    for event in prof.events():
        if event.name in MATMULS:
            shapes = tuple(tuple(s) for s in event.input_shapes[: MATMULS[event.name]])  # not `out=`
            calls[(event.name, shapes)] += 1
    return calls


def replay_seconds(calls: Counter, dtype) -> float:
    """Wall seconds of running the recorded matrix products alone, in `dtype`."""
    import torch

    total = 0.0
    for (op, shapes), count in calls.items():
        args = [torch.randn(s, dtype=dtype) for s in shapes]
        f = {"aten::addmm": torch.addmm, "aten::mm": torch.mm, "aten::bmm": torch.bmm, "aten::baddbmm": torch.baddbmm}[
            op
        ]
        reps = max(3, min(count, 50))
        total += best_of(lambda: [f(*args) for _ in range(reps)]) / reps * count
    return total


def floor_row(family: str, rows: int) -> dict:
    import pyarrow.parquet as pq
    import torch

    from synthgen.checkpoint import load_generator
    from synthgen.encoders import TabularEncoder
    from synthgen.writers.table import decode_rng

    work = WORK / family
    ckpt = work / "model" / "model.ckpt"
    if not ckpt.exists():
        raise SystemExit(f"{ckpt} not found: run benchmarks/bench_adult.py --families {family} first")
    model = load_generator(ckpt).eval()
    enc = TabularEncoder.load(work / "encoder" / "encoder.json")
    cond = torch.full((rows, model.n_columns), -1, dtype=torch.long)

    def sample():
        return model.sample(cond, torch.Generator().manual_seed(1))

    sampler_s = best_of(sample)
    calls = recorded_matmuls(sample)
    fp32_s, bf16_s = replay_seconds(calls, torch.float32), replay_seconds(calls, torch.bfloat16)
    tokens = sample().numpy()
    decode_s = best_of(lambda: enc.decode(tokens, decode_rng(0, 0)))
    table = enc.decode(tokens, decode_rng(0, 0))
    out = WORK / f"floor-{family}.parquet"
    write_s = best_of(lambda: pq.write_table(table, out, compression="zstd"))
    out.unlink(missing_ok=True)
    rest_s = decode_s + write_s
    return {
        "rows": rows,
        "threads": torch.get_num_threads(),
        "target_rows_per_s": TARGETS[family],
        "sampler_rows_per_s": round(rows / sampler_s),
        "matmul_calls": sum(calls.values()),
        "matmul_fp32_share_of_sampler": round(fp32_s / sampler_s, 3),
        "matmul_only_fp32_rows_per_s": round(rows / fp32_s),
        "matmul_only_bf16_rows_per_s": round(rows / bf16_s),
        "decode_rows_per_s": round(rows / decode_s),
        "parquet_write_rows_per_s": round(rows / write_s),
        "floor_e2e_fp32_rows_per_s": round(rows / (fp32_s + rest_s)),
        "floor_e2e_bf16_rows_per_s": round(rows / (bf16_s + rest_s)),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="transformer,gan,vae")
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args(argv)
    path = RESULTS / "sampling_floor.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    for family in [f for f in args.families.split(",") if f]:
        print(f"-- {family}", flush=True)
        table[f"synthgen {family}"] = floor_row(family, args.rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    print_table(
        table,
        [
            "target_rows_per_s",
            "sampler_rows_per_s",
            "matmul_fp32_share_of_sampler",
            "matmul_only_fp32_rows_per_s",
            "matmul_only_bf16_rows_per_s",
            "decode_rows_per_s",
            "parquet_write_rows_per_s",
            "floor_e2e_fp32_rows_per_s",
            "floor_e2e_bf16_rows_per_s",
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
