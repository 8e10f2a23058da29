"""Sampling precision side by side: the suite's trained models sample again with
generate.precision=32 and =bf16, alternating in fresh child processes (suite.py's sample worker:
model load, sampling, decoding, Parquet shards, manifest, MLflow; imports excluded), and each output
is scored by the suite's evaluation. Same model, same seed, same rows: only the trunk's precision
differs, so the quality columns show what bf16 costs and the rows/s what it buys.

    python benchmarks/bench_sampling_precision.py [--tables adult] [--families transformer,gan,vae] [--repeats 3]

Needs the suite's models of those families (benchmarks/suite.py --families ... first). Writes
benchmarks/results/sampling_precision.json (tables not measured again keep their rows) and prints
the markdown table of benchmarks/sampling_precision.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite import KEYS, MIN_SAMPLE_ROWS, RESULTS, ROOT, WORK, load_avg, score  # noqa: E402
from suite_tables import TABLES  # noqa: E402

PRECISIONS = ("32", "bf16")
SHOWN = ("shape", "pairs", "tstr", "detection", "dcr_share")


def sample_seconds(table: str, family: str, precision: str, out: Path) -> float:
    """One timed generate of the table's `family` model at `precision` into `out` (a child process)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    extra = f"generate.precision={precision},generate.out_dir={out}"
    cmd = [sys.executable, str(ROOT / "benchmarks" / "suite.py"), "--sample-worker", table, family]
    proc = subprocess.run([*cmd, "--extra", extra], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{table} {precision}: sampling failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def measure(table: str, family: str, repeats: int) -> dict:
    info = json.loads((WORK / table / "info.json").read_text())
    rows = max(info["train_rows"], MIN_SAMPLE_ROWS)
    outs = {p: WORK / table / f"{family}_precision_{p}" for p in PRECISIONS}
    seconds, loads = {p: [] for p in PRECISIONS}, {p: [] for p in PRECISIONS}
    for _ in range(repeats):
        for p in PRECISIONS:
            loads[p].append(load_avg())
            seconds[p].append(sample_seconds(table, family, p, outs[p]))
    entry = {"rows": rows, "threads": 1}
    for p in PRECISIONS:
        manifest = json.loads((outs[p] / "_manifest.json").read_text())
        assert manifest["precision"] == p, (table, p, manifest.get("precision"))
        scored = score(table, info, pd.read_parquet(outs[p]))
        entry[p] = {
            "sample_rows_per_s": round(rows / statistics.median(seconds[p])),
            "sample_seconds": [round(s, 2) for s in seconds[p]],
            "load": loads[p],
            **{k: scored.get(k) for k in (*KEYS, "tstr", "utility")},
        }
    entry["speedup"] = round(entry["bf16"]["sample_rows_per_s"] / entry["32"]["sample_rows_per_s"], 2)
    return entry


def markdown(results: dict) -> str:
    head = "| table | precision | sample rows/s | " + " | ".join(SHOWN) + " |"
    lines = [head, "|" + "---|" * (3 + len(SHOWN))]
    for table, e in results.items():
        for p in PRECISIONS:
            r = e[p]
            cells = ["" if r.get(k) is None else f"{r[k]:.3f}" for k in SHOWN]
            name = table if p == "32" else f"(x{e['speedup']})"
            lines.append(f"| {name} | {p} | {r['sample_rows_per_s']:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--families", default="transformer")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    path = RESULTS / "sampling_precision.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for table in [t for t in args.tables.split(",") if t]:
        for family in [f for f in args.families.split(",") if f]:
            if not (WORK / table / family / "model").exists():
                print(f"{table}: no trained {family} in {WORK / table}; run suite.py first", file=sys.stderr)
                continue
            key = table if family == "transformer" else f"{table} ({family})"  # the transformer's keys as before
            results[key] = measure(table, family, args.repeats)
            print(key, json.dumps({p: results[key][p]["sample_rows_per_s"] for p in PRECISIONS}), flush=True)
            path.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
