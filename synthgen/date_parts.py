"""Date parts: a column that is a part of a date column (its year, month, day, hour, weekday ...).

Exports carry a date's parts beside it for grouping: an order date with `order_year` and
`order_month`, a timestamp with its `hour` and `weekday`, written as numbers or as names (`Jan`,
`Monday`). Modelled on their own, the parts disagree with the date wherever its draw within a bin
crosses a month, a day or an hour: a synthetic 2013-03-30 with month 4. The encoder writes each part
from its date's synthetic value (schema `date_parts`; encoders/tabular.py), so it holds in every
synthetic row where the date is set; the evaluation reports the synthetic share of rows whose part
is their date's (`fidelity.date_part.<column>`, `fidelity.date_parts` the lowest).

Found from the real rows alone (`find_date_parts`): an integer or categorical column P is part
`part` of a date column D (in local wall-clock time, as the table writes it) when P equals that
part of D in at least PART_MIN_SHARE of the >= PART_MIN_ROWS rows where both are set, and P has two
values or more (a table of one year repeats it: no evidence). Names compare without case. Of several
dates for P, the first in column order; of several parts, the first in PARTS' order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PART_MIN_SHARE = 0.99  # as the other rules: data-entry slips must not hide a part that holds elsewhere
PART_MIN_ROWS = 50

# part -> its values for a DatetimeIndex (numbers, or lower-case names)
PARTS = {
    "year": lambda d: d.year,
    "month": lambda d: d.month,
    "day": lambda d: d.day,
    "hour": lambda d: d.hour,
    "minute": lambda d: d.minute,
    "quarter": lambda d: d.quarter,
    "weekday": lambda d: d.weekday,  # Monday 0 .. Sunday 6
    "isoweekday": lambda d: d.weekday + 1,  # Monday 1 .. Sunday 7
    "dayofyear": lambda d: d.dayofyear,
    "week": lambda d: d.isocalendar().week.to_numpy(),  # ISO week
    "month_name": lambda d: d.month_name().str.lower(),
    "month_abbr": lambda d: d.month_name().str[:3].str.lower(),
    "day_name": lambda d: d.day_name().str.lower(),
    "day_abbr": lambda d: d.day_name().str[:3].str.lower(),
}
NAMED = {"month_name", "month_abbr", "day_name", "day_abbr"}


def part_values(part: str, moments: np.ndarray) -> np.ndarray:
    """`part` of datetime64 values (NaT: NaN / None) as numbers (float64) or lower-case names (object)."""
    d = pd.DatetimeIndex(moments)
    got = PARTS[part](d)
    if part in NAMED:
        return np.asarray(pd.Index(got).astype(object).where(~d.isna(), None), dtype=object)
    return np.where(d.isna(), np.nan, np.asarray(got, dtype=np.float64))


def find_date_parts(dates: dict[str, np.ndarray], columns: dict[str, pd.Series]) -> list[dict]:
    """[{"column": P, "from": D, "part": part}] over row-aligned datetime64 columns (`dates`, NaT for
    null) and candidate part columns (`columns`: integer or categorical values, null as NaN/None)."""
    out = []
    cache: dict[tuple[str, str], np.ndarray] = {}
    for p, values in columns.items():
        if values.nunique(dropna=True) < 2:
            continue
        numeric = pd.api.types.is_numeric_dtype(values)
        v = values.to_numpy(dtype=np.float64) if numeric else values.astype("string").str.lower().to_numpy(object)
        for d, moments in dates.items():
            found = next(
                (part for part in PARTS if (part in NAMED) != numeric and _holds(v, cache, d, moments, part)), None
            )
            if found:
                out.append({"column": p, "from": d, "part": found})
                break
    return out


def _holds(v: np.ndarray, cache: dict, d: str, moments: np.ndarray, part: str) -> bool:
    if (d, part) not in cache:
        cache[d, part] = part_values(part, moments)
    want = cache[d, part]
    both = ~pd.isna(v) & ~pd.isna(want)
    n = int(both.sum())
    return n >= PART_MIN_ROWS and (v[both] == want[both]).sum() >= PART_MIN_SHARE * n


def scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """The evaluation's view, from the real rows alone: for each date part found in the real rows,
    `fidelity.date_part.<column>` is the synthetic share of rows (both set) whose part is their
    date's, and `fidelity.date_parts` the lowest."""
    from synthgen.evaluate.columns import key_part

    def moments(df):
        return {c: pd.to_datetime(df[c]).to_numpy() for c, k in kinds.items() if k == "datetime" and c in syn}

    cols = {c: real[c] for c, k in kinds.items() if k in ("integer", "categorical") and c in syn}
    found = find_date_parts(moments(real), cols)
    out = {}
    syn_moments = moments(syn) if found else {}
    for dp in found:
        p = dp["column"]
        want = part_values(dp["part"], syn_moments[dp["from"]])
        got = syn[p]
        got = got.to_numpy(np.float64) if dp["part"] not in NAMED else got.astype("string").str.lower().to_numpy(object)
        rows = ~pd.isna(got) & ~pd.isna(want)
        if rows.any():
            out[f"fidelity.date_part.{key_part(p)}"] = float((got[rows] == want[rows]).mean())
    if out:
        out["fidelity.date_parts"] = min(out.values())
    return out
