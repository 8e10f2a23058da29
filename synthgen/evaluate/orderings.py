"""Orderings between date columns: for each pair whose order holds in (nearly) every real row
(A <= B, or A == B), the share of synthetic rows that keep it.

Keys: `fidelity.date_order.<A>.<B>` (the synthetic share keeping "A <= B"; "A == B" pairs as
`fidelity.date_equal.<A>.<B>`), and `fidelity.date_orderings` (the lowest of them; 1 is ideal).
Rows where either date is missing do not count.

Date ties: for each ordered pair whose dates are equal in some but not most real rows (5-95 % of
those with both set: a follow-up without a recurrence records the recurrence date as its last
day), `fidelity.date_tie.<A>.<B>` is 1 - the total variation distance between the real and the
synthetic rows' joint distribution of "A == B" and each category, flag or integer code of at most
10 levels (the worst column; the tie alone if the table has none), and `fidelity.date_ties` the lowest. Ties drawn
apart from the flag that decides them (the censoring) score low though their share be right.

Number orderings (schema.ordered_pairs: B >= A in (nearly) every real row, and not merely because
of the two columns' scales, e.g. a day's high and low): `fidelity.value_order.<A>.<B>`, the
synthetic share of rows (both set) keeping "A <= B", and `fidelity.value_orderings` the lowest.

Ages (synthgen/ages.py): for each integer column that is the whole years between two dates in
(nearly) every real row, `fidelity.age.<column>` is the synthetic share of rows (all three set)
that agree, and `fidelity.ages` the lowest of them.

Spans (synthgen/durations.py): for each integer column that is the days between two date columns
in (nearly) every real row, `fidelity.span.<column>.<derived date>` is the synthetic share of rows
(all three set) that agree, and `fidelity.spans` the lowest of them.

Durations (synthgen/durations.py): for each integer column that counts the days from a date to an
event or to one fixed day, `fidelity.duration.<column>` is the synthetic share of rows (both set)
that end on or before that day, and `fidelity.durations` the lowest of them.

Totals (synthgen/sums.py): for each number column that is the sum of others in (nearly) every real
row, `fidelity.sum.<column>` is the synthetic share of rows (all set) that add up, and
`fidelity.sums` the lowest of them.

Products (synthgen/products.py): for each number column that is the product of two others in (nearly)
every real row, `fidelity.product.<column>` is the synthetic share of rows (all three set) whose
product equals its factors', and `fidelity.products` the lowest of them.

Conversions (synthgen/conversions.py): for each number column that is a monotone function of another
in (nearly) every real row, `fidelity.conversion.<column>` is the synthetic share of rows (both set)
that keep the real function, and `fidelity.conversions` the lowest of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.ages import calendar_age, find_age_relations
from synthgen.conversions import rows_converting
from synthgen.durations import find_durations, find_spans
from synthgen.evaluate.columns import key_part, numbers
from synthgen.products import product_rows
from synthgen.schema import RELATION_MIN_ROWS, RELATION_MIN_SHARE, ordered_pairs
from synthgen.sums import rows_adding_up

# a real ordering: holds in at least this share of the >= _MIN_ROWS real rows with both dates (the
# rule by which prepare ties date columns, so every pair scored here is one the encoder keeps)
REAL_MIN, _MIN_ROWS = RELATION_MIN_SHARE, RELATION_MIN_ROWS


def _shares(a: np.ndarray, b: np.ndarray) -> tuple[float, float, int]:
    both = ~np.isnan(a) & ~np.isnan(b)
    k = int(both.sum())
    if not k:
        return np.nan, np.nan, 0
    return float((a[both] <= b[both]).mean()), float((a[both] == b[both]).mean()), k


def date_orderings(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    cols = [c for c, k in kinds.items() if k == "datetime" and c in real.columns and c in syn.columns]
    vr = {c: numbers(real[c], "datetime") for c in cols}
    vs = {c: numbers(syn[c], "datetime") for c in cols}
    out, kept = {}, []
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            le, eq, k = _shares(vr[a], vr[b])
            if k < _MIN_ROWS:
                continue
            ge, _, _ = _shares(vr[b], vr[a])
            if eq >= REAL_MIN:
                share = _shares(vs[a], vs[b])[1]
                out[f"fidelity.date_equal.{key_part(a)}.{key_part(b)}"] = share
            elif le >= REAL_MIN:
                share = _shares(vs[a], vs[b])[0]
                out[f"fidelity.date_order.{key_part(a)}.{key_part(b)}"] = share
            elif ge >= REAL_MIN:
                share = _shares(vs[b], vs[a])[0]
                out[f"fidelity.date_order.{key_part(b)}.{key_part(a)}"] = share
            else:
                continue
            if share == share:
                kept.append(share)
    if kept:
        out["fidelity.date_orderings"] = float(min(kept))
    return out


TIE_MIN, TIE_MAX = 0.05, 0.95  # the real tie share of a pair date_ties scores
# the columns a tie is paired with: categories, flags and integer codes of at most this many levels
# (more cells, and two samples of a few hundred rows differ by chance: the real holdout's own score falls)
_TIE_MAX_LEVELS = 10


def date_ties(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    dates = [c for c, k in kinds.items() if k == "datetime" and c in real.columns and c in syn.columns]
    flags = [
        c
        for c, k in kinds.items()
        if k in ("categorical", "boolean", "integer")
        and c in real.columns
        and c in syn.columns
        and real[c].nunique() <= _TIE_MAX_LEVELS
    ]
    vr = {c: numbers(real[c], "datetime") for c in dates}
    vs = {c: numbers(syn[c], "datetime") for c in dates}
    out = {}
    for i, a in enumerate(dates):
        for b in dates[i + 1 :]:
            le, eq, k = _shares(vr[a], vr[b])
            ge = _shares(vr[b], vr[a])[0]
            if k < _MIN_ROWS or max(le, ge) < REAL_MIN or not TIE_MIN <= eq <= TIE_MAX:
                continue
            scores = [_tie_fit(real, syn, vr[a], vr[b], vs[a], vs[b], c) for c in flags or [None]]
            if not np.isnan(scores).all():
                out[f"fidelity.date_tie.{key_part(a)}.{key_part(b)}"] = float(np.nanmin(scores))
    return _with_worst(out, "fidelity.date_ties")


def _tie_fit(real, syn, ra, rb, sa, sb, flag: str | None) -> float:
    """1 - TV distance of (a == b, the flag's level) between the real and the synthetic rows that
    have both dates; NaN where no synthetic row has."""

    def shares(df: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> pd.Series:
        both = ~np.isnan(a) & ~np.isnan(b)
        level = df[flag].astype("string").fillna("<null>").to_numpy()[both] if flag else ""
        return pd.DataFrame({"tie": a[both] == b[both], "level": level}).value_counts(normalize=True)

    p, q = shares(real, ra, rb), shares(syn, sa, sb)
    return float(1 - 0.5 * p.sub(q, fill_value=0).abs().sum()) if len(q) else np.nan


def value_orderings(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    cols = [c for c, k in kinds.items() if k in ("continuous", "integer") and c in real.columns and c in syn.columns]
    pairs = ordered_pairs({c: numbers(real[c], kinds[c]) for c in cols})
    vs = {c: numbers(syn[c], kinds[c]) for c in {c for pair in pairs for c in pair}}  # each column once
    out = {f"fidelity.value_order.{key_part(a)}.{key_part(b)}": _shares(vs[a], vs[b])[0] for a, b in pairs}
    kept = [v for v in out.values() if v == v]
    if kept:
        out["fidelity.value_orderings"] = float(min(kept))
    return out


_NS_PER_DAY = 86_400 * 10**9


def _days_and_ints(df: pd.DataFrame, dates: list[str], ints: list[str]):
    d, i = {}, {}
    for c in dates:
        v = numbers(df[c], "datetime")
        null = np.isnan(v)
        d[c] = (np.floor_divide(np.where(null, 0, v), _NS_PER_DAY).astype(np.int64), null)
    for c in ints:
        v = numbers(df[c], "integer")
        null = np.isnan(v) | (np.abs(np.where(np.isnan(v), 0, v)) > 2**53)
        i[c] = (np.where(null, 0, v).astype(np.int64), null)
    return d, i


class _DayTables:
    """Dates (int64 days) and integer columns of the real and the synthetic table, read once for
    the ages, spans and durations scores; the real table's relations found as prepare finds them
    (an age's count is never a span, an age's or a span's never a duration)."""

    def __init__(self, real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]):
        both = [c for c in kinds if c in real.columns and c in syn.columns]
        self.dates = [c for c in both if kinds[c] == "datetime"]
        self.ints = [c for c in both if kinds[c] == "integer"]
        self.usable = bool(self.dates and self.ints)
        if not self.usable:
            return
        self.rd, self.ri = _days_and_ints(real, self.dates, self.ints)
        self.sd, self.si = _days_and_ints(syn, self.dates, self.ints)
        self.n = len(syn)
        self.ages = find_age_relations(self.rd, self.ri)
        taken = {a["column"] for a in self.ages}
        self.spans = find_spans(self.rd, self.ri, skip=taken) if len(self.dates) > 1 else []
        self.durations = find_durations(self.rd, self.ri, skip=taken | {sp["column"] for sp in self.spans})


def _with_worst(out: dict[str, float], key: str) -> dict[str, float]:
    if out:
        out[key] = float(min(out.values()))
    return out


def _ages(t: _DayTables) -> dict[str, float]:
    out = {}
    for age in t.ages:
        n, n_null = t.si[age["column"]]
        born, born_null = t.sd[age["born"]]
        if age["at"]:
            at, at_null = t.sd[age["at"]]
        else:
            at, at_null = np.full(t.n, age["day"], dtype=np.int64), np.zeros(t.n, bool)
        ok = ~n_null & ~born_null & ~at_null
        if ok.any():
            out[f"fidelity.age.{key_part(age['column'])}"] = float((calendar_age(born[ok], at[ok]) == n[ok]).mean())
    return _with_worst(out, "fidelity.ages")


def _spans(t: _DayTables) -> dict[str, float]:
    out = {}
    for sp in t.spans:
        (n, n_null), (a, a_null), (b, b_null) = t.si[sp["column"]], t.sd[sp["start"]], t.sd[sp["end"]]
        ok = ~n_null & ~a_null & ~b_null
        if ok.any():
            key = f"fidelity.span.{key_part(sp['column'])}.{key_part(sp['derived'])}"
            out[key] = float((b[ok] - a[ok] == n[ok]).mean())
    return _with_worst(out, "fidelity.spans")


def _durations(t: _DayTables) -> dict[str, float]:
    out = {}
    for d in t.durations:
        (n, n_null), (start, start_null) = t.si[d["column"]], t.sd[d["start"]]
        ok = ~n_null & ~start_null
        if ok.any():
            out[f"fidelity.duration.{key_part(d['column'])}"] = float((start[ok] + n[ok] <= d["day"]).mean())
    return _with_worst(out, "fidelity.durations")


def day_count_scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """Ages, spans and durations together, the tables read once (what the evaluation calls)."""
    t = _DayTables(real, syn, kinds)
    return {**_ages(t), **_spans(t), **_durations(t)} if t.usable else {}


def number_columns(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> tuple[dict, dict]:
    """The number columns both tables have, as float64 arrays (NaN for null): what synthgen/sums.py reads."""
    cols = [c for c, k in kinds.items() if k in ("continuous", "integer") and c in real and c in syn]
    return {c: numbers(real[c], kinds[c]) for c in cols}, {c: numbers(syn[c], kinds[c]) for c in cols}


def _kept(rows_by_column: dict[str, tuple[np.ndarray, np.ndarray]], key: str, worst: str) -> dict[str, float]:
    """`fidelity.<key>.<column>`: the synthetic share keeping a rule, over the rows (rows, ok masks
    per column) where its columns are set; `worst` the lowest."""
    out = {
        f"fidelity.{key}.{key_part(c)}": float(ok[rows].mean())
        for c, (rows, ok) in rows_by_column.items()
        if rows.any()
    }
    return _with_worst(out, worst)


def total_scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """Totals (synthgen/sums.py) found in the real rows: the synthetic share of rows adding up."""
    return _kept(rows_adding_up(*number_columns(real, syn, kinds)), "sum", "fidelity.sums")


def product_scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """Products (synthgen/products.py) found in the real rows: the synthetic share of rows keeping them."""
    return _kept(product_rows(*number_columns(real, syn, kinds)), "product", "fidelity.products")


def conversion_scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """Conversions (synthgen/conversions.py) found in the real rows: the synthetic share keeping them."""
    return _kept(rows_converting(*number_columns(real, syn, kinds)), "conversion", "fidelity.conversions")


def age_agreement(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    t = _DayTables(real, syn, kinds)
    return _ages(t) if t.usable else {}


def span_agreement(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    t = _DayTables(real, syn, kinds)
    return _spans(t) if t.usable else {}


def duration_bounds(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    t = _DayTables(real, syn, kinds)
    return _durations(t) if t.usable else {}
