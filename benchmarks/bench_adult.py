"""Adult benchmark: synthgen's families, the published anchors and (if installed) SDV, scored alike.

Trains on shared/anchors/adult/argn_adult_train.parquet, evaluates against argn_adult_holdout.parquet
with synthgen's own evaluation, and writes benchmarks/results/adult.json. Per family: training
time (wall and CPU), sampling as `synthgen generate` of the training table's size, the sampler
alone (200,000 rows, model in memory), and end to end into Parquet at scale (BIG_ROWS).

    python benchmarks/bench_adult.py [--families transformer,gan,vae] [--sdv auto|yes|no] [--extra k=v,...]

Rows of earlier runs in adult.json are kept unless this run re-measures them (`--families ""
--sdv yes` adds only the SDV baselines, which run when `pip install -e '.[bench]'` installed sdv).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from table import print_table  # benchmarks/table.py (scripts run with this folder on sys.path)

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT.parent / "shared" / "anchors" / "adult"
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work"
KEYS = [
    "fidelity.shape",
    "fidelity.pair_trends",
    "utility.roc_auc_ratio",
    "fidelity.detection_auc",
    "privacy.dcr_share",
    "privacy.exact_copies_synthetic_share",
    "privacy.exact_copies_holdout_share",
]


def evaluate_table(synthetic, kinds):
    from synthgen.evaluate import EvalConfig, evaluate_tables

    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    holdout = pq.read_table(ANCHORS / "argn_adult_holdout.parquet").to_pandas()
    cfg = EvalConfig(target="income", sensitive=["sex", "race"], seed=0)
    result = evaluate_tables(train, holdout, synthetic, kinds, cfg)
    return {k: result.get(k) for k in KEYS}


# Rows for the end-to-end sampling measurement (model load, sampling, decoding, Parquet shards,
# manifest, MLflow): the targets are 1M rows/s for GAN/VAE and 200k rows/s for the transformer.
BIG_ROWS = {"transformer": 200_000, "gan": 1_000_000, "vae": 1_000_000}


def timed(fn):
    """fn() -> (result, wall seconds, this process's CPU seconds)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_family(family: str, extra: list[str], tag: str = "") -> dict:
    import torch

    from synthgen import pipeline
    from synthgen.checkpoint import load_generator
    from synthgen.config import load_config
    from synthgen.paths import RunPaths
    from synthgen.schema import TableSchema

    out = WORK / f"{family}{tag}"
    base = [
        f"model={family}",
        "data=file",
        f"data.path={ANCHORS / 'argn_adult_train.parquet'}",
        f"data.holdout_path={ANCHORS / 'argn_adult_holdout.parquet'}",
        "data.target=income",
        "data.sensitive=[sex,race]",
        "data.name=adult_anchor",
        f"paths.out_dir={out}",
        f"paths.mlflow_dir={WORK / 'mlruns'}",
        "trainer.enable_progress_bar=false",
        "evaluate.gate.enabled=false",
        *extra,
    ]
    cfg = load_config(base)
    paths = RunPaths.from_config(cfg)
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    load = os.getloadavg()[0]
    _, train_s, train_cpu_s = timed(lambda: pipeline.train(cfg))
    _, gen_s, _ = timed(lambda: pipeline.generate(cfg))
    synthetic = pq.read_table(paths.synthetic).to_pandas()
    row = {
        "train_s": round(train_s, 1),
        "train_cpu_s": round(train_cpu_s, 1),
        "threads": torch.get_num_threads(),
        "load_average_at_start": round(load, 2),
        "sample_rows_per_s": round(len(synthetic) / gen_s),
        **evaluate_table(synthetic, TableSchema.load(paths.schema).kinds()),
    }

    model = load_generator(paths.model)  # the sampler alone, model in memory, 200,000 rows
    cond = torch.full((200_000, model.n_columns), -1, dtype=torch.long)
    model.sample(cond[:2_000], torch.Generator().manual_seed(0))  # warm-up
    _, s_wall, _ = timed(lambda: model.sample(cond, torch.Generator().manual_seed(1)))
    row["model_sample_rows_per_s"] = round(len(cond) / s_wall)
    n_big = BIG_ROWS.get(family, 200_000)
    _, g_wall, g_cpu = timed(lambda: pipeline.generate(load_config([*base, f"generate.n_rows={n_big}"])))
    row.update(
        {
            "end_to_end_rows": n_big,
            "end_to_end_rows_per_s": round(n_big / g_wall),
            "end_to_end_rows_per_cpu_s": round(n_big / g_cpu),
        }
    )
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
        from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer
    except ImportError:
        print("sdv is not installed (pip install -e '.[bench]'); skipping the SDV baselines")
        return {}
    train = pq.read_table(ANCHORS / "argn_adult_train.parquet").to_pandas()
    try:  # SDV 2.x: metadata, fit and sample take {table name: frame}
        from sdv.metadata import Metadata

        meta, data = Metadata.detect_from_dataframes({"adult": train}), {"adult": train}
    except ImportError:  # SDV 1.x
        from sdv.metadata import SingleTableMetadata

        meta, data = SingleTableMetadata(), train
        meta.detect_from_dataframe(train)
    rows = {}
    for name, cls in (
        ("GaussianCopula", GaussianCopulaSynthesizer),
        ("CTGAN", CTGANSynthesizer),
        ("TVAE", TVAESynthesizer),
    ):
        synth = cls(meta)
        _, train_s, _ = timed(lambda: synth.fit(data))
        sample, sample_s, _ = timed(lambda: synth.sample(len(train)))
        sample = sample["adult"] if isinstance(sample, dict) else sample
        rows[f"SDV {name}"] = {
            "train_s": round(train_s, 1),
            "sample_rows_per_s": round(len(sample) / sample_s),
            **evaluate_table(sample, kinds),
        }
        print(f"SDV {name}", rows[f"SDV {name}"], flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="transformer,gan,vae")
    ap.add_argument(
        "--sdv",
        choices=["auto", "yes", "no"],
        default="auto",
        help="train SDV's baselines (~25-40 min); auto: when sdv is installed (the bench extra)",
    )
    ap.add_argument("--extra", default="", help="comma-separated extra overrides for every family")
    ap.add_argument("--tag", default="", help="suffix for the work folder and the result rows (side-by-side runs)")
    args = ap.parse_args(argv)
    if not ANCHORS.exists():
        print(f"anchors not found at {ANCHORS}", file=sys.stderr)
        return 1
    from synthgen.config import CONF_DIR

    kinds = {
        c: (
            "integer"
            if c in ("age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week")
            else "categorical"
        )
        for c in pq.read_schema(ANCHORS / "argn_adult_train.parquet").names
    }
    extra = [e for e in args.extra.split(",") if e]
    table = {}
    for family in filter(None, args.families.split(",")):
        if (CONF_DIR / "model" / f"{family}.yaml").exists():
            table[f"synthgen {family}{args.tag}"] = run_family(family, extra, args.tag)
            print(family, table[f"synthgen {family}{args.tag}"], flush=True)
    table.update(run_anchors(kinds))
    if args.sdv == "yes" or (args.sdv == "auto" and importlib.util.find_spec("sdv") is not None):
        table.update(run_sdv(kinds))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "adult.json"
    table = {**(json.loads(out.read_text()) if out.exists() else {}), **table}  # earlier rows stay unless re-run
    out.write_text(json.dumps(table, indent=1))
    print_table(table, ["train_s", "end_to_end_rows_per_s", "model_sample_rows_per_s", *KEYS])
    return 0


if __name__ == "__main__":
    sys.exit(main())
