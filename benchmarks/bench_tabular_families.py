"""GAN and VAE on Adult: training time, sampling speed and quality, written to
benchmarks/results/tabular_families.json.

For each family: the real pipeline (prepare -> encode -> train -> generate -> evaluate) on
shared/anchors/adult (train on argn_adult_train, score against argn_adult_holdout), then
- `model.sample` alone: rows/s for 200,000 unconditional rows (one thread, the model in memory);
- end to end: `pipeline.generate` of 1,000,000 rows into Parquet shards (decode included).
Train and sampling times are given as wall-clock and as this process's CPU seconds: on a shared
machine the wall clock also counts other people's jobs (the load average is recorded).

    python benchmarks/bench_tabular_families.py [--families gan,vae] [--gan-epochs N] [--vae-epochs N]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
ANCHORS = ROOT.parent / "shared" / "anchors" / "adult"
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work" / "tabular_families"
KEYS = ["fidelity.shape", "fidelity.pair_trends", "utility.roc_auc_ratio", "fidelity.detection_auc",
        "privacy.dcr_share"]
EPOCHS = {"gan": 22, "vae": 45}  # the recommended trainer.max_epochs on Adult (early stopping may end sooner)
SDV = {"gan": {"name": "SDV CTGAN (300 epochs)", "train_s": 976, "fidelity.shape": 0.925,
               "fidelity.pair_trends": 0.893, "utility.roc_auc_ratio": 0.958, "fidelity.detection_auc": 0.93},
       "vae": {"name": "SDV TVAE (300 epochs)", "train_s": 466, "fidelity.shape": 0.912,
               "fidelity.pair_trends": 0.886, "utility.roc_auc_ratio": 0.951, "fidelity.detection_auc": 0.94}}


def timed(fn):
    """fn() -> (result, wall seconds, this process's CPU seconds)."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_family(family: str, epochs: int) -> dict:
    from synthgen import pipeline
    from synthgen.checkpoint import load_generator
    from synthgen.config import load_config
    from synthgen.paths import RunPaths

    base = [f"model={family}", "data=file", f"data.path={ANCHORS / 'argn_adult_train.parquet'}",
            f"data.holdout_path={ANCHORS / 'argn_adult_holdout.parquet'}", "data.target=income",
            "data.name=adult_anchor", f"paths.out_dir={WORK / family}", f"paths.mlflow_dir={WORK / 'mlruns'}",
            "trainer.enable_progress_bar=false", "evaluate.gate.enabled=false", f"trainer.max_epochs={epochs}"]
    cfg = load_config(base)
    paths = RunPaths.from_config(cfg)
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    load = os.getloadavg()[0]
    _, train_s, train_cpu_s = timed(lambda: pipeline.train(cfg))
    pipeline.generate(cfg)
    metrics = pipeline.evaluate(cfg)

    model = load_generator(paths.model)
    cond = torch.full((200_000, model.n_columns), -1, dtype=torch.long)
    model.sample(cond[:10_000], torch.Generator().manual_seed(0))  # warm-up
    _, s_wall, s_cpu = timed(lambda: model.sample(cond, torch.Generator().manual_seed(1)))

    n_big = 1_000_000
    big = load_config([*base, f"generate.n_rows={n_big}", f"paths.out_dir={WORK / (family + '_1m')}"])
    import shutil

    shutil.copytree(WORK / family, WORK / (family + "_1m"), dirs_exist_ok=True)
    _, g_wall, g_cpu = timed(lambda: pipeline.generate(big))
    return {
        "family": family, "max_epochs": epochs, "load_average_at_start": load,
        "train_s": round(train_s, 1), "train_cpu_s": round(train_cpu_s, 1),
        "sample_rows_per_s": round(len(cond) / s_wall), "sample_rows_per_cpu_s": round(len(cond) / s_cpu),
        "end_to_end_rows_per_s": round(n_big / g_wall), "end_to_end_rows_per_cpu_s": round(n_big / g_cpu),
        **{k: round(metrics[k], 4) for k in KEYS if k in metrics},
        "sdv_reference": SDV[family],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default="gan,vae")
    ap.add_argument("--gan-epochs", type=int, default=EPOCHS["gan"])
    ap.add_argument("--vae-epochs", type=int, default=EPOCHS["vae"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    epochs = {"gan": args.gan_epochs, "vae": args.vae_epochs}
    rows = [run_family(f, epochs[f]) for f in args.families.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "tabular_families.json"
    out.write_text(json.dumps({"threads": 1, "rows": rows}, indent=1))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
