"""Every table the installed packages bundle that the suite does not use, through `synthgen run` as a
user would run it: the DataFrame the package's loader gives, saved as CSV (no index), then
`synthgen run data=file data.path=<csv>` with 2 epochs (a robustness sweep, not a quality
benchmark). Per table: the exit status and its last error line, the seconds, and what the synthetic
rows do that the real ones do not (columns missing or renamed, numbers read back as text, nulls in a
column without any, numbers outside the real range, levels no real row has in a column of under
50 levels). Some of those are by design (an identifier's fresh keys, a product written from its
parts); the table says what was seen, the README what is meant.

    python benchmarks/bundled_tables.py [--tables sm_nile,ll_rossi] [--out benchmarks/work/bundled]

Writes benchmarks/results/bundled_tables.json and .md. Needs the `bench` extra (statsmodels,
vega_datasets, lifelines, scikit-learn). Nothing is downloaded: every loader reads a file its
package ships.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STATSMODELS = "cancer ccard china_smoking co2 committee copper cpunish danish_data elnino engel fertility grunfeld"
STATSMODELS += " heart interest_inflation longley macrodata modechoice nile scotland spector stackloss statecrime"
STATSMODELS += " strikes sunspots"
VEGA = "anscombe barley burtin crimea driving iowa-electricity iris la-riots ohlc seattle-temps sf-temps us-employment"
VEGA += " wheat"
LIFELINES = "c_botulinum_lag_phase dd dfcv g3 gbsg2 holly_molly_polly larynx lcd leukemia lung lupus lymphoma mice nh4"
LIFELINES += " panel_test psychiatric_patients recur regression_dataset rossi stanford_heart_transplants static_test"
LIFELINES += " waltons"
SKLEARN = "iris wine linnerud"


def loaders() -> dict:
    """name -> a function returning the package's DataFrame."""
    import lifelines.datasets as ll
    import sklearn.datasets as sk
    import statsmodels.api as sm
    from vega_datasets import local_data

    out = {f"sm_{n}": (lambda n=n: getattr(sm.datasets, n).load_pandas().data) for n in STATSMODELS.split()}
    out |= {f"vega_{n}": (lambda n=n: local_data(n)) for n in VEGA.split()}
    out |= {f"ll_{n}": (lambda n=n: getattr(ll, f"load_{n}")()) for n in LIFELINES.split()}
    out |= {f"sk_{n}": (lambda n=n: getattr(sk, f"load_{n}")(as_frame=True).frame) for n in SKLEARN.split()}
    return out


def differences(real: pd.DataFrame, synthetic: pd.DataFrame) -> list[str]:
    """What the synthetic rows do that the real ones (as pandas reads the CSV back) do not."""
    seen = []
    if list(synthetic.columns) != list(real.columns):
        seen.append(f"columns {list(real.columns)} -> {list(synthetic.columns)}")
    for c in real.columns.intersection(synthetic.columns):
        r, s = real[c], synthetic[c]
        if r.notna().all() and s.isna().any():
            seen.append(f"{c}: nulls in {s.isna().mean():.0%} of the rows, none real")
        if r.dtype.kind in "if" and s.dtype.kind not in "if":
            seen.append(f"{c}: {r.dtype} -> {s.dtype}")
        elif r.dtype.kind in "if" and len(s.dropna()) and (s.min() < r.min() or s.max() > r.max()):
            seen.append(f"{c}: {r.min():g} .. {r.max():g} real, {s.min():g} .. {s.max():g} synthetic")
        if r.dtype == object and r.nunique() < 50:
            new = sorted(set(s.dropna().astype(str)) - set(r.dropna().astype(str)))
            if new:
                seen.append(f"{c}: levels no real row has, e.g. {new[:3]}")
    return seen


def run_one(name: str, load, out: Path) -> dict:
    d = out / name
    d.mkdir(parents=True, exist_ok=True)
    df = load()
    csv = d / f"{name}.csv"
    df.to_csv(csv, index=False)
    synthgen = Path(sys.executable).with_name("synthgen")
    cmd = [str(synthgen), "run", "data=file", f"data.path={csv}", f"paths.out_dir={d / 'out'}"]
    cmd += [f"paths.mlflow_dir={out / 'mlruns'}", "trainer.max_epochs=2", "trainer.enable_progress_bar=false"]
    cmd += ["evaluate.detection_folds=2", "evaluate.gate.enabled=false"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = round(time.perf_counter() - t0, 1)
    row = {"rows": len(df), "columns": df.shape[1], "exit": done.returncode, "seconds": seconds}
    (d / "log.txt").write_text(done.stdout + "\n" + done.stderr)
    if done.returncode:
        row["error"] = (done.stderr.strip().splitlines() or [""])[-1][:300]
        return row
    synthetic = pd.read_parquet(d / "out" / "synthetic")
    row["differences"] = differences(pd.read_csv(csv), synthetic)
    return row


def markdown(results: dict) -> str:
    ran = sum(r["exit"] == 0 for r in results.values())
    lines = [
        "# Bundled tables through `synthgen run`",
        "",
        "Written by `benchmarks/bundled_tables.py` (its docstring says how). "
        f"{ran} of {len(results)} tables ran end to end.",
        "",
        "| table | rows | columns | exit | s | error, or what the synthetic rows do that the real ones do not |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        what = r.get("error") or "; ".join(r.get("differences", [])) or ""
        lines.append(f"| {name} | {r['rows']} | {r['columns']} | {r['exit']} | {r['seconds']} | {what} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", default="", help="comma-separated names (sm_nile, vega_iris, ll_rossi, sk_wine)")
    ap.add_argument("--out", default=str(HERE / "work" / "bundled"))
    args = ap.parse_args(argv)
    every = loaders()
    names = [t for t in args.tables.split(",") if t] or list(every)
    unknown = sorted(set(names) - set(every))
    if unknown:
        raise SystemExit(f"unknown table(s): {', '.join(unknown)}; known: {', '.join(every)}")
    path = RESULTS / "bundled_tables.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    for name in names:
        results[name] = run_one(name, every[name], Path(args.out))
        print(name, json.dumps(results[name]), flush=True)
        path.write_text(json.dumps(results, indent=1))
        (RESULTS / "bundled_tables.md").write_text(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
