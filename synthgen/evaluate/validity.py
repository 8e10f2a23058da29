"""Validity: counts of synthetic cells (or columns) that break rules the real table obeys.

`off_calendar`: dates of a column whose every real value is a month's (year's) first day at
midnight, that are not (schema.calendar_of_days: a monthly panel keeps month starts); and dates off
the unit every real value lies on, but for its few repeated sentinels (schema.grid_of: days at
midnight beside an open record's 9999-12-31 23:59:59), e.g. a day column's synthetic 14:03:27.
`out_of_domain`: numbers outside the real column's range, except a total (synthgen/sums.py) that
equals the sum of its parts and a product (synthgen/products.py) that equals its factors'."""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.evaluate.columns import DISCRETE, NUMERIC, numbers
from synthgen.evaluate.orderings import number_columns
from synthgen.products import product_rows
from synthgen.schema import calendar_of_days, grid_of, on_calendar, resolution_of, unit_ratio
from synthgen.sums import rows_adding_up


def _family(dtype) -> str:
    """Coarse dtype family: int64 vs Int64 or str vs string[python] are not mismatches."""
    t = pd.api.types
    if t.is_bool_dtype(dtype):
        return "bool"
    if t.is_integer_dtype(dtype):
        return "int"
    if t.is_float_dtype(dtype):
        return "float"
    if t.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "other"  # strings, categoricals, objects


_DAY_US = 86_400_000_000


def _local_days(s: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(int64 days since 1970, bool at midnight) of the set values, as local wall-clock dates; None
    when the column does not read as dates."""
    us = _local_micros(s)
    return None if us is None else (np.floor_divide(us, _DAY_US), us % _DAY_US == 0)


def _local_micros(s: pd.Series) -> np.ndarray | None:
    """int64 microseconds since 1970 of the set values, as local wall-clock time (9999-12-31 fits);
    None when the column does not read as dates."""
    d = pd.to_datetime(s, errors="coerce")
    if not pd.api.types.is_datetime64_any_dtype(d):
        return None
    d = d.dropna()
    d = d.dt.tz_localize(None) if d.dt.tz is not None else d
    return d.to_numpy().astype("datetime64[us]").astype(np.int64)


def _off_grid(real: pd.Series, syn: pd.Series) -> int:
    """Synthetic dates off the unit every real date lies on (but its sentinels, schema.grid_of)."""
    r, d = _local_micros(real), _local_micros(syn)
    if r is None or not len(r):
        return 0
    if d is None:
        return int(syn.notna().sum())
    res = resolution_of(r, "us")
    k = unit_ratio(res, "us")
    grid, off = grid_of(np.floor_divide(r, k), res)
    step = unit_ratio(grid, "us") if grid else k
    return int(((d % step != 0) & ~np.isin(d, np.asarray(off or [], dtype=np.int64) * k)).sum())


def _off_calendar(real: pd.Series, syn: pd.Series) -> int:
    """Synthetic dates off the real column's month (year) grid; 0 when the real one has none."""
    r = _local_days(real)
    calendar = calendar_of_days(r[0]) if r is not None and r[1].all() else None
    if calendar is None:
        return 0
    d = _local_days(syn)
    if d is None:
        return int(syn.notna().sum())
    days, midnight = d
    return int((~(midnight & on_calendar(days, calendar))).sum())


def validity_metrics(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, int]:
    missing = [c for c in real.columns if c not in syn.columns]
    extra = [c for c in syn.columns if c not in real.columns]
    shared = [c for c in real.columns if c in syn.columns]
    dtype_diff = [c for c in shared if _family(real[c].dtype) != _family(syn[c].dtype)]
    out = {
        "out_of_domain": 0,
        "unseen_categories": 0,
        "non_integers": 0,
        "new_nulls": 0,
        "off_calendar": 0,
        "schema_mismatches": len(missing) + len(extra) + len(dtype_diff),
    }
    # a total (synthgen/sums.py) that equals its parts lies in its domain wherever they do, also
    # above the real maximum (three candidates' high counts add up to more votes than any district had)
    columns = number_columns(real, syn, kinds)
    adds_up = {t: ok for t, (_, ok) in rows_adding_up(*columns).items()}
    adds_up |= {t: ok for t, (_, ok) in product_rows(*columns).items()}  # and a product, as its factors
    for col in (c for c in kinds if c in syn.columns):
        kind = kinds[col]
        if real[col].notna().all():
            out["new_nulls"] += int(syn[col].isna().sum())
        if kind in NUMERIC:
            vr, vs = numbers(real[col], kind), numbers(syn[col], kind)
            if np.isnan(vr).all():
                continue
            outside = (vs < np.nanmin(vr)) | (vs > np.nanmax(vr))
            out["out_of_domain"] += int((outside & ~adds_up.get(col, False)).sum())
            if kind == "datetime":
                out["off_calendar"] += _off_calendar(real[col], syn[col]) or _off_grid(real[col], syn[col])
            if kind == "integer":
                ok = ~np.isnan(vs)
                out["non_integers"] += int((vs[ok] != np.round(vs[ok])).sum())
        elif kind in DISCRETE:
            seen = pd.Index(real[col].dropna().unique())
            vals = syn[col].dropna()
            out["unseen_categories"] += int((~vals.isin(seen)).sum())
    out["total"] = sum(out.values())
    return {f"validity.{k}": v for k, v in out.items()}
