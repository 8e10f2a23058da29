"""Entity tables end to end: benchmarks/entity_tables.py's three flattened exports (orders, visits,
visits in order) through `synthgen run` with the defaults, scored by the evaluation's entity figures
beside the real holdout's own, and the privacy figures beside what real rows of unseen entities
score (entity_privacy_reference.py). Writes results/entities.json and results/entities.md.

    PYTHONPATH=. python benchmarks/bench_entities.py [--seeds 0,1,2] [--work DIR]    # ~7 min on 2 cores

`attribute values copied`: share of synthetic entities whose every numeric or date attribute
equals one real training entity's (a patient's birth date), against the real holdout's entities'
own share.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import entity_privacy_reference  # noqa: E402
import entity_tables  # noqa: E402
from suite_report import cell  # noqa: E402

TABLES = {"orders": "customer_id", "visits": "patient_id", "visits_in_order": "patient_id"}
FIGURES = [
    ("shape", "fidelity.shape"),
    ("pair trends", "fidelity.pair_trends"),
    ("detection AUC", "fidelity.detection_auc"),
    ("rows per entity", "fidelity.entity_sizes"),
    ("entity mix", "fidelity.entity_shape"),
    ("entity mix, holdout", "fidelity.entity_shape_holdout"),
    ("date spans", "fidelity.entity_spans"),
    ("date spans, holdout", "fidelity.entity_spans_holdout"),
    ("rows in order", "fidelity.entity_order"),
    ("counter", "fidelity.entity_counter"),
    ("DCR share", "privacy.dcr_share"),
    ("membership AUC", "privacy.mia_auc"),
]


def copied_attributes(out: Path, key: str) -> dict:
    """Share of synthetic (and holdout) entities whose numeric and date attributes all equal one
    training entity's; None without such attributes."""
    from synthgen.schema import TableSchema

    schema = TableSchema.load(out / "prepared" / "schema.json")
    kinds = schema.kinds()
    attrs = [
        a for a in (schema.entity or {}).get("attributes", []) if kinds.get(a) in ("integer", "continuous", "datetime")
    ]
    if not attrs:
        return {"copied": None, "copied_holdout": None}
    train = pd.read_parquet(out / "prepared" / "train.parquet")
    holdout = pd.read_parquet(out / "prepared" / "holdout.parquet")
    syn = pq.read_table(out / "synthetic").to_pandas()

    def firsts(df):
        return df.groupby(key, sort=False)[attrs].first().astype(str).agg("|".join, axis=1)

    real = set(firsts(train))
    return {
        "copied": round(float(firsts(syn).isin(real).mean()), 4),
        "copied_holdout": round(float(firsts(holdout).isin(real).mean()), 4),
        "attributes": attrs,
    }


def synthgen_run(csv: Path, work: Path, seed: int) -> tuple[Path, dict, float]:
    """`synthgen run data=file data.path=<csv>` with the defaults and `seed`, into work/<stem>_s<seed>
    (MLflow under work/mlruns): (the run's folder, its metrics.json, seconds)."""
    import warnings

    from synthgen.config import load_config
    from synthgen.pipeline import run_all

    out = work / f"{csv.stem}_s{seed}"
    cfg = load_config(
        [
            "data=file",
            f"data.path={csv}",
            f"paths.out_dir={out}",
            f"paths.mlflow_dir={work / 'mlruns'}",
            "trainer.enable_progress_bar=false",
            f"seed={seed}",
        ]
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_all(cfg)
    seconds = time.perf_counter() - t0
    return out, json.loads((out / "evaluation" / "metrics.json").read_text()), seconds


def run_table(csv: Path, key: str, work: Path, seed: int) -> dict:
    out, metrics, seconds = synthgen_run(csv, work, seed)
    row = {label: _round(metrics.get(k)) for label, k in FIGURES}
    return {"seed": seed, "run_s": round(seconds, 1), **row, **copied_attributes(out, key), "out": str(out)}


def measured() -> dict:
    """When and how a benchmark ran: UTC time, torch's threads, the 1-minute load."""
    import os

    import torch

    return {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "threads": torch.get_num_threads(),
        "load": round(os.getloadavg()[0], 2),
    }


def footer(results: dict) -> str:
    return f"Measured {results['measured_at']}, {results['threads']} threads, load {results['load']}."


def seeds_and_work(doc: str, work: Path, argv=None) -> tuple[list[int], Path]:
    """`--seeds 0,1,2` and `--work DIR` (created), as both end-to-end benchmarks take them."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--work", type=Path, default=work)
    args = ap.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    return [int(s) for s in args.seeds.split(",")], args.work


def _round(v):
    return round(float(v), 4) if isinstance(v, (int, float)) else None


def render(results: dict) -> str:
    cols = [label for label, _ in FIGURES] + ["attribute values copied", "copied, holdout", "run s"]
    lines = [
        "# Entity tables",
        "",
        "Written by `benchmarks/bench_entities.py` (see its docstring and benchmarks/entities.md). One",
        "`synthgen run` per table and seed with the defaults (20 % of the entities held out). `holdout`",
        "columns: the real holdout scored as if synthetic. `reference`: real rows of unseen entities",
        "scored as if synthetic (entity_privacy_reference.py), what a model that does not memorise gets.",
        "",
    ]
    for table, entry in results["tables"].items():
        ref = entry["reference"]["entities"]
        lines += [
            f"## {table}",
            "",
            f"Privacy reference (16 re-splits): DCR share {ref['privacy.dcr_share']['mean']:.3f} "
            f"(sd {ref['privacy.dcr_share']['sd']:.3f}), membership AUC "
            f"{max(ref['privacy.mia_auc_distance']['mean'], ref['privacy.mia_auc_density_ratio']['mean']):.3f}.",
            "",
            "| seed | " + " | ".join(cols) + " |",
            "|" + "---|" * (len(cols) + 1),
        ]
        for r in entry["runs"]:
            cells = [r.get(label) for label, _ in FIGURES] + [r.get("copied"), r.get("copied_holdout"), r["run_s"]]
            lines.append(f"| {r['seed']} | " + " | ".join(cell(c) for c in cells) + " |")
        lines.append("")
    lines.append(footer(results))
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    seeds, work = seeds_and_work(__doc__, HERE / "work" / "entities", argv)
    makers = {
        "orders": entity_tables.orders,
        "visits": entity_tables.visits,
        "visits_in_order": entity_tables.visits_in_order,
    }
    results = {**measured(), "tables": {}}
    for table, key in TABLES.items():
        csv = work / f"{table}.csv"
        makers[table]().to_csv(csv, index=False)
        runs = [run_table(csv, key, work, seed) for seed in seeds]
        reference = entity_privacy_reference.reference(Path(runs[0]["out"]), key, splits=16)
        results["tables"][table] = {"entity": key, "runs": runs, "reference": reference}
        print(table, json.dumps(runs), flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "entities.json").write_text(json.dumps(results, indent=1))
    (HERE / "results" / "entities.md").write_text(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
