"""Scale benchmark: a large table streamed through prepare, encode, train and generate, with the wall
time and the peak resident memory of each stage (the stage's process and its children, summed,
sampled every 0.1 s with psutil).

The table is Adult's training table resampled row by row (seeded; so every marginal and every pair
of columns is Adult's) with fnlwgt jittered so that rows are rarely repeated, 15 columns, written
as a folder of Parquet files of 1M rows. The issue's targets (50M rows: prepare + encode >= 1M rows/s
on 2 cores within 2 GB; an epoch-limited training run within 3 GB whatever the row count;
generating 100M rows within 2 GB) need a machine of their own; `--rows` scales it down.

    python benchmarks/bench_scale.py [--rows 5000000] [--gen-rows 1000000] [--batches 20] [--tag T]
                                     [--stages prepare,encode,train,generate]
`--stages generate` samples again from an earlier run's model (the other stages' figures are kept
from the row it replaces). After generate every shard is checked against the manifest (its sha256,
by artifacts.check_synthetic, which raises on a bad one). Writes benchmarks/results/scale.json (rows
of earlier runs with other row counts are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work" / "scale"
PART_ROWS = 1_000_000
STAGES = ("prepare", "encode", "train", "generate")


def make_table(rows: int, folder: Path, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if folder.exists() and sum(pq.ParquetFile(f).metadata.num_rows for f in folder.glob("*.parquet")) == rows:
        return
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    adult = pq.read_table(ROOT / "data" / "adult" / "adult_train.parquet")
    rng = np.random.default_rng(seed)
    for i, start in enumerate(range(0, rows, PART_ROWS)):
        n = min(PART_ROWS, rows - start)
        t = adult.take(pa.array(rng.integers(0, adult.num_rows, n)))
        j = t.column_names.index("fnlwgt")
        jitter = pa.array(rng.integers(-500, 501, n)).cast(t.field(j).type)
        t = t.set_column(j, t.field(j), pc.max_element_wise(pc.add(t.column(j), jitter), 1))
        pq.write_table(t, folder / f"part-{i:05d}.parquet")


def measured(stage: str, overrides: list[str]) -> dict:
    """Run `synthgen <stage>`; wall seconds and peak RSS (MB) of its process tree."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "synthgen.cli", stage, *overrides],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak, stop = [0], threading.Event()

    def poll():
        p = psutil.Process(proc.pid)
        while not stop.is_set():
            try:
                tree = [p, *p.children(recursive=True)]
                peak[0] = max(peak[0], sum(q.memory_info().rss for q in tree if q.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    th = threading.Thread(target=poll, daemon=True)
    th.start()
    err = proc.communicate()[1]
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"bench_scale: synthgen {stage} failed:\n{err[-3000:]}")
    return {"seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak[0] / 2**20)}


def checked_shards(folder: Path) -> dict:
    """The manifest's rows and shards, once synthgen's own check (artifacts.check_synthetic: every
    listed shard there with its hash) has passed; it raises on the first bad shard."""
    from synthgen.artifacts import check_synthetic

    manifest = check_synthetic(folder)
    return {"manifest_rows": manifest["rows"], "shards_checked": len(manifest["files"])}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--gen-rows", type=int, default=1_000_000)
    ap.add_argument("--batches", type=int, default=20, help="trainer.limit_train_batches of the training run")
    ap.add_argument("--family", default="transformer")
    ap.add_argument("--tag", default="")
    ap.add_argument("--stages", default=",".join(STAGES), help="a comma-separated subset, in this order")
    args = ap.parse_args(argv)
    stages = args.stages.split(",")
    if not set(stages) <= set(STAGES):
        raise SystemExit(f"bench_scale: --stages takes a subset of {','.join(STAGES)}, got {args.stages}")
    data = WORK / f"table_{args.rows}"
    t0 = time.perf_counter()
    make_table(args.rows, data)
    made_s = time.perf_counter() - t0
    out = WORK / f"out_{args.rows}"
    base = [
        "data=file",
        f"data.path={data}",
        "data.target=income",
        f"paths.out_dir={out}",
        f"paths.mlflow_dir={WORK / 'mlruns'}",
        f"model={args.family}",
        "trainer.enable_progress_bar=false",
        "stream.enabled=true",
    ]
    load = os.getloadavg()[0]
    path = RESULTS / "scale.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    key = (args.rows, args.family, args.tag)
    earlier = next((r for r in rows if (r["rows"], r["family"], r.get("tag", "")) == key), {})
    row = {
        **earlier,
        "rows": args.rows,
        "columns": 15,
        "family": args.family,
        "cores": os.cpu_count(),
        "load_1min_at_start": round(load, 2),
        "table_written_s": round(made_s, 1),
    }
    if "prepare" in stages:
        row["prepare"] = measured("prepare", base)
    if "encode" in stages:
        row["encode"] = measured("encode", base)
    if "prepare" in row and "encode" in row:
        row["prepare_encode_rows_per_s"] = round(args.rows / (row["prepare"]["seconds"] + row["encode"]["seconds"]))
    if "train" in stages:
        row["train"] = measured(
            "train",
            [
                *base,
                f"trainer.limit_train_batches={args.batches}",
                "trainer.max_epochs=1",
                "+trainer.limit_val_batches=5",
            ],
        )
        row["train"]["batches"] = args.batches
    if "generate" in stages:
        row["generate"] = measured("generate", [*base, f"generate.n_rows={args.gen_rows}"])
        row["generate"]["rows"] = args.gen_rows
        row["generate"]["rows_per_s"] = round(args.gen_rows / row["generate"]["seconds"])
        row["generate"].update(checked_shards(out / "synthetic"))
    row["load_1min_at_end"] = round(os.getloadavg()[0], 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = [r for r in rows if (r["rows"], r["family"], r.get("tag", "")) != key] + [{**row, "tag": args.tag}]
    path.write_text(json.dumps(rows, indent=1) + "\n")
    print(json.dumps(row, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
