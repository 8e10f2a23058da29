"""Training step time of the tabular transformer in float32 and in bf16 (model.tabular.train_precision),
side by side, over the tokens a step holds (batch x columns); and the attention alone.

One optimizer step = the transformer's loss (random column orders, dropout), backward and AdamW, on
random tokens of the given columns (the network's cost depends on the shape, not the values), the
default network (width 64, 2 layers, 4 heads). Each setting runs twice in this process, alternating,
and the faster run counts. This chose the CPU threshold of train_precision=native
(models/transformer.py, BF16_MIN_TOKENS): the step sizes where bf16 is faster.

    python benchmarks/bench_train_precision.py [--columns 6,15,65] [--batches 32,64,128,256,512]

Writes benchmarks/results/train_precision.json; prints markdown tables (benchmarks/model_defaults.md).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch
import torch.nn.functional as F

RESULTS = Path(__file__).resolve().parent / "results"
MAX_TOKENS = 20_000  # larger steps than any table's (the batch rule caps them at 16,384 tokens)
CARDINALITIES = [2, 5, 9, 40] + [100] * 61  # a table's columns: a few categories, then binned numbers


def random_table_model(columns: int, batch: int, precision: str):
    """The default transformer in training mode over `columns` columns of CARDINALITIES, and 8
    batches of `batch` random token rows [batch, columns] (seeded)."""
    from synthgen.models.transformer import TabularTransformer

    torch.manual_seed(0)
    cards = CARDINALITIES[:columns]
    layout = {"columns": [f"c{i}" for i in range(columns)], "cardinalities": cards}
    model = TabularTransformer(layout, batch_size=batch, train_precision=precision).train()
    batches = [torch.stack([torch.randint(0, k, (batch,)) for k in cards], 1) for _ in range(8)]
    return model, batches


def timed_steps_ms(model, opt, batches, steps: int, warmup: int) -> float:
    """ms per optimizer step (loss, backward, opt.step) over `steps` steps after `warmup` untimed
    ones (oneDNN builds its kernels for the shapes)."""
    for i in range(steps + warmup):
        if i == warmup:
            t0 = time.perf_counter()
        loss = model._loss(batches[i % len(batches)])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - t0) / steps * 1000


def step_ms(columns: int, batch: int, precision: str, steps: int) -> float:
    model, batches = random_table_model(columns, batch, precision)
    return timed_steps_ms(model, torch.optim.AdamW(model.parameters(), lr=1e-3), batches, steps, warmup=5)


def attention_ms(batch: int, positions: int, dtype: torch.dtype, repeats: int = 30) -> float:
    """Forward + backward of causal SDPA, 4 heads of 16 (one layer of the default network)."""
    q, k, v = (torch.randn(batch, 4, positions, 16, dtype=dtype, requires_grad=True) for _ in range(3))
    for i in range(repeats + 5):
        if i == 5:
            t0 = time.perf_counter()
        F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    return (time.perf_counter() - t0) / repeats * 1000


def main(argv=None) -> int:
    from synthgen.models.blocks import bf16_native

    ap = argparse.ArgumentParser()
    ap.add_argument("--columns", default="6,15,65")
    ap.add_argument("--batches", default="32,64,128,256,512")
    args = ap.parse_args(argv)
    rows = []
    for columns in (int(c) for c in args.columns.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            if batch * columns > MAX_TOKENS:
                continue
            steps = max(10, int(3000 / (batch * columns) ** 0.5))
            ms = {p: [] for p in ("32", "bf16")}
            for _ in range(2):
                for p in ms:
                    ms[p].append(step_ms(columns, batch, p, steps))
            fast = {p: min(v) for p, v in ms.items()}
            rows.append(
                {
                    "columns": columns,
                    "batch": batch,
                    "tokens": batch * columns,
                    "ms_32": round(fast["32"], 2),
                    "ms_bf16": round(fast["bf16"], 2),
                    "ratio": round(fast["bf16"] / fast["32"], 3),
                }
            )
            print(rows[-1], flush=True)
    attention = [
        {
            "batch": b,
            "positions": t,
            "ms_32": round(attention_ms(b, t, torch.float32), 2),
            "ms_bf16": round(attention_ms(b, t, torch.bfloat16), 2),
        }
        for b, t in ((512, 15), (256, 65))
    ]
    result = {
        "threads": torch.get_num_threads(),
        "bf16_native": bf16_native(torch.device("cpu")),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "steps": rows,
        "attention": attention,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_precision.json").write_text(json.dumps(result, indent=1) + "\n")
    print("| columns | batch | tokens a step | float32 ms | bf16 ms | bf16 / float32 |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['columns']} | {r['batch']} | {r['tokens']:,} | {r['ms_32']} | {r['ms_bf16']} | {r['ratio']} |")
    print("\n| attention: rows x positions | float32 ms | bf16 ms |\n|---|---|---|")
    for a in attention:
        print(f"| {a['batch']} x {a['positions']} | {a['ms_32']} | {a['ms_bf16']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
