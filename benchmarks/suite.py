"""Public-table suite: synthgen's families with their defaults against TabularARGN (mostlyai-engine)
and SDV's CTGAN and TVAE (the baselines of the GAN and VAE families) with their defaults, on the
tables of benchmarks/suite_tables.py, scored by synthgen's evaluation.

Each table is split once (seeded, 20 % holdout) into benchmarks/work/suite/<table>/; every model
then runs in its own child process (one at a time, same threads) that trains on train.parquet and
writes synthetic rows end to end into Parquet; this process scores them against the same split.
The ceiling row scores the real holdout as if it were synthetic (utility: train on real); its DCR
share is that of training rows no model saw (dcr_reference).

    python benchmarks/suite.py [--tables penguins,gapminder] [--families transformer,gan,vae,argn,ctgan,tvae]
    python benchmarks/suite.py --rescore [--tables ...]   # score the synthetic files again, no training
    python benchmarks/suite.py --rescore --ceilings [--tables ...]   # the ceiling rows alone
    python benchmarks/suite.py --resample 3 [--tables ...] [--families transformer,argn]  # time sampling again
    python benchmarks/suite.py --seed 1 [--tables ...] [--families transformer,argn]  # another model seed
    python benchmarks/suite.py --startup 5   # each library's imports before a worker's clock starts

Results: benchmarks/results/suite.json (rows of earlier runs stay unless re-measured) and suite.md.
TabularARGN needs `pip install -e '.[bench]'` and then `pip uninstall -y torchvision torchaudio`
(shared/STACK.md); without it the argn rows are recorded as not run. CTGAN and TVAE need sdv (the
same extra).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from suite_report import LIBRARY_OF  # noqa: E402
from suite_tables import ENTITIES, TABLES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "work" / "suite"
RESULTS = ROOT / "benchmarks" / "results"
COMPETITORS = ("argn", "ctgan", "tvae")  # other libraries' models: no synthgen overrides, no --tag
FAMILIES = ("transformer", "gan", "vae", *COMPETITORS)
HOLDOUT_SHARE, SEED = 0.2, 0
DCR_REFERENCE_SPLITS = 8  # seeded slices the ceiling's DCR share averages over (dcr_reference)
MIN_SAMPLE_ROWS = 20_000  # rows sampled end to end (at least the training rows): rows/s of a 300-row
# sample would measure start-up alone; quality is scored on the first n_train rows
KEYS = {
    "shape": "fidelity.shape",
    "pairs": "fidelity.pair_trends",
    "detection": "fidelity.detection_auc",
    "dcr_share": "privacy.dcr_share",
    "copies": "privacy.exact_copies_synthetic_share",
    "copies_holdout": "privacy.exact_copies_holdout_share",
    "pii_copies": "privacy.pii_copies",
    "identifier_copies": "privacy.identifier_copies",
    "date_orderings": "fidelity.date_orderings",
    "date_ties": "fidelity.date_ties",
    "value_orderings": "fidelity.value_orderings",
    "ages": "fidelity.ages",
    "durations": "fidelity.durations",
    "spans": "fidelity.spans",
    "name_sex": "fidelity.name_sex",
    "sums": "fidelity.sums",
    "products": "fidelity.products",
    "conversions": "fidelity.conversions",
    "dependencies": "fidelity.dependencies",
    "bands": "fidelity.bands",
    "date_parts": "fidelity.date_parts",
    "nestings": "fidelity.nestings",
    "composites": "fidelity.composites",
    "exclusive_flags": "fidelity.exclusive_flags",
    "entity_sizes": "fidelity.entity_sizes",
    "entity_attributes": "fidelity.entity_attributes",
    "entity_shape": "fidelity.entity_shape",
    "entity_spans": "fidelity.entity_spans",
    "entity_order": "fidelity.entity_order",
    "entity_counter": "fidelity.entity_counter",
}


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


# ---- split ------------------------------------------------------------------------------------------
def split(table: str) -> dict:
    """Write <WORK>/<table>/{train,holdout}.parquet once (seeded); return the table's info."""
    from synthgen.modalities import holdout_split

    d = WORK / table
    info_path = d / "info.json"
    if info_path.exists():
        return json.loads(info_path.read_text())
    df, target, covers = TABLES[table]()
    if table in ENTITIES:  # whole entities on each side, as synthgen's own split holds them
        import pyarrow as pa

        from synthgen.entities import holdout_entities

        hold, keep = holdout_entities(
            pa.Table.from_pandas(df, preserve_index=False), ENTITIES[table], HOLDOUT_SHARE, SEED
        )
    else:
        hold, keep = holdout_split(len(df), HOLDOUT_SHARE, SEED)
    d.mkdir(parents=True, exist_ok=True)
    df.iloc[keep].reset_index(drop=True).to_parquet(d / "train.parquet", index=False)
    df.iloc[hold].reset_index(drop=True).to_parquet(d / "holdout.parquet", index=False)
    info = {
        "rows": len(df),
        "columns": df.shape[1],
        "target": target,
        "covers": covers,
        "train_rows": len(keep),
        "holdout_rows": len(hold),
    }
    info_path.write_text(json.dumps(info))
    return info


# ---- workers (child processes) ---------------------------------------------------------------------
def worker(
    table: str, family: str, tag: str = "", extra: tuple = (), argn_minutes: float | None = None, seed: int = SEED
) -> None:
    """Train `family` on the table's train split, sample end to end into Parquet; write timings."""
    d, info = WORK / table, json.loads((WORK / table / "info.json").read_text())
    out = d / f"{family}{tag}"
    n_sample = max(info["train_rows"], MIN_SAMPLE_ROWS)
    preload(family)  # before any clock starts, as --startup times it
    if family == "argn":
        res = run_argn(d, out, info, n_sample, argn_minutes, seed)
    elif family in ("ctgan", "tvae"):
        res = run_sdv(d, out, family, n_sample)
    else:
        res = run_synthgen(d, out, family, info, n_sample, list(extra))
    (d / f"{family}{tag}.json").write_text(json.dumps(res))


def preload(family: str) -> None:
    """What a worker imports before its training clock starts: torch and the library's entry point
    (`--startup` times this). Each library imports more on first use, inside the clock (synthgen:
    Lightning and MLflow, when pipeline.train runs)."""
    import torch  # noqa: F401

    if family == "argn":
        from mostlyai.engine import TabularARGN  # noqa: F401
    elif family in ("ctgan", "tvae"):
        from sdv.single_table import CTGANSynthesizer, TVAESynthesizer  # noqa: F401
    else:
        from synthgen import pipeline  # noqa: F401
        from synthgen.paths import RunPaths  # noqa: F401


def run_synthgen(d: Path, out: Path, family: str, info: dict, n_sample: int, extra: list) -> dict:
    import torch

    from synthgen import pipeline
    from synthgen.paths import RunPaths

    cfg = synthgen_config(d, out, family, info, n_sample, extra)  # before the clock, as --startup times it
    t0 = time.perf_counter()
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    pipeline.train(cfg)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline.generate(cfg)  # end to end: model load, sampling, decoding, Parquet shards, manifest, MLflow
    sample_s = time.perf_counter() - t0
    paths = RunPaths.from_config(cfg)
    tags = _train_tags(cfg, paths)
    return {
        "train_s": round(train_s, 1),
        "sample_s": round(sample_s, 2),
        "sample_rows": n_sample,
        "synthetic": str(paths.synthetic),
        "threads": torch.get_num_threads(),
        **tags,
    }


def _train_tags(cfg, paths) -> dict:
    """The sizing rule's plan for this table (what pipeline.train used for the `auto` keys)."""
    from synthgen.modalities import handler_for, training_spec

    handler = handler_for(cfg, paths)
    return {"sizing": training_spec(cfg, handler.table_size(handler.load_encoder()))[2]}


def synthgen_config(d: Path, out: Path, family: str, info: dict, n_sample: int, extra: list):
    """The run's Hydra config: the family's defaults on the table's split, outputs under `out`."""
    from synthgen.config import load_config

    base = [
        f"model={family}",
        "data=file",
        f"data.path={d / 'train.parquet'}",
        f"data.holdout_path={d / 'holdout.parquet'}",
        f"data.name=suite_{d.name}",
        f"data.target={info['target']}" if info["target"] else "data.target=null",
        "data.sensitive=[]",
        f"paths.out_dir={out}",
        f"paths.mlflow_dir={WORK / 'mlruns'}",
        "trainer.enable_progress_bar=false",
        "evaluate.gate.enabled=false",
        f"generate.n_rows={n_sample}",
        *([f"data.entity={ENTITIES[d.name]}"] if d.name in ENTITIES else []),
        *extra,
    ]
    return load_config(base)


def competitor_result(out: Path, train_s: float, sample_s: float, n_sample: int) -> dict:
    """What a competitor's worker reports: its timings and where its synthetic Parquet lies."""
    import torch

    return {
        "train_s": round(train_s, 1),
        "sample_s": round(sample_s, 2),
        "sample_rows": n_sample,
        "synthetic": str(out / "synthetic"),
        "threads": torch.get_num_threads(),
    }


def run_argn(d: Path, out: Path, info: dict, n_sample: int, max_minutes: float | None = None, seed: int = SEED) -> dict:
    """TabularARGN with its defaults and random_state `seed`; `max_minutes` (--argn-max-minutes) caps its
    training time where its default (10 days, 100 epochs) does not fit the machine, and is then recorded
    with the row."""
    import shutil

    from mostlyai.engine import TabularARGN

    train = pd.read_parquet(d / "train.parquet")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    t0 = time.perf_counter()
    limits = {"max_training_time": max_minutes} if max_minutes else {}
    model = TabularARGN(device="cpu", random_state=seed, workspace_dir=str(out / "workspace"), **limits)
    model.fit(train)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = model.sample(n_samples=n_sample, device="cpu")
    (out / "synthetic").mkdir()
    syn.to_parquet(out / "synthetic" / "part-0.parquet", index=False)
    sample_s = time.perf_counter() - t0
    return {
        **competitor_result(out, train_s, sample_s, n_sample),
        **({"max_training_minutes": max_minutes} if max_minutes else {}),
    }


def sdv_metadata(train: pd.DataFrame, name: str):
    """SDV's own detection (SDV 2.x Metadata), except that a column it takes for an id but synthgen's
    schema models (gapminder's `pop`, a population count, becomes its primary key and would be
    generated as fresh unique values) is modelled as a number or category, so both sides model the
    same columns. Columns synthgen treats as identifiers or personal data keep SDV's reading."""
    import pyarrow as pa
    from sdv.metadata import Metadata

    from synthgen.schema import MODELLED_KINDS, infer_schema

    meta = Metadata.detect_from_dataframes({name: train})
    kinds = infer_schema(pa.Table.from_pandas(train, preserve_index=False)).kinds()
    table = meta.to_dict()["tables"][name]
    for col, spec in table["columns"].items():
        if spec["sdtype"] == "id" and kinds.get(col) in MODELLED_KINDS:
            if table.get("primary_key") == col:
                meta.remove_primary_key(name)
            numeric = pd.api.types.is_numeric_dtype(train[col])
            meta.update_column(col, name, sdtype="numerical" if numeric else "categorical")
    return meta


def run_sdv(d: Path, out: Path, family: str, n_sample: int) -> dict:
    """SDV's CTGANSynthesizer or TVAESynthesizer with its defaults (300 epochs, batch 500); the train
    time includes metadata detection and SDV's preprocessing, as TabularARGN's fit does."""
    import shutil

    from sdv.single_table import CTGANSynthesizer, TVAESynthesizer

    train = pd.read_parquet(d / "train.parquet")
    shutil.rmtree(out, ignore_errors=True)
    (out / "synthetic").mkdir(parents=True)
    t0 = time.perf_counter()
    cls = CTGANSynthesizer if family == "ctgan" else TVAESynthesizer
    synth = cls(sdv_metadata(train, d.name), enable_gpu=False)
    synth.fit({d.name: train})  # SDV 2.x: fit takes {table name: frame}, sample may return one
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = synth.sample(num_rows=n_sample)
    syn = syn[d.name] if isinstance(syn, dict) else syn
    syn.to_parquet(out / "synthetic" / "part-0.parquet", index=False)
    sample_s = time.perf_counter() - t0
    return competitor_result(out, train_s, sample_s, n_sample)


def time_sampling(table: str, family: str, extra: tuple = ()) -> float:
    """Seconds to sample the table's n rows end to end from the model an earlier run trained. Each
    model samples twice in this child process and the second call is timed: a training run samples
    after its imports, MLflow store and predict setup are warm (a cold first call spends ~12 s in
    importing MLflow alone). Ours: pipeline.generate, which rewrites the same bytes (one seed);
    TabularARGN: the engine's generate from its workspace, read back and written to Parquet as
    run_argn does, into a scratch folder that is then removed."""
    import shutil

    d, info = WORK / table, json.loads((WORK / table / "info.json").read_text())
    # `family` is the row's name: its model family, then any tag (transformer_s1, argn_s2)
    out, n_sample, kind = d / family, max(info["train_rows"], MIN_SAMPLE_ROWS), family.split("_")[0]
    if kind == "argn":
        from mostlyai.engine import generate

        ws, scratch = out / "workspace", d / ".resample"

        def once() -> None:
            shutil.rmtree(scratch, ignore_errors=True)
            scratch.mkdir()
            generate(sample_size=n_sample, device="cpu", workspace_dir=ws)
            pd.read_parquet(ws / "SyntheticData").to_parquet(scratch / "part-0.parquet", index=False)

    else:
        from synthgen import pipeline

        cfg = synthgen_config(d, out, kind, info, n_sample, list(extra))

        def once() -> None:
            pipeline.generate(cfg)

    once()
    t0 = time.perf_counter()
    once()
    seconds = time.perf_counter() - t0
    if kind == "argn":
        shutil.rmtree(scratch)
    return seconds


# library -> a family of it (suite_report.LIBRARY_OF: the competitors' families -> their library)
STARTUP_LIBRARIES = {"synthgen": "transformer", **{lib: family for family, lib in LIBRARY_OF.items()}}


def startup_seconds(library: str) -> float:
    """Seconds a worker of `library` spends before its training clock starts, in this (fresh) process
    after the suite's own imports: preload(), and for synthgen composing the run's config."""
    family = STARTUP_LIBRARIES[library]
    t0 = time.perf_counter()
    preload(family)
    if library == "synthgen":
        from synthgen.config import load_config

        load_config([f"model={family}", "data=file", "data.path=train.parquet", "data.target=target"])
    return time.perf_counter() - t0


def startup(repeats: int) -> int:
    """Time each installed library's start-up (startup_seconds) in fresh processes, the libraries
    alternating `repeats` times; the medians go to results/suite_startup.json. A worker's `train s`
    starts after this, so a fresh process takes start-up + train s to a trained model."""
    import importlib.util
    import statistics

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    spec = {"synthgen": "synthgen", "argn": "mostlyai.engine", "sdv": "sdv"}
    libraries = [lib for lib in STARTUP_LIBRARIES if importlib.util.find_spec(spec[lib].split(".")[0])]
    seconds, loads = {lib: [] for lib in libraries}, {lib: [] for lib in libraries}
    for _ in range(repeats):
        for lib in libraries:
            loads[lib].append(load_avg())
            proc = subprocess.run(
                [sys.executable, __file__, "--startup-worker", lib], env=env, capture_output=True, text=True
            )
            if proc.returncode != 0:
                raise SystemExit(f"{lib}: start-up failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
            seconds[lib].append(round(float(proc.stdout.strip().splitlines()[-1]), 2))
    out = {
        lib: {
            "median_s": round(statistics.median(seconds[lib]), 2),
            "seconds": seconds[lib],
            "load": loads[lib],
            "measured_at": _now(),
        }
        for lib in libraries
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "suite_startup.json").write_text(json.dumps(out, indent=1))
    for lib, row in out.items():
        print(lib, row["median_s"], "s", row["seconds"], "load", row["load"], flush=True)
    if (RESULTS / "suite.json").exists():  # suite.md again, with the start-up figures
        write_markdown(json.loads((RESULTS / "suite.json").read_text()))
    return 0


def resample(tables: list[str], families: list[str], repeats: int) -> int:
    """Time sampling again for models trained earlier, the families alternating `repeats` times in
    fresh child processes on the same machine; each row's sample rows/s becomes the median, with the
    load averages seen. Quality figures and files stay those of the run."""
    import statistics

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    results = json.loads((RESULTS / "suite.json").read_text())
    for table in tables:
        models = results.get(table, {}).get("models", {})
        names = [f for f in families if f in models and (WORK / table / f).exists() and "not_run" not in models[f]]
        if not names:
            continue
        n = max(results[table]["info"]["train_rows"], MIN_SAMPLE_ROWS)
        seconds, loads = {f: [] for f in names}, {f: [] for f in names}
        for _ in range(repeats):
            for f in names:
                loads[f].append(load_avg())
                cmd = [sys.executable, __file__, "--sample-worker", table, f, "--extra", models[f].get("overrides", "")]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"{table} {f}: sampling failed: {(proc.stderr or proc.stdout).strip()[-300:]}")
                seconds[f].append(float(proc.stdout.strip().splitlines()[-1]))
        with _locked() as current:
            for f in names:
                row = current[table]["models"][f]
                row["sample_rows_per_s"] = round(n / statistics.median(seconds[f]))
                row["sample_seconds"] = [round(x, 2) for x in seconds[f]]
                row["sample_load"] = loads[f]
                row["resampled_at"] = _now()
                print(table, f, row["sample_rows_per_s"], "rows/s", row["sample_seconds"], "load", loads[f], flush=True)
    return 0


# ---- scoring ----------------------------------------------------------------------------------------
def _split_of(table: str, info: dict):
    """The table's split (train, holdout), the schema inferred from train and the evaluation config."""
    import pyarrow as pa

    from synthgen.evaluate import EvalConfig
    from synthgen.schema import infer_schema

    d = WORK / table
    train, holdout = pd.read_parquet(d / "train.parquet"), pd.read_parquet(d / "holdout.parquet")
    schema = infer_schema(pa.Table.from_pandas(train, preserve_index=False), entity=ENTITIES.get(table, "none"))
    config = EvalConfig(
        target=info["target"],
        seed=SEED,
        identifying=schema.identifying_groups(),
        entity=(schema.entity or {}).get("column"),  # DCR train samples of whole entities, as the holdout
    )
    return train, holdout, schema, config


def score(table: str, info: dict, synthetic: pd.DataFrame) -> dict:
    from synthgen.evaluate import evaluate_tables
    from synthgen.evaluate.privacy import dcr_metrics
    from synthgen.evaluate.tabular import prepare_tables

    train, holdout, schema, config = _split_of(table, info)
    kinds = schema.kinds()
    synthetic = synthetic[[c for c in train.columns if c in synthetic.columns]]
    for c in train.columns:  # the same dtypes as the real table (e.g. ARGN's datetimes)
        if c in synthetic and str(synthetic[c].dtype) != str(train[c].dtype):
            try:
                synthetic[c] = synthetic[c].astype(train[c].dtype)
            except (TypeError, ValueError):
                pass
    r = evaluate_tables(train, holdout, synthetic.iloc[: len(train)].reset_index(drop=True), kinds, config)
    row = {k: r.get(v) for k, v in KEYS.items()}
    if len(synthetic) > len(train):
        # The DCR share over every sampled row (at least 20,000; evaluate takes up to 25,000 queries),
        # not only the first len(train): each row's nearer-train-or-holdout call is a coin flip, and on
        # penguins' 275 rows the share moved from 0.538 to 0.502 between two samples of one model.
        p = prepare_tables(train, holdout, synthetic.reset_index(drop=True), kinds, config)
        row["dcr_share_train_sized"] = row["dcr_share"]
        row["dcr_share"] = dcr_metrics(
            p.train, p.holdout, p.synthetic, p.kinds, p.scored, config.seed, config.dcr_max_rows, config.entity
        )["privacy.dcr_share"]
    if "utility.roc_auc_ratio" in r:
        row.update(
            utility="roc_auc_ratio",
            tstr=r["utility.roc_auc_ratio"],
            tstr_synthetic=r["utility.synthetic.roc_auc"],
            tstr_real=r["utility.real.roc_auc"],
        )
    elif "utility.synthetic.r2" in r:
        row.update(utility="r2", tstr=r["utility.synthetic.r2"], tstr_real=r["utility.real.r2"])
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}


def ceiling(table: str, info: dict) -> dict:
    """The real holdout scored as if it were the synthetic table (its TSTR is the real one's); its DCR
    share is dcr_reference's (the holdout against itself would give 0)."""
    row = score(table, info, pd.read_parquet(WORK / table / "holdout.parquet"))
    if row.get("utility") == "roc_auc_ratio":
        row["tstr"], row["tstr_synthetic"] = 1.0, row["tstr_real"]
    elif row.get("utility") == "r2":
        row["tstr"] = row["tstr_real"]
    row.update(dcr_reference(table, info))
    return row


def dcr_reference(table: str, info: dict, splits: int = DCR_REFERENCE_SPLITS) -> dict:
    """The DCR share of real rows the reference never saw: a holdout-sized slice of the training rows
    scored as if synthetic against the rest (train) and the holdout, over `splits` seeded slices.

    The share's ideal is 0.5 only on average over splits: on one split the geometry of a few hundred
    rows moves it (penguins: 0.475, sd 0.025 over slices). A model that does not memorise lands near
    this reference, so a model's share reads against it, not against 0.5."""
    from synthgen.evaluate.privacy import dcr_metrics, whole_entities
    from synthgen.evaluate.tabular import prepare_tables

    train, holdout, schema, config = _split_of(table, info)
    kinds = schema.kinds()
    k = min(len(holdout), len(train) // 2, config.dcr_max_rows)
    shares = []
    for s in range(splits):
        if config.entity:  # an entity table's unseen rows are whole entities, as its holdout's are
            shuffled = whole_entities(train, config.entity, SEED + s)
        else:
            shuffled = train.iloc[np.random.default_rng(SEED + s).permutation(len(train))]
        rest, unseen = (part.reset_index(drop=True) for part in (shuffled.iloc[k:], shuffled.iloc[:k]))
        p = prepare_tables(rest, holdout, unseen, kinds, config)
        m = dcr_metrics(
            p.train, p.holdout, p.synthetic, p.kinds, p.scored, config.seed, config.dcr_max_rows, config.entity
        )
        shares.append(m["privacy.dcr_share"])
    return {"dcr_share": round(float(np.mean(shares)), 4), "dcr_share_sd": round(float(np.std(shares)), 4)}


# ---- driver -----------------------------------------------------------------------------------------
def run_one(
    table: str,
    family: str,
    info: dict,
    timeout: int,
    tag: str = "",
    extra: str = "",
    argn_minutes: float | None = None,
    seed: int = SEED,
) -> dict:
    result = WORK / table / f"{family}{tag}.json"
    result.unlink(missing_ok=True)
    load = load_avg()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", table, family, "--tag", tag, "--extra", extra, "--seed", str(seed)]
            + (["--argn-max-minutes", str(argn_minutes)] if argn_minutes else []),
            env=env,
            timeout=timeout,
            capture_output=True,
            text=True,
        )
    except subprocess.TimeoutExpired:
        return {"not_run": f"over the {timeout} s limit", "load_average_at_start": load}
    if proc.returncode != 0 or not result.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"not_run": f"failed: {tail[0][:300]}", "load_average_at_start": load}
    res = json.loads(result.read_text())
    syn = pd.read_parquet(res.pop("synthetic"))
    row = {
        "train_s": res["train_s"],
        "sample_rows_per_s": round(res["sample_rows"] / res["sample_s"]),
        **score(table, info, syn),
        "threads": res["threads"],
        "load_average_at_start": load,
    }
    for key in ("sizing", "max_training_minutes"):
        if key in res:
            row[key] = res[key]
    return row


def write_markdown(results: dict) -> None:
    from suite_report import render

    startup = RESULTS / "suite_startup.json"
    (RESULTS / "suite.md").write_text(render(results, json.loads(startup.read_text()) if startup.exists() else None))


def split_overrides(extra: str) -> tuple:
    """'a=1,b=[2,3]' -> ('a=1', 'b=[2,3]'): a comma inside brackets belongs to a list value."""
    out, depth, cur = [], 0, ""
    for ch in extra:
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            out, cur = [*out, cur], ""
        else:
            cur += ch
    return tuple(e for e in [*out, cur] if e)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per model and table before it counts as not run")
    ap.add_argument("--extra", default="", help="comma-separated overrides for the synthgen families")
    ap.add_argument("--tag", default="", help="suffix of the result rows (side-by-side settings, with --extra)")
    ap.add_argument(
        "--argn-max-minutes",
        type=float,
        help="cap TabularARGN's training time (its default, 10 days and 100 epochs, does not fit 2 cores on flights)",
    )
    ap.add_argument(
        "--seed",
        type=int,
        help="model seed: synthgen's `seed=N` and TabularARGN's random_state (rows named <family>_sN; same split)",
    )
    ap.add_argument(
        "--startup",
        type=int,
        metavar="REPEATS",
        help="time each library's imports before its worker's clock starts, in fresh processes, REPEATS times",
    )
    ap.add_argument("--worker", nargs=2, metavar=("TABLE", "FAMILY"), help=argparse.SUPPRESS)
    ap.add_argument(
        "--rescore",
        action="store_true",
        help="score the synthetic files of earlier runs again with the current evaluation",
    )
    ap.add_argument("--ceilings", action="store_true", help="with --rescore: the ceiling rows alone")
    ap.add_argument(
        "--resample",
        type=int,
        metavar="REPEATS",
        help="time sampling again for models trained earlier, the families alternating REPEATS times",
    )
    ap.add_argument("--sample-worker", nargs=2, metavar=("TABLE", "FAMILY"), help=argparse.SUPPRESS)
    ap.add_argument("--startup-worker", metavar="LIBRARY", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    seed = SEED if args.seed is None else args.seed
    if args.startup_worker:
        print(startup_seconds(args.startup_worker))
        return 0
    if args.sample_worker:
        print(time_sampling(*args.sample_worker, split_overrides(args.extra)))
        return 0
    if args.resample:
        return resample(
            [t for t in args.tables.split(",") if t], [f for f in args.families.split(",") if f], args.resample
        )
    if args.rescore:
        return rescore([t for t in args.tables.split(",") if t], models=not args.ceilings)
    if args.startup:
        return startup(args.startup)
    if args.worker:
        worker(*args.worker, args.tag, split_overrides(args.extra), args.argn_max_minutes, seed)
        return 0
    tables = [t for t in args.tables.split(",") if t]
    families = [f for f in args.families.split(",") if f]
    unknown = [t for t in tables if t not in TABLES] + [f for f in families if f not in FAMILIES]
    if unknown:
        print(
            f"unknown table or family: {unknown}; tables: {list(TABLES)}, families: {list(FAMILIES)}", file=sys.stderr
        )
        return 2
    if args.seed is not None and {"ctgan", "tvae"} & set(families):
        print("--seed: SDV's models take no seed here; run ctgan and tvae without it", file=sys.stderr)
        return 2
    seed_tag = "" if args.seed is None else f"_s{args.seed}"
    seed_extra = "" if args.seed is None else f"seed={args.seed}"
    for table in tables:
        try:
            info = split(table)
        except ImportError as e:
            print(f"{table}: not run, loader needs {e.name} (pip install -e '.[bench]')", file=sys.stderr)
            continue
        entry = {"info": info}
        entry["ceiling"] = ceiling(table, info)
        for family in families:
            ours = family not in COMPETITORS
            tag = (args.tag if ours else "") + seed_tag
            extra = ",".join(filter(None, [args.extra, seed_extra])) if ours else ""
            name = f"{family}{tag}"
            row = run_one(table, family, info, args.timeout, tag, extra, args.argn_max_minutes, seed)
            row["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            if extra:
                row["overrides"] = extra
            if family == "argn":
                row["random_state"] = seed
            entry.setdefault("models", {})[name] = row
            print(table, name, {k: v for k, v in row.items() if k != "sizing"}, flush=True)
            save(table, entry, name, row)
    return 0


def rescore(tables: list[str], models: bool = True) -> int:
    """Score each model's synthetic file (still under WORK) again with the current evaluation; its
    train and sampling figures stay those of its run. Rows whose file is gone are left as they are.
    models=False: the ceiling rows alone. Each table's new figures are merged in under the suite's
    lock, as a run's rows are."""
    out = RESULTS / "suite.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    for table in tables:
        entry, d = results.get(table), WORK / table
        if not entry or not (d / "info.json").exists():
            continue
        info = json.loads((d / "info.json").read_text())
        scored = {"ceiling": ceiling(table, info)}
        for name, row in entry.get("models", {}).items() if models else ():
            files = d / name / "synthetic"
            if "not_run" in row or not files.exists():
                continue
            scored[name] = {**score(table, info, pd.read_parquet(files)), "rescored_at": _now()}
            print(table, name, {k: scored[name].get(k) for k in ("shape", "pairs", "tstr", "detection")}, flush=True)
        with _locked() as current:
            merged = current.setdefault(table, {})
            merged["ceiling"] = scored.pop("ceiling")
            for name, row in scored.items():
                merged.setdefault("models", {}).setdefault(name, {}).update(row)
    return 0


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())


@contextlib.contextmanager
def _locked():
    """suite.json's contents under an exclusive lock (parts of the suite may run side by side);
    what the caller changes in them is written back, with suite.md, when the block ends."""
    import fcntl

    RESULTS.mkdir(parents=True, exist_ok=True)
    WORK.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "suite.json"
    with open(WORK / ".suite.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = json.loads(out.read_text()) if out.exists() else {}
        yield results
        out.write_text(json.dumps(results, indent=1))
        write_markdown(results)


def save(table: str, entry: dict, name: str, row: dict) -> dict:
    """Merge one row into suite.json under the suite's lock."""
    with _locked() as results:
        merged = results.setdefault(table, {})
        merged.pop("not_run", None)
        merged.update({k: v for k, v in entry.items() if k != "models"})
        merged.setdefault("models", {})[name] = row
    return results


if __name__ == "__main__":
    sys.exit(main())
