"""Adult benchmark: synthgen's families, the published anchors and (if installed) SDV, scored alike.

Trains on shared/anchors/adult/argn_adult_train.parquet, evaluates against argn_adult_holdout.parquet
with synthgen's own evaluation, and writes benchmarks/results/adult.json.

    python benchmarks/bench_adult.py [--families transformer,gan,vae] [--sdv] [--epochs N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq

from table import print_table  # benchmarks/table.py (scripts run with this folder on sys.path)

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT.parent / "shared" / "anchors" / "adult"
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"
KEYS = ["fidelity.shape", "fidelity.pair_trends", "utility.roc_auc_ratio", "fidelity.detection_auc",
        "privacy.dcr_share", "privacy.exact_copies_synthetic_share", "privacy.exact_copies_holdout_share"]


def evaluate_table(synthetic, kinds):
    from synthgen.evaluate import EvalConfig, evaluate_tables

    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    holdout = pq.read_table(ANCHORS / "argn_adult_holdout.parquet").to_pandas()
    cfg = EvalConfig(target="income", sensitive=["sex", "race"], seed=0)
    result = evaluate_tables(train, holdout, synthetic, kinds, cfg)
    return {k: result.get(k) for k in KEYS}


def run_family(family: str, extra: list[str]) -> dict:
    from synthgen import pipeline
    from synthgen.config import load_config
    from synthgen.paths import RunPaths
    from synthgen.schema import TableSchema

    out = WORK / family
    cfg = load_config([f"model={family}", "data=file", f"data.path={ANCHORS / 'argn_adult_train.parquet'}",
                       f"data.holdout_path={ANCHORS / 'argn_adult_holdout.parquet'}", "data.target=income",
                       "data.sensitive=[sex,race]", "data.name=adult_anchor", f"paths.out_dir={out}",
                       f"paths.mlflow_dir={WORK / 'mlruns'}", "trainer.enable_progress_bar=false",
                       "evaluate.gate.enabled=false", *extra])
    paths = RunPaths.from_config(cfg)
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    t0 = time.perf_counter()
    pipeline.train(cfg)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline.generate(cfg)
    gen_s = time.perf_counter() - t0
    synthetic = pq.read_table(paths.synthetic).to_pandas()
    row = {"train_s": round(train_s, 1), "sample_rows_per_s": round(len(synthetic) / gen_s),
           **evaluate_table(synthetic, TableSchema.load(paths.schema).kinds())}
    return row


def run_anchors(kinds) -> dict:
    rows = {}
    for name in ("tabsyn", "tabargn", "tabmt", "stasy"):
        path = ANCHORS / f"synthetic_{name}.parquet"
        if path.exists():
            rows[f"published {name}"] = evaluate_table(pq.read_table(path).to_pandas(), kinds)
    return rows


def run_sdv(kinds) -> dict:
    try:
        from sdv.metadata import SingleTableMetadata
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
    except ImportError:
        print("sdv is not installed (pip install -e '.[bench]'); skipping the SDV baselines")
        return {}
    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    meta = SingleTableMetadata()
    meta.detect_from_dataframe(train)
    rows = {}
    for name, cls in (("GaussianCopula", GaussianCopulaSynthesizer), ("CTGAN", CTGANSynthesizer),
                      ("TVAE", TVAESynthesizer)):
        synth = cls(meta)
        t0 = time.perf_counter()
        synth.fit(train)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        sample = synth.sample(len(train))
        rows[f"SDV {name}"] = {"train_s": round(train_s, 1),
                               "sample_rows_per_s": round(len(sample) / (time.perf_counter() - t0)),
                               **evaluate_table(sample, kinds)}
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="transformer,gan,vae")
    ap.add_argument("--sdv", action="store_true", help="also train SDV's baselines (slow: ~25 min)")
    ap.add_argument("--extra", default="", help="comma-separated extra overrides for every family")
    args = ap.parse_args(argv)
    if not ANCHORS.exists():
        print(f"anchors not found at {ANCHORS}", file=sys.stderr)
        return 1
    from synthgen.config import CONF_DIR

    kinds = {c: ("integer" if c in ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss",
                                    "hours_per_week") else "categorical")
             for c in pq.read_schema(ANCHORS / "argn_adult_train.parquet").names}
    extra = [e for e in args.extra.split(",") if e]
    table = {}
    for family in args.families.split(","):
        if (CONF_DIR / "model" / f"{family}.yaml").exists():
            table[f"synthgen {family}"] = run_family(family, extra)
            print(family, table[f"synthgen {family}"], flush=True)
    table.update(run_anchors(kinds))
    if args.sdv:
        table.update(run_sdv(kinds))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "adult.json").write_text(json.dumps(table, indent=1))
    print_table(table, ["train_s", "sample_rows_per_s", *KEYS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
