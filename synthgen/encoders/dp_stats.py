"""The encoder's data-dependent state under differential privacy (privacy.epsilon set).

Everything encoder.json says about the real rows comes from a DP mechanism or from the user:
- row count: Laplace noise (used for the default number of generated rows);
- categorical columns: a stability histogram (Laplace noise on the observed levels' counts; a
  level is listed only when its noisy count reaches the threshold 1 + ln(1 / (2 delta_c)) / eps_c,
  Korolova et al. 2009 / Bun, Nissim, Stemmer 2016), so a level that few rows hold is never
  listed; the levels below it share one "rare" token that decodes to "<other>" (string columns)
  or the most frequent listed level (other types). Declared `data.columns.<col>.categories` are
  public: listed as given, no budget spent. Boolean columns have a public domain;
- numeric and datetime columns: a noisy histogram on a data-independent grid: first a
  log-spaced grid over +-1e19 for the range (unless `data.columns.<col>.bounds: [lo, hi]` is
  declared; the live cells are widened by one cell on each side, so a tail whose cell fell short
  of the threshold is not cut off), then a value grid inside the range whose cell count follows
  the noise: about n x eps / 6 cells (within [8, 512]), so an average cell holds ~6 noise scales
  of rows (one cell per integer when that many cover the range), and 0 gets a cell of its own
  (counts and amounts pile up there). Cells whose noisy count is below 2 noise scales count as
  empty. The codec (exact-value tokens, quantile bin edges, within-bin knots, min/max) is then
  fitted to values drawn from that histogram by inverse CDF: post-processing, no further budget.
  Real values outside the range are clipped into it.
- every modelled column gets a null token (whether a column has nulls is itself data).
Budget: (epsilon, delta) * privacy.encoder_share, split evenly over the mechanisms (basic
composition; each row adds 1 to one cell of each histogram, so each has sensitivity 1 under
add/remove-one-row neighbours). delta is spent only by the stability histograms.
Not covered, stated in the report: identifier columns' key format (e.g. numbering after the
largest real key) and datetime resolution/time zone are read from the data as before.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen import seeding
from synthgen.codecs import TIME_OF_DAY_BOUNDS
from synthgen.encoders.columns import CategoryCodec, NumericCodec, _scale_of, _units
from synthgen.encoders.name_templates import counter_format
from synthgen.encoders.tabular import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.schema import NUMERIC_KINDS, ColumnSchema, TableSchema, is_string_type, plain_values

OTHER = "<other>"  # the merged level of string columns under DP
_PSEUDO_ROWS = 20_000  # values drawn from each numeric histogram to fit its codec
_FINE_CELLS = 512  # most cells of the value grid
_MIN_CELLS = 8
_ROWS_PER_CELL = 6.0  # noise scales (1 / eps) of rows an average value cell holds
_EMPTY_BELOW = 2.0  # noise scales: a value cell with a lower noisy count counts as empty
_FALSE_CELL = 0.01  # chance that some empty cell of the range grid passes the range threshold
# Log-spaced range grid: 0, +-10^(k/4) for k = -24 .. 76 (1e-6 .. 1e19, int64 nanoseconds fit)
_POS = 10.0 ** (np.arange(-24, 77) / 4)
_RANGE_EDGES = np.concatenate([-_POS[::-1], [0.0], _POS])


def threshold(eps: float, delta: float) -> float:
    """Noisy count a level needs to be listed (stability histogram, Laplace(1/eps) noise)."""
    return 1.0 + math.log(1.0 / (2.0 * delta)) / eps


def fit_dp_encoder(
    table: pa.Table,
    schema: TableSchema,
    settings: dict,
    columns_cfg: dict | None,
    pcfg,
    seed: int,
    avoid: pa.Table | None = None,
) -> TabularEncoder:
    """A TabularEncoder whose saved state is DP in the rows of `table` (plus what the user declared
    public), spending pcfg.encoder_share of pcfg's budget. `settings`: the encoder.* config.
    settings.privacy in the state records the budget and the spend (privacy/training.py reads it)."""
    columns_cfg = columns_cfg or {}
    delta_total = pcfg.total_delta(len(table))
    epsilon, delta = pcfg.epsilon * pcfg.encoder_share, delta_total * pcfg.encoder_share
    # The plain fit validates settings and learns the identifier formats; its codecs are discarded.
    # every flag its own column: a one-hot group's counts are real rows' (synthgen/exclusive.py)
    schema = replace(schema, exclusive=[])
    base = TabularEncoder.fit(table, schema, **settings, avoid=avoid)  # avoid: the holdout's keys too
    rng = seeding.numpy_rng(seeding.DP_ENCODER, seed)
    native = schema.to_native(table)  # codec columns (dates, numbers, yes/no written as text) parsed
    types = {f.name: f.type for f in native.schema}
    modelled = [c for c in schema.columns if c.name in base.codecs]
    public = {c.name for c in modelled if _is_public_categorical(c, types[c.name], columns_cfg.get(c.name))}
    spending = [c for c in modelled if c.name not in public]
    eps_c = epsilon / (len(spending) + 1)  # + 1: the row count
    n_stab = sum(1 for c in spending if c.kind not in NUMERIC_KINDS)
    delta_c = delta / n_stab if n_stab else 0.0
    n_noisy = max(1, int(round(len(table) + rng.laplace(0, 1 / eps_c))))

    cols, codecs, report = [], {}, {}
    for col in schema.columns:
        if col.name not in base.codecs:
            cols.append(col)
            continue
        arr, typ, declared = native.column(col.name), types[col.name], dict(columns_cfg.get(col.name) or {})
        if col.kind in NUMERIC_KINDS:
            bounds = declared.get("bounds")
            if bounds is None and (col.codec or {}).get("time_only"):
                bounds = TIME_OF_DAY_BOUNDS  # a time of day lies within its day: no budget for the range
            new, codec, info = _numeric(col, typ, arr, bounds, eps_c, settings["n_bins"], n_noisy, rng)
        else:
            new, n_kept, info = _categorical(
                col,
                typ,
                arr,
                declared.get("categories"),
                col.name in public,
                eps_c,
                delta_c,
                n_noisy,
                settings["max_categories"],
                rng,
            )
            codec = CategoryCodec(new, typ, True, n_kept)
        cols.append(new)
        codecs[col.name] = codec
        report[col.name] = info
    _warn_unlisted(report, pcfg.epsilon, len(table), eps_c)
    _warn_noise_only(report, pcfg.epsilon, len(table), eps_c)
    dp_schema = TableSchema(columns=cols, n_rows=n_noisy, arrow_schema_b64=schema.arrow_schema_b64)
    for name, codec in codecs.items():  # the codecs must point at the schema's columns
        codec.col = dp_schema.column(name)
    spent_delta = delta_c * n_stab
    privacy = {
        "epsilon_total": float(pcfg.epsilon),
        "delta_total": delta_total,
        "epsilon_spent": float(epsilon),
        "delta_spent": float(spent_delta),
        "epsilon_per_mechanism": eps_c,
        "row_count": "laplace",
        "columns": report,
        "not_covered": "identifier key formats, datetime resolution and time zone",
    }
    # names written in words keep the counter format: their templates count real words (name_templates.py)
    ids = {name: counter_format(fmt) for name, fmt in base.id_formats.items()}
    return TabularEncoder(dp_schema, codecs, ids, {**base.settings, "privacy": privacy})


def _warn_noise_only(report: dict, epsilon: float, rows: int, eps_c: float) -> None:
    """The number and date columns whose DP histograms held no cell above the noise: no range cell
    (the range is then the noisiest cell's, a guess that may miss the rows: N(0, 1) scores on 800
    rows at epsilon 2 came back as 316,232-318,047; lognormal incomes beside them kept their
    median), or no value cell (values spread evenly over the range). Silent before: a user saw the
    numbers only in the output."""
    lost = [name for name, info in report.items() if info.get("noise_only")]
    if lost:
        needed = min(report[name]["rows_needed"] for name in lost)
        _warn_budget(
            epsilon,
            rows,
            f"the DP histograms of {', '.join(lost)} hold no cell above the noise (a cell needs {needed:,.0f} "
            f"rows or more at {eps_c:.3g} of epsilon per column), so their range or their values are a guess "
            f"from the noise and may be far from the data's; declare their range (data.columns.<name>.bounds: "
            f"[low, high], public)",
        )


def _warn_unlisted(report: dict, epsilon: float, rows: int, eps_c: float) -> None:
    """The text columns of which no level could be listed (all '<other>')."""
    empty = [name for name, info in report.items() if info.get("listed") == 0]
    if empty:
        tau = max(report[name]["threshold"] for name in empty)
        _warn_budget(
            epsilon,
            rows,
            f"no level of {', '.join(empty)} is frequent enough to list (about {tau:,.0f} rows at {eps_c:.3g} "
            f"of epsilon per column), so they come back as '{OTHER}'; declare their levels "
            f"(data.columns.<name>.categories, public)",
        )


def _warn_budget(epsilon: float, rows: int, what: str) -> None:
    """One warning that the budget is too small for what some columns need (what: the columns,
    what became of them and what to declare instead)."""
    warnings.warn(
        f"privacy.epsilon={epsilon:g} on {rows:,} training rows: {what} or raise privacy.epsilon",
        UserWarning,
        stacklevel=4,
    )


# ---- categorical ---------------------------------------------------------------------------------
def _is_public_categorical(col: ColumnSchema, typ: pa.DataType, declared) -> bool:
    if col.kind in NUMERIC_KINDS:
        return False
    if declared and declared.get("categories") is not None:
        return True
    return col.kind == "boolean" and pa.types.is_boolean(_value_type(typ))


def _value_type(typ: pa.DataType) -> pa.DataType:
    return typ.value_type if pa.types.is_dictionary(typ) else typ


def _categorical(col, typ, arr, declared, public, eps, delta, n_noisy, max_categories, rng):
    """(DP column schema, number of listed levels, report). The levels list ends with one rare slot."""
    vt = _value_type(typ)
    stringy = is_string_type(vt) or pa.types.is_large_string(vt)
    if public:
        levels = list(declared) if declared is not None else [True, False]
        _check_declared(col, vt, levels)
        freqs = [1] * len(levels)
        info = {
            "mechanism": "public categories" if declared is not None else "public boolean domain",
            "epsilon": 0.0,
            "listed": len(levels),
        }
    else:
        counts = pc.value_counts(plain_values(arr).drop_null())
        values = counts.field("values").to_pylist()
        noisy = counts.field("counts").to_numpy().astype(np.float64) + rng.laplace(0, 1 / eps, len(values))
        tau = threshold(eps, delta)
        keep = np.flatnonzero(noisy >= tau)
        keep = keep[np.argsort(-noisy[keep], kind="stable")][:max_categories]
        levels = [values[i] for i in keep]
        freqs = [int(round(noisy[i])) for i in keep]
        info = {
            "mechanism": "stability histogram (Laplace)",
            "epsilon": eps,
            "delta": delta,
            "threshold": tau,
            "listed": len(levels),
        }
        if not levels and not stringy:
            raise SynthgenError(
                f"column '{col.name}': no level is frequent enough to list under "
                f"privacy.epsilon; declare data.columns.{col.name}.categories"
            )
    rare_freq = max(1, n_noisy - sum(freqs)) if not public else 1
    rare = OTHER if stringy else levels[0]  # the rare slot: what a merged level decodes to
    new = replace(
        col, categories=[*levels, rare], frequencies=[*freqs, rare_freq], null_share=0.0, n_unique=len(levels)
    )
    return new, len(levels), info


def _check_declared(col, vt, levels) -> None:
    try:
        pa.array(levels, type=vt)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        raise SynthgenError(
            f"data.columns.{col.name}.categories {levels!r} do not fit the column's type {vt}"
        ) from None
    if len(set(levels)) != len(levels) or not levels:
        raise SynthgenError(f"data.columns.{col.name}.categories must list distinct values")


# ---- numeric -------------------------------------------------------------------------------------
def _numeric(col, typ, arr, bounds, eps, n_bins, n_noisy, rng):
    """(DP column schema, codec, report) from a two-stage noisy histogram (one stage with bounds).
    n_noisy: the DP row count, which sizes the value grid."""
    # decimals would describe real values; a calendar grid is read from them like the resolution, but the
    # DP bounds below are counted in days, so DP dates stay at day resolution
    # the grid's off-grid values are real values (sentinels), so no grid either
    col = replace(col, decimals=None, null_share=0.0, n_unique=0, calendar=None, grid=None, off_grid=None)
    scale = _scale_of(col)
    u, null = _units(col, scale, arr)
    x = u[~null].astype(np.float64)
    grid_int = col.kind != "continuous"
    if bounds is not None:
        lo, hi = _declared_bounds(col, typ, bounds, scale)
        info = {"mechanism": "noisy histogram in declared bounds", "epsilon": eps, "range": "public"}
        eps_fine, guessed = eps, None
    else:
        eps_fine = eps / 2
        noisy = _noisy_counts(x, _RANGE_EDGES, eps / 2, rng)
        tau = math.log(len(noisy) / _FALSE_CELL) / (eps / 2)
        live = np.flatnonzero(noisy >= tau)
        # no range cell above the noise: the range is the noisiest cell's (a cell needed tau rows)
        guessed = tau if not len(live) else None
        if guessed:
            live = np.array([int(np.argmax(noisy))])
        first, last = max(live[0] - 1, 0), min(live[-1] + 1, len(noisy) - 1)  # one cell more each side
        lo, hi = _RANGE_EDGES[first], _RANGE_EDGES[last + 1]
        info = {"mechanism": "noisy histograms (range, then values)", "epsilon": eps, "range": "dp"}
    if grid_int:
        lo, hi = math.ceil(lo), math.floor(hi)
        if hi < lo:
            hi = lo
    edges = _value_grid(lo, hi, grid_int, int(np.clip(n_noisy * eps_fine / _ROWS_PER_CELL, _MIN_CELLS, _FINE_CELLS)))
    counts = _noisy_counts(np.clip(x, lo, hi), edges, eps_fine, rng)
    counts[counts < _EMPTY_BELOW / eps_fine] = 0.0  # noise in empty cells
    lost = guessed  # the rows a cell needed to stand above the noise, where none did
    if counts.sum() <= 0:  # no value cell above the noise: uniform over the range
        counts[:], lost = 1.0, lost or _EMPTY_BELOW / eps_fine
    values = _inverse_cdf(counts, edges, _PSEUDO_ROWS)
    if grid_int:
        values = np.clip(np.floor(values), lo, hi).astype(np.int64)
    elif 0.0 in edges[:-1]:  # the zero cell decodes to 0 itself, not to a spread next to it
        zero = np.flatnonzero(edges == 0.0)[0]
        values[(values >= 0.0) & (values < edges[zero + 1])] = 0.0
    vmin, vmax = values.min(), values.max()
    new = replace(col, min=_schema_value(col, vmin, scale), max=_schema_value(col, vmax, scale))
    codec = NumericCodec.fit_units(new, typ, np.sort(values), True, n_bins)
    info.update({"cells": len(counts), "noise_only": lost is not None})
    if lost is not None:
        info["rows_needed"] = float(lost)
    return new, codec, info


def _value_grid(lo: float, hi: float, grid_int: bool, cells: int) -> np.ndarray:
    """Edges of the value histogram over [lo, hi]: one cell per integer when `cells` of them cover
    an integer range, else `cells` equal cells; 0 inside the range gets a cell of its own (one
    unit wide for integers, 1e-6 of the range for real numbers)."""
    if grid_int and hi - lo + 1 <= cells:
        return np.arange(lo, hi + 2, dtype=np.float64)
    top = hi + 1 if grid_int else hi
    edges = np.linspace(lo, top, cells + 1)
    if grid_int:
        edges = np.unique(np.round(edges))
    if lo <= 0 < top:
        width = 1.0 if grid_int else (top - lo) * 1e-6
        edges = np.unique(np.concatenate([edges[(edges < 0) | (edges > width)], [0.0, width]]))
    if len(edges) < 2:
        edges = np.array([lo, lo + 1.0])
    return edges


def _schema_value(col, v, scale):
    if col.kind == "continuous":
        return float(v) / scale if scale not in (None, 1) else float(v)
    return int(v)


def _declared_bounds(col, typ, bounds, scale) -> tuple[float, float]:
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise SynthgenError(f"data.columns.{col.name}.bounds must be [low, high], not {bounds!r}")
    try:
        arr = pa.array(list(bounds))
        if col.kind == "datetime":
            arr = arr.cast(pa.timestamp("us")) if is_string_type(arr.type) else arr
        u, null = _units(col, scale, arr)
    except (pa.ArrowException, SynthgenError, TypeError, ValueError):
        raise SynthgenError(f"data.columns.{col.name}.bounds {bounds!r} are not {col.kind} values") from None
    lo, hi = float(u[0]), float(u[1])
    if null.any() or not lo <= hi:
        raise SynthgenError(f"data.columns.{col.name}.bounds {bounds!r} must be two values, low <= high")
    return lo, hi


def _noisy_counts(x: np.ndarray, edges: np.ndarray, eps: float, rng) -> np.ndarray:
    """Counts of x per cell [edges[i], edges[i+1]) (outer values in the end cells) + Laplace(1/eps)."""
    cell = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(cell, minlength=len(edges) - 1).astype(np.float64)
    return counts + rng.laplace(0, 1 / eps, len(counts))


def _inverse_cdf(counts: np.ndarray, edges: np.ndarray, n: int) -> np.ndarray:
    """n values at the (i + 0.5) / n quantiles of the histogram, uniform inside each cell."""
    counts = np.clip(counts, 0, None)
    cum = np.cumsum(counts)
    q = (np.arange(n) + 0.5) / n * cum[-1]
    cell = np.minimum(np.searchsorted(cum, q, side="right"), len(counts) - 1)
    before = cum[cell] - counts[cell]
    frac = np.where(counts[cell] > 0, (q - before) / np.where(counts[cell] > 0, counts[cell], 1), 0.0)
    left, width = edges[cell], edges[cell + 1] - edges[cell]
    return left + frac * width  # unit cells [k, k + 1): floor() gives k
