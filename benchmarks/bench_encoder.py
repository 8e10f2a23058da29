"""Token encoder throughput and memory: python benchmarks/bench_encoder.py [--rows N] [--batch B].

Fits the encoder on Adult, then
- encode: the Adult table tiled to `rows` rows (zero-copy), encoded batch by batch;
- decode: Adult-shaped tokens (the encoded real rows, tiled) decoded batch by batch, each batch
  with its own seeded rng as in generation. Tokens are cut per batch, as a model emits them,
  so memory should depend on the batch size only: RSS is sampled after every batch;
- high cardinality: a 200k-row table with a 50,000-level column (fit, encode, decode, state size).

Writes benchmarks/results/encoder.json and prints it. Correctness lives in the tests; this only
measures (the target is >= 1,000,000 decoded rows/s, with memory flat across batches).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from synthgen.encoders import TabularEncoder  # noqa: E402
from synthgen.schema import infer_schema  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "encoder.json"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def batch_rng(i: int) -> np.random.Generator:
    from synthgen.writers.table import decode_rng

    return decode_rng(0, i)  # chunk i's decode stream for seed 0, as generation uses it


def bench_adult(rows: int, batch: int) -> dict:
    real = pq.read_table(ROOT / "data/adult/adult_train.parquet")
    t0 = time.perf_counter()
    schema = infer_schema(real)
    enc = TabularEncoder.fit(real, schema)
    fit_s = time.perf_counter() - t0
    real_tokens = enc.encode(real)
    n_real = len(real)

    # encode: the table tiled (zero-copy chunks), batch by batch
    tiled = pa.concat_tables([real] * -(-rows // n_real)).slice(0, rows)
    t0 = time.perf_counter()
    for start in range(0, rows, batch):
        enc.encode(tiled.slice(start, batch))
    encode_s = time.perf_counter() - t0

    def tokens_for(start: int, n: int) -> np.ndarray:
        return real_tokens[(start + np.arange(n)) % n_real]

    # decode: warm up once, then time every batch and watch RSS
    enc.decode(tokens_for(0, batch), batch_rng(0))
    rss_before, arrow_before = rss_mb(), pa.total_allocated_bytes()
    rss_trace, decode_s = [], 0.0
    for i, start in enumerate(range(0, rows, batch)):
        tok = tokens_for(start, min(batch, rows - start))
        t0 = time.perf_counter()
        out = enc.decode(tok, batch_rng(i), row_offset=start)
        decode_s += time.perf_counter() - t0
        del out, tok
        rss_trace.append(rss_mb())
    arrow_after = pa.total_allocated_bytes()

    # numpy allocations of one batch (tracemalloc slows allocation: a separate, untimed pass)
    tracemalloc.start()
    out = enc.decode(tokens_for(0, batch), batch_rng(0))
    np_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    batch_table_mb = out.nbytes / 1e6
    del out
    return {
        "rows": rows,
        "batch_rows": batch,
        "columns": len(real.column_names),
        "modelled_columns": len(enc.layout.columns),
        "fit_s": round(fit_s, 3),
        "encode_rows_per_s": round(rows / encode_s),
        "decode_rows_per_s": round(rows / decode_s),
        "decode_s": round(decode_s, 3),
        "memory": {
            "rss_before_decode_mb": round(rss_before, 1),
            "rss_after_first_batch_mb": round(rss_trace[0], 1),
            "rss_after_last_batch_mb": round(rss_trace[-1], 1),
            "rss_max_during_decode_mb": round(max(rss_trace), 1),
            "rss_growth_first_to_last_batch_mb": round(rss_trace[-1] - rss_trace[0], 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "arrow_bytes_left_after_decode": arrow_after - arrow_before,
            "numpy_peak_one_batch_mb": round(np_peak / 1e6, 1),
            "decoded_batch_table_mb": round(batch_table_mb, 1),
            "tokens_whole_run_would_be_mb": round(rows * len(enc.layout.columns) * 8 / 1e6, 1),
        },
    }


def bench_high_cardinality(n: int = 200_000, levels: int = 50_000) -> dict:
    rng = np.random.default_rng(0)
    codes = np.minimum(rng.zipf(1.3, n), levels) - 1
    codes[:levels] = np.arange(levels)
    names = np.char.add("level-", np.arange(levels).astype(str))
    table = pa.table({"city": pa.array(names[codes]), "x": rng.integers(0, 10, n)})
    t0 = time.perf_counter()
    enc = TabularEncoder.fit(table, infer_schema(table), max_categories=1000)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    tokens = enc.encode(table)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    enc.decode(tokens, batch_rng(0))
    decode_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "encoder.json"
        enc.save(path)
        size = path.stat().st_size
    return {
        "rows": n,
        "levels": levels,
        "vocabulary": enc.layout.cardinalities[0],
        "fit_s": round(fit_s, 3),
        "encode_s": round(encode_s, 3),
        "decode_s": round(decode_s, 3),
        "encoder_json_bytes": size,
        "json_bytes_per_level": round(size / levels, 1),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--batch", type=int, default=100_000)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    result = {
        "benchmark": "encoder",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "numpy": np.__version__,
            "pyarrow": pa.__version__,
        },
        "adult": bench_adult(args.rows, args.batch),
        "high_cardinality": bench_high_cardinality(),
    }
    result["decode_target_met"] = result["adult"]["decode_rows_per_s"] >= 1_000_000
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
