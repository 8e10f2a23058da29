"""The tabular transformer's training step with AdamW's three CPU implementations side by side:
single-tensor (torch's CPU default), foreach, and fused (models/schedules.py uses fused).

One step = the transformer's loss (random column orders, dropout), backward and AdamW.step on
random tokens (the cost depends on the shape, not the values), the default network (width 64, 2
layers, 4 heads), at the suite's step shapes: batch 32-64 on its small tables, 32 x 65 columns
(digits), 512 x 15 (adult). The implementations alternate, each shape `--rounds` times in this
process; the median counts, and `opt_ms` is AdamW.step alone (same parameters, same gradients).

    python benchmarks/bench_optimizer_step.py [--rounds 5] [--steps 40]

Writes benchmarks/results/optimizer_step.json and prints a markdown table (benchmarks/model_defaults.md).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from bench_train_precision import random_table_model, timed_steps_ms  # this folder is on sys.path

RESULTS = Path(__file__).resolve().parent / "results"
SHAPES = [(7, 32), (11, 32), (8, 64), (65, 32), (15, 512)]  # (columns, batch): gapminder, diabetes, planes, ...
KINDS = {"single": {"foreach": False}, "foreach": {"foreach": True}, "fused": {"fused": True}}


def timings(columns: int, batch: int, rounds: int, steps: int) -> dict:
    model, batches = random_table_model(columns, batch, "32")
    opts = {k: torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.05, **kw) for k, kw in KINDS.items()}
    step, alone = {k: [] for k in KINDS}, {k: [] for k in KINDS}
    for _ in range(rounds):
        for kind, opt in opts.items():
            step[kind].append(timed_steps_ms(model, opt, batches, steps, warmup=3))
            t0 = time.perf_counter()
            for _ in range(steps):
                opt.step()
            alone[kind].append((time.perf_counter() - t0) / steps * 1000)
    return {
        kind: {
            "step_ms": round(statistics.median(step[kind]), 2),
            "opt_ms": round(statistics.median(alone[kind]), 3),
            "step_ms_tries": [round(x, 2) for x in step[kind]],
        }
        for kind in KINDS
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=40)
    args = ap.parse_args(argv)
    rows = []
    for columns, batch in SHAPES:
        t = timings(columns, batch, args.rounds, args.steps)
        rows.append({"columns": columns, "batch": batch, **t})
        print(columns, batch, {k: (v["step_ms"], v["opt_ms"]) for k, v in t.items()}, flush=True)
    out = {
        "threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "optimizer_step.json").write_text(json.dumps(out, indent=1))
    print("\n| columns x batch | step ms single / foreach / fused | AdamW.step ms single / foreach / fused |")
    print("|---|---|---|")
    for r in rows:
        step = " / ".join(f"{r[k]['step_ms']:.2f}" for k in KINDS)
        opt = " / ".join(f"{r[k]['opt_ms']:.2f}" for k in KINDS)
        print(f"| {r['columns']} x {r['batch']} | {step} | {opt} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
