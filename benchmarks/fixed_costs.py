"""What a small table's training run spends outside the fit: a suite worker's `train s` (prepare +
encode + train, as benchmarks/suite.py times it) split into Lightning's fit and the rest (imports,
the MLflow runs, the export), for this checkout and, with --base, another checkout of synthgen
(a git worktree of an earlier commit), alternating in fresh processes; the JSON names their runs
`current` and `base`.

    PYTHONPATH=. python benchmarks/fixed_costs.py --tables star98,diabetes --rounds 2 [--base /tmp/base] [--append]

A table's entry holds its latest run; with --append the new rounds join the stored ones when both
checkouts are at the commits the entry records (its `commits`), and the medians cover them all.

Needs the suite's splits (run suite.py on the tables once). Writes results/fixed_costs.json. The
fit is timed by wrapping Trainer.fit when Lightning's trainer module loads, so Lightning is still
imported inside the clock, as in a worker.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
FIGURES = ("train_s", "fit_s", "outside_fit_s")

# run in a fresh process with PYTHONPATH=<checkout>: one suite worker with Trainer.fit timed
WORKER = r"""
import importlib.abc, importlib.machinery, json, sys, time
fit_s = {{}}

class TimeFit(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "pytorch_lightning.trainer.trainer":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            fit = module.Trainer.fit

            def timed(self, *a, **k):
                t = time.perf_counter()
                try:
                    return fit(self, *a, **k)
                finally:
                    fit_s["fit"] = time.perf_counter() - t

            module.Trainer.fit = timed

        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, TimeFit())
sys.argv = ["suite.py"]
sys.path[:0] = [{checkout!r}, {bench!r}]  # before the working folder `-c` puts first
import suite, synthgen
assert synthgen.__file__.startswith({checkout!r}), synthgen.__file__
suite.worker({table!r}, "transformer", {tag!r}, ())
res = json.loads((suite.WORK / {table!r} / ("transformer" + {tag!r} + ".json")).read_text())
print(json.dumps({{"train_s": res["train_s"], "fit_s": round(fit_s["fit"], 2)}}))
"""


def one_run(checkout: Path, table: str, tag: str) -> dict:
    code = WORKER.format(bench=str(HERE), checkout=str(checkout), table=table, tag=tag)
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{table} ({checkout}): {(proc.stderr or proc.stdout).strip()[-400:]}")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    row["outside_fit_s"] = round(row["train_s"] - row["fit_s"], 2)
    return row


def commit_of(checkout: Path) -> str | None:
    """The checkout's HEAD commit (None outside git); a worktree with changes is still its HEAD."""
    proc = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or None


def table_entry(runs: dict[str, list[dict]], commits: dict, stamp: str, load: float, stored: dict | None) -> dict:
    """A table's entry from this invocation's runs ({checkout name: [run, ...]}); `stored`: the
    entry to append to (its commits must be these), or None for a fresh one."""
    if stored is not None:
        if stored.get("commits") != commits:
            raise SystemExit(
                f"--append: the stored entry was measured at commits {stored.get('commits')}, not {commits}; "
                f"run without --append to replace it"
            )
        runs = {name: [*stored[name]["runs"], *rows] for name, rows in runs.items()}
    entry = {
        "measured_at": stored["measured_at"] if stored else stamp,
        "appended_at": [*stored.get("appended_at", []), stamp] if stored else [],
        "load": stored["load"] if stored else load,
        "commits": commits,
    }
    for name, rows in runs.items():
        medians = {f"median_{k}": round(statistics.median(r[k] for r in rows), 2) for k in FIGURES}
        entry[name] = {"runs": rows, **medians}
    return entry


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default="star98,diabetes")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--base", type=Path, help="another synthgen checkout to time beside this one")
    ap.add_argument("--append", action="store_true", help="add the rounds to the table's stored ones (same commits)")
    args = ap.parse_args()
    checkouts = {"current": ROOT} | ({"base": args.base.resolve()} if args.base else {})
    commits = {name: commit_of(checkout) for name, checkout in checkouts.items()}
    path = RESULTS / "fixed_costs.json"
    results = json.loads(path.read_text()) if path.exists() else {}  # one entry per table
    tables = [t for t in args.tables.split(",") if t]
    for table in tables if args.append else ():  # refused before any run, not after the first table
        if table in results:
            table_entry({}, commits, "", 0.0, results[table])
    for table in tables:
        stamp, load = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.getloadavg()[0]
        runs = {name: [] for name in checkouts}
        for _ in range(args.rounds):
            for name, checkout in checkouts.items():
                runs[name].append(one_run(checkout, table, f"_fixed_{name}"))
                print(table, name, runs[name][-1], flush=True)
        entry = table_entry(runs, commits, stamp, load, results.get(table) if args.append else None)
        entry["load_after"] = os.getloadavg()[0]
        results[table] = entry
        RESULTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
