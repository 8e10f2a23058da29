"""Sweeps: `synthgen run -m model=gan,vae,transformer seed=0,1` runs one pipeline per combination.

Hydra's own override grammar parses the command line (lists `a,b`, `choice(a,b)`, `range(0,3)`), and the
combinations are its Cartesian product, as Hydra's basic sweeper makes them. Each job is a normal
`synthgen run` with its own `paths.out_dir` under the sweep folder (`hydra.sweep.dir=`, default
`<paths.out_dir>/multirun/<UTC time>`; a job's folder is `<n>-model-gan_seed-1`), so each has its own train run as the
MLflow parent (tagged
`synthgen.sweep=<folder name>`: filter the runs list with tags.`synthgen.sweep` = '...'). At the end a
comparison table (headline figures per job) is printed and written to `<sweep dir>/sweep.csv`.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from synthgen.errors import SynthgenError

log = logging.getLogger("synthgen")
SWEEP_TAG = "synthgen.sweep"
SWEEP_DIR_KEY = "hydra.sweep.dir"
# The comparison table's figures (those present in at least one job's metrics.json).
FIGURES = (
    "fidelity.shape",
    "fidelity.pair_trends",
    "fidelity.detection_auc",
    "utility.roc_auc_ratio",
    "utility.r2_ratio",
    "utility.cas",
    "fidelity.fd",
    "privacy.dcr_share",
    "gate.passed",
)


def _parse(overrides: list[str]):
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    try:
        return OverridesParser.create().parse_overrides(list(overrides))
    except OverrideParseException as e:
        raise SynthgenError(f"cannot read the overrides: {str(e).splitlines()[0]}") from None


def sweep_keys(overrides: list[str]) -> list[str]:
    """The keys given several values (`model=gan,vae`), in command-line order."""
    return [o.get_key_element() for o in _parse(overrides) if o.is_sweep_override()]


def expand(overrides: list[str]) -> list[list[str]]:
    """Each job's override list: one value per swept key, the fixed overrides as given."""
    axes = []
    for o in _parse(overrides):
        if not o.is_sweep_override():
            axes.append([o.input_line])
            continue
        if o.is_interval_sweep() or type(o.value()).__name__ == "Glob":
            raise SynthgenError(
                f"{o.input_line}: list the values to sweep, e.g. model=gan,vae,transformer or "
                "seed=range(0,3) (interval() and glob() are not supported)"
            )
        key = o.get_key_element()
        axes.append([f"{key}={v}" for v in o.sweep_string_iterator()])
    return [list(job) for job in itertools.product(*axes)]


def job_label(job: list[str], keys: list[str]) -> str:
    """`model-gan_seed-1` from a job's swept overrides: a folder name without '=' or ',', which
    Hydra's override grammar would read as syntax in `paths.out_dir=<folder>`."""
    swept = [o.lstrip("+~").replace("=", "-", 1) for o in job if o.split("=", 1)[0].lstrip("+~") in keys]
    return re.sub(r"[^A-Za-z0-9.-]+", "_", "_".join(swept))[:120] or "job"


def run_sweep(overrides: list[str], params_file, run_one: Callable[[list[str]], None], load_config) -> int:
    """Run every combination with `run_one(job overrides)`; print and write the comparison table.
    A failing job is reported in the table and the others still run; exit status 2 if any failed."""
    explicit = [o for o in overrides if o.startswith(SWEEP_DIR_KEY + "=")]
    rest = [o for o in overrides if not o.startswith(SWEEP_DIR_KEY + "=")]
    keys = sweep_keys(rest)
    if not keys:
        raise SynthgenError("-m sweeps over keys given several values, e.g. model=gan,vae,transformer; none given")
    jobs = expand(rest)
    if explicit:
        root = Path(explicit[-1].split("=", 1)[1]).resolve()
    else:
        base = load_config(jobs[0], params_file).paths.out_dir
        root = Path(base).resolve() / "multirun" / datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    if root.exists() and any(root.iterdir()):
        raise SynthgenError(f"{SWEEP_DIR_KEY}={root} is not empty; choose a new folder for this sweep")
    for job in jobs:  # every combination composes before the first one trains
        load_config(job, params_file)
    log.info("sweep of %d jobs over %s into %s", len(jobs), ", ".join(keys), root)
    rows = []
    for i, job in enumerate(jobs):
        out = root / f"{i}-{job_label(job, keys)}"
        log.info("sweep job %d/%d: %s", i + 1, len(jobs), " ".join(job))
        error = None
        try:
            run_one([*job, f"paths.out_dir={out}"])
        except Exception as e:  # noqa: BLE001  (one bad combination must not stop the others)
            error = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.error("sweep job %d failed: %s", i, error)
        rows.append(_row(i, job, keys, out, root.name, params_file, load_config, error))
    _report(rows, root)
    return 2 if any(r["status"] != "ok" for r in rows) else 0


def _row(i: int, job, keys, out: Path, sweep: str, params_file, load_config, error) -> dict:
    values = {k: next((o.split("=", 1)[1] for o in job if o.split("=", 1)[0].lstrip("+~") == k), "") for k in keys}
    row = {"job": i, **values, "status": "ok" if error is None else f"failed: {error}", "out_dir": str(out)}
    metrics_file, run_file = out / "evaluation" / "metrics.json", out / "model" / "mlflow_run.json"
    if metrics_file.exists() and error is None:
        metrics = json.loads(metrics_file.read_text())
        row.update({k: metrics[k] for k in FIGURES if k in metrics})
    if run_file.exists():
        row["run_id"] = json.loads(run_file.read_text())["run_id"]
        _tag_run(load_config([*job, f"paths.out_dir={out}"], params_file), row["run_id"], sweep)
    return row


def _tag_run(cfg, run_id: str, sweep: str) -> None:
    from synthgen.paths import RunPaths
    from synthgen.tracking import client

    client(cfg, RunPaths.from_config(cfg)).set_tag(run_id, SWEEP_TAG, sweep)


def _report(rows: list[dict], root: Path) -> None:
    import pandas as pd

    table = pd.DataFrame(rows)
    root.mkdir(parents=True, exist_ok=True)
    table.to_csv(root / "sweep.csv", index=False)
    shown = table.drop(columns=["out_dir"]).rename(
        columns=lambda c: c.replace("fidelity.", "").replace("utility.", "").replace("privacy.", "")
    )
    if "run_id" in shown:
        shown["run_id"] = shown["run_id"].fillna("").str[:8]
    print(
        f"\nsweep: {len(rows)} jobs in {root}  (table: {root / 'sweep.csv'}; MLflow: tags.`{SWEEP_TAG}` = "
        f"'{root.name}')"
    )
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
