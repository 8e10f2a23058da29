"""Helpers every benchmark shares: the markdown table it prints (one row per model, one column per
figure) and the best-of timing of a call."""

from __future__ import annotations

import time


def best_of(fn, reps: int = 3) -> float:
    """Least wall seconds of `reps` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def print_table(table: dict, cols: list[str]) -> None:
    print("| model | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for name, row in table.items():
        cells = [
            ("" if row.get(c) is None else f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])) for c in cols
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
