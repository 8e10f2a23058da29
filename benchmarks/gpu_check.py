"""`make gpu-check`: what a GPU machine gives synthgen, measured the way users run it (the CLI).

Without a CUDA device it prints one line and exits 0. With one it measures, on Adult's training
table tiled to TILE x 32,561 rows (at least 10 copies, more when every rank of a many-GPU run needs
them to fill LIMIT batches of 512 rows):
  - training throughput per family (rows/s), bf16-mixed (trainer=gpu) against float32
    (trainer.precision=32-true);
  - DDP scaling of that throughput from 1 to every visible GPU (trainer=ddp, bf16-mixed);
  - generation rows/s per family (trainer=gpu, generate.n_rows);
  - whether generation writes byte-identical shards with one GPU and with all of them.
Writes benchmarks/results/gpu.json.

Throughputs are timed inside the processes, so process start, imports, data loading and checkpoint
export stay out: training runs EPOCHS epochs of trainer.limit_train_batches=LIMIT batches per rank
(validation included, as in real training) and counts the rows of epochs 2..EPOCHS over the time
between the first and the last epoch's val_loss (MLflow's timestamps); generation writes N_ROWS rows
and takes the rate of its last progress line (first chunk's start to the last chunk's Parquet write).

    python benchmarks/gpu_check.py [--families transformer,gan,vae] [--out PATH]
    python benchmarks/gpu_check.py --cpu-smoke --families transformer   # the same code on CPU, tiny
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "benchmarks" / "work" / "gpu"
OUT_DIR, MLFLOW_DIR = WORK / "out", WORK / "mlruns"  # paths.out_dir, paths.mlflow_dir of every stage
FAMILIES = ("transformer", "gan", "vae")
ADULT_ROWS = 32_561
MAX_BATCH = 512  # the largest default batch (the transformer's; default_batch)


class Settings:
    def __init__(self, smoke: bool, n_dev: int):
        self.smoke = smoke
        # training batches per rank and epoch: the timed epochs (2..EPOCHS) must outlast the noise in
        # a process's fixed costs (imports, MLflow, export: ~10 s, +-1 s)
        self.limit = 20 if smoke else 200
        self.epochs = 4 if smoke else 3
        # copies of Adult's training table (32,561 rows, 2-15 % of them held for validation)
        need = math.ceil(self.limit * MAX_BATCH * n_dev / (ADULT_ROWS * 0.85))
        self.tile = max(2 if smoke else 10, need)
        self.n_rows = 6_000 if smoke else 1_000_000
        self.chunk_rows = 1_000 if smoke else 50_000
        self.accelerator = "cpu" if smoke else "gpu"
        # a smaller transformer on CPU (the GAN and VAE are small already)
        self.transformer_extra = (
            ["model.tabular.d_model=16", "model.tabular.n_layers=1", "model.tabular.n_heads=2"] if smoke else []
        )

    def extra(self, family: str) -> list[str]:
        return self.transformer_extra if family == "transformer" else []


def world_sizes(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    out, k = [], 1
    while k < n:
        out.append(k)
        k *= 2
    return out + [n]


def synthgen(stage: str, overrides: list[str]) -> str:
    """Run one stage as `python -m synthgen.cli`; its output. Stops with its error on failure."""
    proc = subprocess.run(
        [sys.executable, "-m", "synthgen.cli", stage, *overrides], cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise SystemExit(f"gpu-check: `synthgen {stage} {' '.join(overrides)}` failed:\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


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


def default_batch(family: str) -> int:
    """The batch size `batch_size: auto` gives a table as large as the tiled one (synthgen/sizing.py:
    the family's reference batch, which Adult's 15 columns leave under the token cap). Passed
    explicitly, so that rows per step are known here."""
    from synthgen import sizing
    from synthgen.config import load_config

    name = load_config([f"model={family}"]).model.tabular._target_.rsplit(".", 1)[-1]
    return int(sizing.PROFILES[name]["batch_size"])


def train_rows_per_s(s: Settings, base: list[str], family: str, world: int, precision: str) -> float:
    batch = default_batch(family)
    ov = [
        *base,
        f"model={family}",
        *s.extra(family),
        f"model.tabular.batch_size={batch}",
        *trainer_overrides(s, world, precision),
        f"trainer.limit_train_batches={s.limit}",
        "train.patience=1000",
    ]
    synthgen("train", [*ov, f"trainer.max_epochs={s.epochs}"])
    ends = validation_ends()
    if len(ends) != s.epochs:
        raise SystemExit(f"gpu-check: {family} logged {len(ends)} validation rounds, expected {s.epochs}")
    rows = (s.epochs - 1) * s.limit * batch * world
    return round(rows / max(ends[-1] - ends[0], 1e-9), 1)


def validation_ends() -> list[float]:
    """When each epoch's validation ended in the train run just finished (seconds, from the
    timestamps MLflow keeps on every val_loss it logged): epochs 2..N are timed inside the process."""
    from mlflow.tracking import MlflowClient

    run_id = json.loads((OUT_DIR / "model" / "mlflow_run.json").read_text())["run_id"]
    client = MlflowClient(tracking_uri=f"sqlite:///{MLFLOW_DIR / 'mlflow.db'}")
    return sorted(m.timestamp / 1000 for m in client.get_metric_history(run_id, "val_loss"))


PROGRESS = re.compile(r"generated ([\d,]+)/([\d,]+) \S+ \(([\d,]+) \S+/s\)")


def generated_rows_per_s(output: str) -> float:
    """The generate stage's last progress line (synthgen/progress.py, RowProgress): rows over the
    seconds from the first chunk's start to the last chunk's Parquet write, without process start."""
    done, total, rate = PROGRESS.findall(output)[-1]
    if done != total:
        raise SystemExit(f"gpu-check: generation stopped at {done} of {total} rows")
    return float(rate.replace(",", ""))


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
    n_dev = 2 if args.cpu_smoke else torch.cuda.device_count()
    s = Settings(args.cpu_smoke, n_dev)
    families = [f for f in args.families.split(",") if f]
    out = Path(args.out)
    base = [
        "data=file",
        f"data.path={tiled_adult(s)}",
        f"data.holdout_path={ROOT / 'data/adult/adult_test.parquet'}",
        "data.target=income",
        f"paths.out_dir={OUT_DIR}",
        f"paths.mlflow_dir={MLFLOW_DIR}",
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
        "settings": {k: v for k, v in vars(s).items() if k != "transformer_extra"},
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
        # one GPU: the scaling's only point is the bf16 figure just measured (trainer=gpu either way)
        result["ddp_scaling_rows_per_s"][family] = {
            str(k): r["bf16-mixed"] if k == 1 and n_dev == 1 else train_rows_per_s(s, base, family, k, "bf16-mixed")
            for k in world_sizes(n_dev)
        }
        # the model trained last (all devices, bf16) generates: once per size, then per world size
        gen = [*base, f"model={family}", *s.extra(family), f"generate.n_rows={s.n_rows}"]
        output = synthgen("generate", [*gen, *trainer_overrides(s, 1, "bf16-mixed")])
        result["generate_rows_per_s"][family] = generated_rows_per_s(output)
        one = manifest_hashes(OUT_DIR)
        synthgen("generate", [*gen, *trainer_overrides(s, n_dev, "bf16-mixed")])
        result["identical_across_world_sizes"][family] = {
            "world_sizes": [1, n_dev],
            "identical": manifest_hashes(OUT_DIR) == one,
        }
        write(out, result)  # after each family: a run stopped at a time limit keeps what it measured
    print(json.dumps(result, indent=1))
    return 0


def write(out: Path, result: dict) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
