"""`make gpu-check`: what a GPU machine gives synthgen, measured the way users run it (the CLI).

Without a CUDA device it prints one line and exits 0. With one it measures, on Adult's training
table tiled to TILE x 32,561 rows (so every rank of an 8-GPU run still gets LIMIT batches):
  - training throughput per family (rows/s), bf16-mixed (trainer=gpu) against float32
    (trainer.precision=32-true);
  - DDP scaling of that throughput from 1 to every visible GPU (trainer=ddp, bf16-mixed);
  - generation rows/s per family (trainer=gpu, generate.n_rows);
  - whether generation writes byte-identical shards with one GPU and with all of them.
Writes benchmarks/results/gpu.json.

Throughputs are differences of two runs, so process start, imports, data loading and checkpoint
export cancel out: training (rows in epochs 2..EPOCHS) / (t(EPOCHS epochs) - t(1 epoch)), with
trainer.limit_train_batches=LIMIT batches per rank and epoch (validation included, as in real
training); generation (N_BIG - N_SMALL rows) / (t(N_BIG) - t(N_SMALL)).

    python benchmarks/gpu_check.py [--families transformer,gan,vae] [--out PATH]
    python benchmarks/gpu_check.py --cpu-smoke --families transformer   # the same code on CPU, tiny
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work" / "gpu"
FAMILIES = ("transformer", "gan", "vae")


class Settings:
    def __init__(self, smoke: bool):
        self.smoke = smoke
        self.tile = 2 if smoke else 20  # copies of Adult's training table (32,561 rows each)
        self.limit = 3 if smoke else 30  # training batches per rank and epoch
        self.epochs = 2 if smoke else 3
        self.n_small, self.n_big = (2_000, 6_000) if smoke else (100_000, 1_100_000)
        self.chunk_rows = 1_000 if smoke else 50_000
        self.accelerator = "cpu" if smoke else "gpu"
        self.extra = (
            ["model.tabular.d_model=16", "model.tabular.n_layers=1", "model.tabular.n_heads=2"] if smoke else []
        )


def world_sizes(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    out, k = [], 1
    while k < n:
        out.append(k)
        k *= 2
    return out + [n]


def synthgen(stage: str, overrides: list[str]) -> float:
    """Run one stage as `python -m synthgen.cli`; wall seconds. Stops with its error on failure."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "synthgen.cli", stage, *overrides], cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"gpu-check: `synthgen {stage} {' '.join(overrides)}` failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def tiled_adult(s: Settings) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = WORK / f"adult_x{s.tile}.parquet"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        t = pq.read_table(ROOT / "data" / "adult" / "adult_train.parquet")
        pq.write_table(pa.concat_tables([t] * s.tile), path)
    return path


def trainer_overrides(s: Settings, world: int, precision: str) -> list[str]:
    if world == 1 and not s.smoke:
        return ["trainer=gpu", f"trainer.precision={precision}"]
    if world == 1:
        return ["trainer.accelerator=cpu", f"trainer.precision={precision}"]
    return [
        "trainer=ddp",
        f"trainer.accelerator={s.accelerator}",
        f"trainer.devices={world}",
        f"trainer.precision={precision}",
    ]


def train_rows_per_s(s: Settings, base: list[str], family: str, world: int, precision: str) -> float:
    from synthgen.config import load_config

    batch = int(load_config([f"model={family}", *s.extra]).model.tabular.batch_size)
    ov = [
        *base,
        f"model={family}",
        *s.extra,
        *trainer_overrides(s, world, precision),
        f"trainer.limit_train_batches={s.limit}",
        "train.patience=1000",
    ]
    t1 = synthgen("train", [*ov, "trainer.max_epochs=1"])
    tn = synthgen("train", [*ov, f"trainer.max_epochs={s.epochs}"])
    rows = (s.epochs - 1) * s.limit * batch * world
    return round(rows / max(tn - t1, 1e-9), 1)


def manifest_hashes(out: Path) -> list[str]:
    return [f["sha256"] for f in json.loads((out / "synthetic" / "_manifest.json").read_text())["files"]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--out", default=str(RESULTS / "gpu.json"))
    ap.add_argument("--cpu-smoke", action="store_true", help="run the same steps on CPU, tiny (tests this script)")
    args = ap.parse_args(argv)
    import torch

    if not args.cpu_smoke and not torch.cuda.is_available():
        print("gpu-check: skipped (no CUDA device visible to torch; nothing measured, no gpu.json written)")
        return 0
    s = Settings(args.cpu_smoke)
    n_dev = 2 if s.smoke else torch.cuda.device_count()
    families = [f for f in args.families.split(",") if f]
    out_dir = WORK / "out"
    base = [
        "data=file",
        f"data.path={tiled_adult(s)}",
        f"data.holdout_path={ROOT / 'data/adult/adult_test.parquet'}",
        "data.target=income",
        f"paths.out_dir={out_dir}",
        f"paths.mlflow_dir={WORK / 'mlruns'}",
        "trainer.enable_progress_bar=false",
        f"generate.chunk_rows={s.chunk_rows}",
    ]
    synthgen("prepare", base)
    synthgen("encode", base)
    result = {
        "device": "cpu (smoke)" if s.smoke else torch.cuda.get_device_name(0),
        "devices": n_dev,
        "torch": torch.__version__,
        "load_1min": round(os.getloadavg()[0], 2),
        "settings": {k: v for k, v in vars(s).items() if k != "extra"},
        "train_rows_per_s": {},
        "ddp_scaling_rows_per_s": {},
        "generate_rows_per_s": {},
        "identical_across_world_sizes": {},
    }
    for family in families:
        print(f"gpu-check: {family}", flush=True)
        result["train_rows_per_s"][family] = {
            p: train_rows_per_s(s, base, family, 1, p) for p in ("32-true", "bf16-mixed")
        }
        r = result["train_rows_per_s"][family]
        r["bf16_speedup"] = round(r["bf16-mixed"] / r["32-true"], 2)
        result["ddp_scaling_rows_per_s"][family] = {
            str(k): train_rows_per_s(s, base, family, k, "bf16-mixed") for k in world_sizes(n_dev)
        }
        # the model trained last (all devices, bf16) generates: once per size, then per world size
        gen = [*base, f"model={family}", *s.extra]
        t_small = synthgen("generate", [*gen, *trainer_overrides(s, 1, "bf16-mixed"), f"generate.n_rows={s.n_small}"])
        t_big = synthgen("generate", [*gen, *trainer_overrides(s, 1, "bf16-mixed"), f"generate.n_rows={s.n_big}"])
        result["generate_rows_per_s"][family] = round((s.n_big - s.n_small) / max(t_big - t_small, 1e-9), 1)
        one = manifest_hashes(out_dir)
        synthgen("generate", [*gen, *trainer_overrides(s, n_dev, "bf16-mixed"), f"generate.n_rows={s.n_big}"])
        result["identical_across_world_sizes"][family] = {
            "world_sizes": [1, n_dev],
            "identical": manifest_hashes(out_dir) == one,
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
