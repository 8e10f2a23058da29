"""DP benchmark on the Adult anchors split: synthgen's DP transformer at epsilon 1 and 4 (delta 1e-5)
against the published TabularARGN-DP output and smartnoise-synth's MST at the same budget, all
scored by synthgen's evaluation (shape, pair trends, TSTR ratio, detection, DCR, membership attack).

    python benchmarks/bench_dp.py [--epsilons 1,4] [--epochs N] [--public-domains] [--mst auto|yes|no]
                                  [--set KEY=VALUE ...] [--tag NAME]

MST runs in its own virtual environment (smartnoise-synth 1.0.8 pins opacus 0.14, which would
break synthgen's opacus 1.6): create it with
    python3 -m venv /work/venv-snsynth
    /work/venv-snsynth/bin/pip install -c constraints.txt smartnoise-synth==1.0.8 pyarrow
and point --mst-python at its python (default: that path). --public-domains declares Adult's
category lists and numeric bounds public (they are documented with the data set), so the whole
budget goes to training and the numeric bin edges; MST gets the same public domains (its
rows are then named `..._public`). Without --epochs the DP schedule of synthgen/sizing.py
chooses batch and epochs. --set passes extra synthgen overrides (probes). Writes benchmarks/results/dp.json (rows of
earlier runs are kept unless re-measured) with the load average at the start of each row.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from bench_adult import ANCHORS, RESULTS, WORK  # benchmarks/ is on sys.path
from table import print_table

KEYS = [
    "fidelity.shape",
    "fidelity.pair_trends",
    "utility.roc_auc_ratio",
    "fidelity.detection_auc",
    "privacy.dcr_share",
    "privacy.mia_auc",
]
MST_PYTHON = "/work/venv-snsynth/bin/python"
ADULT_INT = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]
# Public numeric bounds for --public-domains (Adult's documentation: ages 17-90, hours 1-99, ...).
BOUNDS = {
    "age": [17, 90],
    "fnlwgt": [10000, 1500000],
    "education_num": [1, 16],
    "capital_gain": [0, 99999],
    "capital_loss": [0, 4356],
    "hours_per_week": [1, 99],
}


def _kinds(train):
    return {c: "integer" if c in ADULT_INT else "categorical" for c in train.columns}


def _score(synthetic, kinds) -> dict:
    import synthgen.evaluate.tabular as t  # evaluate_table keeps bench_adult's keys; add the attack
    from synthgen.evaluate import EvalConfig

    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    holdout = pq.read_table(ANCHORS / "argn_adult_holdout.parquet").to_pandas()
    r = t.evaluate_tables(train, holdout, synthetic, kinds, EvalConfig(target="income", seed=0))
    return {k: r.get(k) for k in KEYS} | {"mia_ci": [r.get("privacy.mia_auc_ci_low"), r.get("privacy.mia_auc_ci_high")]}


def _declared(train) -> list[str]:
    out = []
    for c in train.columns:
        if c in BOUNDS:
            out.append(f"+data.columns.{c}.bounds=[{BOUNDS[c][0]},{BOUNDS[c][1]}]")
        else:
            levels = sorted(train[c].dropna().unique().tolist())  # the documented levels of each column
            out.append(f"+data.columns.{c}.categories=[" + ",".join(json.dumps(v) for v in levels) + "]")
    return out


def run_synthgen(eps: float, epochs: int | None, public: bool, tag: str, overrides=()) -> dict:
    from synthgen import pipeline
    from synthgen.config import load_config
    from synthgen.paths import RunPaths

    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    out = WORK / f"dp_eps{eps:g}{tag}"
    cfg = load_config(
        [
            "model=transformer",
            "data=file",
            f"data.path={ANCHORS / 'argn_adult_train.parquet'}",
            f"data.holdout_path={ANCHORS / 'argn_adult_holdout.parquet'}",
            "data.target=income",
            "data.name=adult_anchor",
            f"paths.out_dir={out}",
            f"paths.mlflow_dir={WORK / 'mlruns'}",
            "trainer.enable_progress_bar=false",
            "evaluate.gate.enabled=false",
            f"privacy.epsilon={eps}",
            "privacy.delta=1e-5",
            *([f"trainer.max_epochs={epochs}"] if epochs else []),
            *(_declared(train) if public else []),
            *overrides,
        ]
    )
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    for stage in ("prepare", "encode", "train", "generate"):
        getattr(pipeline, stage)(cfg)
    train_s = time.perf_counter() - t0
    paths = RunPaths.from_config(cfg)
    spent = json.loads((paths.model_dir / "privacy.json").read_text())
    synthetic = pq.read_table(paths.synthetic).to_pandas()
    return {
        "epsilon_spent": round(spent["epsilon_spent"], 3),
        "noise_multiplier": round(spent["noise_multiplier"], 3),
        "steps": spent["steps"],
        "expected_batch": round(spent["expected_batch_size"]),
        "wall_s": round(train_s, 1),
        "load_average_at_start": round(load, 2),
        **_score(synthetic, _kinds(train)),
    }


def run_mst(eps: float, python: str, public: bool = False) -> dict | None:
    """smartnoise-synth MST in its own venv; the script reads the anchors and writes a Parquet.
    public: the same public domains synthgen gets with --public-domains (BOUNDS for the numbers,
    the documented levels for the categories, which snsynth's label transformer lists anyway), so
    the whole epsilon goes to MST's marginals: each number in min(upper - lower + 1, 100) equal bins
    over its public bounds (exact integers for age, education_num, hours; 100 bins as synthgen's
    encoder on Adult otherwise). Without it snsynth spends 10 % of epsilon on DP bounds, 10 bins each."""
    if not Path(python).exists():
        print(f"no smartnoise-synth venv at {python}; skipping MST")
        return None
    out = WORK / f"mst_eps{eps:g}{'_public' if public else ''}.parquet"
    WORK.mkdir(parents=True, exist_ok=True)
    bins = {c: [lo, hi, min(hi - lo + 1, 100)] for c, (lo, hi) in BOUNDS.items()}
    code = f"""
import pandas as pd
from snsynth import Synthesizer
from snsynth.transform import BinTransformer, TableTransformer
train = pd.read_parquet({str(ANCHORS / "argn_adult_train.parquet")!r})
synth = Synthesizer.create("mst", epsilon={eps}, delta=1e-5)
num = {ADULT_INT!r}
cat = [c for c in train.columns if c not in num]
if {public!r}:
    bins = {bins!r}
    tt = TableTransformer.create(train, style="cube", categorical_columns=cat, continuous_columns=num,
        constraints={{c: BinTransformer(lower=lo, upper=hi, bins=b) for c, (lo, hi, b) in bins.items()}})
    synth.fit(train, transformer=tt, preprocessor_eps=0.0)
else:
    synth.fit(train, preprocessor_eps={eps} * 0.1, categorical_columns=cat, continuous_columns=num)
synth.sample(len(train)).to_parquet({str(out)!r})
"""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    r = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"MST failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1][:300]}
    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    syn = pq.read_table(out).to_pandas()
    for c in ADULT_INT:  # MST returns floats for binned numbers
        syn[c] = syn[c].round().astype("int64")
    return {
        "wall_s": round(time.perf_counter() - t0, 1),
        "load_average_at_start": round(load, 2),
        **_score(syn, _kinds(train)),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epsilons", default="1,4")
    ap.add_argument("--epochs", type=int, default=None, help="trainer.max_epochs (default: the family's)")
    ap.add_argument("--public-domains", action="store_true")
    ap.add_argument("--mst", choices=["auto", "yes", "no"], default="auto")
    ap.add_argument("--mst-python", default=MST_PYTHON)
    ap.add_argument("--skip-synthgen", action="store_true")
    ap.add_argument("--tag", default="")
    ap.add_argument("--set", action="append", default=[], help="an extra synthgen override (repeatable)")
    args = ap.parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "dp.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    published = ANCHORS / "synthetic_tabargn_dp.parquet"
    if published.exists():
        table["published TabularARGN-DP"] = _score(pq.read_table(published).to_pandas(), _kinds(train))
    for eps in (float(e) for e in args.epsilons.split(",") if e):
        tag = args.tag + ("_public" if args.public_domains else "")
        if not args.skip_synthgen:
            table[f"synthgen transformer DP eps={eps:g}{tag}"] = run_synthgen(
                eps, args.epochs, args.public_domains, tag, args.set
            )
            print(table[f"synthgen transformer DP eps={eps:g}{tag}"], flush=True)
        if args.mst != "no":
            row = run_mst(eps, args.mst_python, args.public_domains)
            if row is not None:
                table[f"smartnoise MST eps={eps:g}{'_public' if args.public_domains else ''}"] = row
        path.write_text(json.dumps(table, indent=1) + "\n")
    print_table(table, [k for k in KEYS] + ["epsilon_spent", "wall_s", "load_average_at_start"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
