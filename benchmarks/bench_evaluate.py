"""Benchmark of synthgen.evaluate: speed on a 50,000 x 15 Adult-shaped table against SDMetrics'
QualityReport, and the reproduction of our published-model measurements on Adult.

    .venv/bin/python benchmarks/bench_evaluate.py [--skip-sdmetrics] [--skip-anchors]

Reads the anchors from ../shared/anchors/adult (relative to the repository root) and writes
benchmarks/results/evaluate.json. The machine may be shared: the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from synthgen.evaluate import EvalConfig, evaluate_tables, write_evaluation
from synthgen.evaluate.fidelity import column_views, pair_scores, shape_scores

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT.parent / "shared" / "anchors" / "adult"
OUT = ROOT / "benchmarks" / "results" / "evaluate.json"
ADULT_INT = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
N_ROWS = 50_000
# model: shape, pair trends, TSTR AUC ratio, detection AUC, DCR share (earlier measurements)
PUBLISHED = {
    "tabsyn": (0.992, 0.980, 0.986, 0.59, 0.50),
    "tabargn": (0.980, 0.965, 0.989, 0.64, 0.49),
    "tabmt": (0.979, 0.966, 0.990, 0.96, 0.50),
}
KEYS = [
    "fidelity.shape",
    "fidelity.pair_trends",
    "utility.roc_auc_ratio",
    "fidelity.detection_auc",
    "privacy.dcr_share",
]
TOL = [0.005, 0.005, 0.005, 0.02, 0.005]


def load(name: str) -> pd.DataFrame:
    return pd.read_parquet(ANCHORS / f"{name}.parquet")


def adult_kinds(df: pd.DataFrame) -> dict[str, str]:
    return {c: "integer" if c in ADULT_INT else "categorical" for c in df.columns}


def speed(skip_sdmetrics: bool) -> dict:
    """Full evaluation (detection and utility included) on 50,000-row train/holdout/synthetic."""
    train = load("argn_adult_train").sample(N_ROWS, replace=True, random_state=1).reset_index(drop=True)
    holdout = load("argn_adult_holdout").sample(N_ROWS, replace=True, random_state=2).reset_index(drop=True)
    pool = pd.concat([load(f"synthetic_{m}") for m in PUBLISHED], ignore_index=True)
    syn = pool.sample(N_ROWS, replace=True, random_state=3).reset_index(drop=True)
    kinds, cfg = adult_kinds(train), EvalConfig(target="income", sensitive=["sex", "race"])

    t0 = time.perf_counter()
    result = evaluate_tables(train, holdout, syn, kinds, cfg)
    t_eval = time.perf_counter() - t0
    # The part that QualityReport also computes (column shapes and pair trends), alone:
    t0 = time.perf_counter()
    views = column_views(train, syn, kinds)
    shape_scores(views), pair_scores(views)
    t_fid = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        write_evaluation(result, train, holdout, syn, kinds, cfg, Path(tmp) / "evaluation")
        t_write = time.perf_counter() - t0
    out = {
        "rows": N_ROWS,
        "columns": train.shape[1],
        "data": "train/holdout = resamples of the anchors' train/holdout; synthetic = resample of "
        "TabSyn+TabularARGN+TabMT outputs",
        "synthgen_evaluate_tables_s": round(t_eval, 2),
        "synthgen_write_evaluation_s": round(t_write, 2),
        "synthgen_total_s": round(t_eval + t_write, 2),
        "synthgen_shape_and_pair_trends_only_s": round(t_fid, 2),
        "synthgen_shape": round(result["fidelity.shape"], 4),
        "synthgen_pair_trends": round(result["fidelity.pair_trends"], 4),
    }
    if not skip_sdmetrics:
        with warnings.catch_warnings():  # deprecated alias; same single-table report
            warnings.simplefilter("ignore", FutureWarning)
            from sdmetrics.reports.single_table import QualityReport

        meta = {"columns": {c: {"sdtype": "numerical" if k == "integer" else "categorical"} for c, k in kinds.items()}}
        report = QualityReport()
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(train, syn, meta, verbose=False)
        out["sdmetrics_quality_report_s"] = round(time.perf_counter() - t0, 2)
        props = report.get_properties().set_index("Property")["Score"]
        out["sdmetrics_column_shapes"] = round(float(props["Column Shapes"]), 4)
        out["sdmetrics_column_pair_trends"] = round(float(props["Column Pair Trends"]), 4)
        out["note"] = (
            "SDMetrics' QualityReport computes shapes and pair trends only (no detection, "
            "utility, privacy); its pair trends use Pearson, equal-width bins and skip "
            "weakly associated pairs, so its scores differ from ours by definition."
        )
    return out


def anchors() -> dict:
    train, holdout = load("argn_adult_train"), load("argn_adult_holdout")
    kinds = adult_kinds(train)
    rows = {}
    for model, expected in PUBLISHED.items():
        t0 = time.perf_counter()
        r = evaluate_tables(train, holdout, load(f"synthetic_{model}"), kinds, EvalConfig(target="income"))
        row = {"seconds": round(time.perf_counter() - t0, 2)}
        for key, exp, tol in zip(KEYS, expected, TOL):
            row[key] = round(r[key], 4)
            row[key + ".expected"] = exp
            row[key + ".within_tolerance"] = abs(r[key] - exp) <= tol + 1e-12
        rows[model] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sdmetrics", action="store_true")
    parser.add_argument("--skip-anchors", action="store_true")
    args = parser.parse_args()
    if not ANCHORS.exists():
        raise SystemExit(f"anchors not found at {ANCHORS}")
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "speed_50k": speed(args.skip_sdmetrics),
    }
    if not args.skip_anchors:
        results["adult_anchors"] = anchors()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
