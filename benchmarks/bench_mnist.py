"""MNIST-5k benchmark: every image family through the pipeline, timed and scored alike.

Trains each family on the fixed 4,000-image train split of data/mnist5k, samples labelled images
(PNGs written, manifest included; 20,000 for GAN and VAE, 4,000 for the slower transformer, so
that the fixed start-up cost of a generate run does not dominate the images/s figure), and evaluates them against the
1,000 test images with
synthgen's image evaluation (the real-trained classifier is shared, from one cache). Writes
benchmarks/results/mnist.json and prints the table.

    python benchmarks/bench_mnist.py [--families gan,vae,transformer] [--extra k=v,k=v]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from table import print_table  # benchmarks/table.py (scripts run with this folder on sys.path)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work" / "mnist"
KEYS = [
    "utility.cas",
    "utility.real_accuracy",
    "utility.cas_ratio",
    "fidelity.fd",
    "fidelity.fd_floor",
    "fidelity.precision",
    "fidelity.recall",
    "fidelity.coverage",
    "privacy.exact_copies_share",
    "privacy.near_copies_share",
]
# Published figures for the table-based baselines on MNIST (issue 6): accuracy trained on synthetic.
PUBLISHED = {
    "published TVAE (MNIST as a table)": {"utility.cas": 0.794, "utility.real_accuracy": 0.916},
    "published CTGAN (MNIST as a table)": {"utility.cas": 0.371, "utility.real_accuracy": 0.916},
}


def run_family(family: str, extra: list[str]) -> dict:
    from synthgen import pipeline
    from synthgen.config import load_config
    from synthgen.paths import RunPaths

    n_images = 4000 if family == "transformer" else 20000
    cfg = load_config(
        [
            f"model={family}",
            "data=mnist5k",
            f"paths.out_dir={WORK / family}",
            f"generate.n_rows={n_images}",
            "generate.chunk_rows=5000",
            f"paths.mlflow_dir={WORK / 'mlruns'}",
            "trainer.enable_progress_bar=false",
            f"evaluate.images.cache_dir={WORK / 'cache'}",
            *extra,
        ]
    )
    paths = RunPaths.from_config(cfg)
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    t0 = time.perf_counter()
    pipeline.train(cfg)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline.generate(cfg)
    gen_s = time.perf_counter() - t0
    result = pipeline.evaluate(cfg)
    n = json.loads((paths.evaluation / "metrics.json").read_text())["counts.synthetic"]
    return {"train_s": round(train_s, 1), "images_per_s": round(n / gen_s, 1), **{k: result.get(k) for k in KEYS}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="gan,vae,transformer")
    ap.add_argument("--extra", default="", help="comma-separated extra overrides for every family")
    args = ap.parse_args(argv)
    extra = [e for e in args.extra.split(",") if e]
    out = RESULTS / "mnist.json"
    table = json.loads(out.read_text()) if out.exists() else {}  # rerunning some families keeps the rest
    for family in args.families.split(","):
        table[f"synthgen {family}"] = {
            "load_average_at_start": round(os.getloadavg()[0], 2),
            **run_family(family, extra),
        }
        print(family, table[f"synthgen {family}"], flush=True)
    table.update(PUBLISHED)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=1))
    print_table(table, ["train_s", "images_per_s", *KEYS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
