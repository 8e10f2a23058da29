"""A wide table no package ships: 2,000 rows of 150 numbers from 5 latent factors, 50 flags and a
binary target (README, Benchmarks: "A wide table").

    python benchmarks/wide_table.py write /tmp/wide.parquet
    synthgen run data=file data.path=/tmp/wide.parquet data.target=target paths.out_dir=/tmp/wide_out
    python benchmarks/wide_table.py compare /tmp/wide_out   # TabularARGN on the same training rows

`compare` (the `bench` extra) fits TabularARGN with its defaults on the run's training split,
samples as many rows, and scores both synthetic sets with synthgen's evaluation against the run's
holdout.
"""

from __future__ import annotations

import glob
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def wide(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 5))
    cols = {f"x{j}": np.round(z @ rng.normal(size=5) + rng.normal(0, 0.5, n), 2) for j in range(150)}
    cols |= {f"c{j}": np.where(z[:, j % 5] > rng.normal(), "hi", "lo") for j in range(50)}
    cols["target"] = (z[:, 0] + z[:, 1] > 0).astype(int)
    return pd.DataFrame(cols)


def compare(out: Path) -> None:
    import pyarrow as pa
    from mostlyai.engine import TabularARGN

    from synthgen.evaluate import EvalConfig, evaluate_tables
    from synthgen.schema import infer_schema

    train = pd.read_parquet(out / "prepared" / "train.parquet")
    holdout = pd.read_parquet(out / "prepared" / "holdout.parquet")
    kinds = infer_schema(pa.Table.from_pandas(train, preserve_index=False)).kinds()
    config = EvalConfig(target="target", seed=0)

    def score(syn: pd.DataFrame) -> dict:
        r = evaluate_tables(train, holdout, syn.iloc[: len(train)].reset_index(drop=True), kinds, config)
        return {k: round(r[k], 3) for k in ("fidelity.shape", "fidelity.pair_trends", "fidelity.detection_auc")}

    ours = pd.concat([pd.read_parquet(f) for f in sorted(glob.glob(str(out / "synthetic" / "*.parquet")))])
    print("synthgen", score(ours), flush=True)
    t0 = time.perf_counter()
    model = TabularARGN(device="cpu", random_state=0, workspace_dir=str(out / "argn_workspace"))
    model.fit(train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = model.sample(n_samples=len(train), device="cpu")
    rows_per_s = len(train) / (time.perf_counter() - t0)
    print(f"TabularARGN fit {fit_s:.1f} s, {rows_per_s:,.0f} rows/s", score(syn), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "compare"):
        sys.exit(__doc__)
    if sys.argv[1] == "write":
        wide().to_parquet(sys.argv[2])
    else:
        compare(Path(sys.argv[2]))
