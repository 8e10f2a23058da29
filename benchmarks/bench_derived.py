"""Columns written from others, end to end: benchmarks/derived_tables.py's three exports (a survey with
bands, order lines with products, events with a timestamp's parts) through `synthgen run` with the
defaults, scored by the evaluation: the share of synthetic rows keeping each rule beside the usual
figures. Writes results/derived.json and results/derived.md.

    PYTHONPATH=. python benchmarks/bench_derived.py [--seeds 0,1,2] [--work DIR]    # ~4 min on 2 cores

README "Your own data" (products, bands, date parts) gives the figures before those rules (a
worktree of the code before them, seed 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import derived_tables  # noqa: E402
from bench_entities import _round, footer, measured, seeds_and_work, synthgen_run  # noqa: E402
from suite_report import cell  # noqa: E402

TABLES = {"survey": "fidelity.bands", "order_lines": "fidelity.products", "events": "fidelity.date_parts"}
FIGURES = [
    ("shape", "fidelity.shape"),
    ("pair trends", "fidelity.pair_trends"),
    ("detection AUC", "fidelity.detection_auc"),
    ("DCR share", "privacy.dcr_share"),
    ("validity violations", "validity.total"),
]


def run_table(csv: Path, rule: str, work: Path, seed: int) -> dict:
    _, metrics, seconds = synthgen_run(csv, work, seed)
    per_column = {k.split(".", 2)[2]: _round(v) for k, v in metrics.items() if k.startswith(rule[:-1] + ".")}
    return {
        "seed": seed,
        "run_s": round(seconds, 1),
        "rule": _round(metrics.get(rule)),
        "columns": per_column,
        **{label: _round(metrics.get(k)) for label, k in FIGURES},
    }


def render(results: dict) -> str:
    cols = ["rows keeping the rule (worst column)"] + [label for label, _ in FIGURES] + ["run s"]
    lines = [
        "# Columns written from others",
        "",
        "Written by `benchmarks/bench_derived.py` (see its docstring). One `synthgen run` per table and",
        "seed with the defaults on benchmarks/derived_tables.py's exports; the rule's figure is the",
        "evaluation's share of synthetic rows keeping it (survey: `fidelity.bands`, order_lines:",
        "`fidelity.products`, events: `fidelity.date_parts`).",
        "",
    ]
    for table, entry in results["tables"].items():
        lines += [f"## {table}", "", "| seed | " + " | ".join(cols) + " |", "|" + "---|" * (len(cols) + 1)]
        for r in entry["runs"]:
            cells = [r["rule"]] + [r.get(label) for label, _ in FIGURES] + [r["run_s"]]
            lines.append(f"| {r['seed']} | " + " | ".join(cell(c) for c in cells) + " |")
        lines.append("")
    lines.append(footer(results))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    seeds, work = seeds_and_work(__doc__, HERE / "work" / "derived", argv)
    derived_tables.main([str(work)])
    results = {**measured(), "tables": {}}
    for table, rule in TABLES.items():
        runs = [run_table(work / f"{table}.csv", rule, work, seed) for seed in seeds]
        kept = [r["rule"] for r in runs if r["rule"] is not None]
        results["tables"][table] = {"rule": rule, "runs": runs, "worst": min(kept, default=None)}
        print(table, json.dumps(runs), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "derived.json").write_text(json.dumps(results, indent=1))
    (HERE / "results" / "derived.md").write_text(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
