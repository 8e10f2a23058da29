"""benchmarks/results/suite.md from suite.json: one table per data set, one row per model."""

from __future__ import annotations

import re

from suite_targets import scoreboard

COLS = [
    ("train s", "train_s"),
    ("sample rows/s", "sample_rows_per_s"),
    ("shape", "shape"),
    ("pair trends", "pairs"),
    ("TSTR", "tstr"),
    ("detection AUC", "detection"),
    ("DCR share", "dcr_share"),
    ("copies", "copies"),
    ("load", "load_average_at_start"),
]
# Shown for tables where some model has them (personal data, dates): rows with a real person's data,
# training identifiers reused, the worst real date (number) ordering kept, the worst date tie kept with
# its flags (synthgen/evaluate/orderings.py), ages agreeing with their dates,
# durations within their end day, day counts agreeing with their two dates, fake first names agreeing
# with the sex column (synthgen/name_sex.py; the ceiling row: the holdout's own), totals equal to their
# parts (synthgen/sums.py), products equal to their factors' (synthgen/products.py), rows keeping a
# column's conversion from another (synthgen/conversions.py),
# rows keeping a column's lookup by its key (synthgen/dependencies.py), rows whose band is their number's
# (synthgen/bands.py), rows whose date parts are their date's (synthgen/date_parts.py), the worst share of rows whose
# (level, group) pair is real (synthgen/nesting.py), the worst share of rows whose text agrees with
# the parts it is written from (synthgen/composites.py), the
# rows-per-entity fit, the entities keeping their attributes, their row order and counter (synthgen/entities.py).
EXTRA = [
    ("pii copies", "pii_copies"),
    ("id copies", "identifier_copies"),
    ("date orderings", "date_orderings"),
    ("date ties", "date_ties"),
    ("number orderings", "value_orderings"),
    ("ages", "ages"),
    ("durations", "durations"),
    ("spans", "spans"),
    ("first names by sex", "name_sex"),
    ("totals", "sums"),
    ("products", "products"),
    ("conversions", "conversions"),
    ("lookups", "dependencies"),
    ("bands", "bands"),
    ("date parts", "date_parts"),
    ("nested pairs", "nestings"),
    ("composed text", "composites"),
    ("rows per entity", "entity_sizes"),
    ("entity attributes", "entity_attributes"),
    ("entity mix", "entity_shape"),
    ("entity date spans", "entity_spans"),
    ("entity order", "entity_order"),
    ("entity counter", "entity_counter"),
]


def cell(v) -> str:
    """A table cell: blank for None, 3 decimals below 10, else 1."""
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


LIBRARY_OF = {"argn": "argn", "ctgan": "sdv", "tvae": "sdv"}  # row name's family -> startup key; else synthgen


def _fresh_seconds(name: str, row: dict, startup: dict):
    """train s plus the median start-up of the row's library (suite_startup.json): the time from a
    fresh Python with pandas loaded to a trained model."""
    lib = LIBRARY_OF.get(name.split("_")[0], "synthgen")
    if "train_s" not in row or lib not in startup:
        return None
    return round(row["train_s"] + startup[lib]["median_s"], 1)


def render(results: dict, startup: dict | None = None) -> str:
    startup = startup or {}
    lines = [
        "# Public-table suite",
        "",
        "Written by `benchmarks/suite.py` (see its docstring). Each table: one seeded 80/20 split; every",
        "model with its defaults, trained in its own child process on the same machine, scored by",
        "synthgen's evaluation. TSTR: ROC AUC ratio (synthetic-trained / real-trained, on the holdout) for",
        "a classification target, R^2 on the holdout for a regression target. `ceiling`: the real holdout",
        "scored as if it were synthetic. `copies`: share of synthetic rows equal to a training row (the",
        "ceiling row's figure is the holdout's own share). The ceiling's DCR share is that of real rows",
        "no model saw: a holdout-sized slice of the training rows against the rest and the holdout, the",
        "mean of 8 seeded slices (`dcr_share_sd` in suite.json); a model that does not memorise lands",
        "near it, which on a few hundred rows is not 0.5. `load`: 1-minute load average when the model",
        "started (2 cores, shared with other work). train s: read + encode + train (TabularARGN: fit).",
        "sample rows/s: end to end into Parquet, max(training rows, 20,000) rows; where suite.json has",
        "`resampled_at`, the median of `suite.py --resample` (the models sampling again side by side,",
        "alternating, in one run; `sample_seconds` and `sample_load` hold each try).",
        "",
    ]
    if startup:
        lines += [
            "Start-up (`suite.py --startup`, fresh processes, median): what a worker imports before its",
            "train clock starts (torch and the library's entry point; synthgen also composes its config).",
            "Each library imports more on first use inside the clock (synthgen: Lightning and MLflow).",
            "`fresh s` = start-up + train s: from a fresh Python (pandas loaded) to a trained model.",
            "",
            "| library | start-up s | tries | load | measured |",
            "|---|---|---|---|---|",
            *(
                f"| {lib} | {r['median_s']:.2f} | {', '.join(f'{x:.2f}' for x in r['seconds'])} | "
                f"{', '.join(f'{x:.2f}' for x in r['load'])} | {r['measured_at']} |"
                for lib, r in startup.items()
            ),
            "",
        ]
    lines += scoreboard(results)
    not_run = []
    for table, entry in results.items():
        if "not_run" in entry:
            not_run.append(f"- {table}: {entry['not_run']}")
            continue
        info = entry.get("info", {})
        util = entry.get("ceiling", {}).get("utility", "")
        lines += [
            f"## {table}",
            "",
            f"{info.get('covers', '')}; {info.get('train_rows')} train / {info.get('holdout_rows')} holdout rows, "
            f"{info.get('columns')} columns, target `{info.get('target')}` (TSTR: {util or 'none'}).",
            "",
        ]
        rows = {"ceiling (real holdout)": entry.get("ceiling", {}), **entry.get("models", {})}
        rows = {n: ({**r, "fresh_s": _fresh_seconds(n, r, startup)} if startup else r) for n, r in rows.items()}
        cols = (COLS[:1] + [("fresh s", "fresh_s")] + COLS[1:]) if startup else COLS
        cols = cols + [(c, k) for c, k in EXTRA if any(r.get(k) not in (None, 0) for r in rows.values())]
        defaults = {n: r for n, r in rows.items() if not is_experiment(n)}
        experiments = {n: r for n, r in rows.items() if is_experiment(n)}
        lines += _table(table, defaults, cols, not_run)
        if experiments:
            lines += [
                "Experiments (`--tag`, with the overrides each ran with; README and benchmarks/*.md say what",
                "each measured):",
                "",
                *_table(table, experiments, [*cols, ("overrides", "overrides")], not_run),
            ]
    if not_run:
        lines += ["## Not run", "", *not_run, ""]
    return "\n".join(lines)


def is_experiment(name: str) -> bool:
    """A row that is not a family's defaults: a tag other than a seed's (`transformer_l1_s0`, not
    `transformer_s1`)."""
    family, _, tag = name.partition("_")
    return bool(tag) and re.fullmatch(r"s\d+", tag) is None


def _table(table: str, rows: dict, cols: list, not_run: list) -> list[str]:
    lines = ["| model | " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for name, row in rows.items():
        if "not_run" in row:
            not_run.append(f"- {table} / {name}: {row['not_run']}")
            continue
        capped = f" (training capped at {row['max_training_minutes']:g} min)" if row.get("max_training_minutes") else ""
        lines.append(f"| {name}{capped} | " + " | ".join(cell(row.get(k)) for _, k in cols) + " |")
    return [*lines, ""]
