"""Orderings between date columns: for each pair whose order holds in (nearly) every real row
(A <= B, or A == B), the share of synthetic rows that keep it.

Keys: `fidelity.date_order.<A>.<B>` (the synthetic share keeping "A <= B"; "A == B" pairs as
`fidelity.date_equal.<A>.<B>`), and `fidelity.date_orderings` (the lowest of them; 1 is ideal).
Rows where either date is missing do not count.

Ages (synthgen/ages.py): for each integer column that is the whole years between two dates in
(nearly) every real row, `fidelity.age.<column>` is the synthetic share of rows (all three set)
that agree, and `fidelity.ages` the lowest of them.

Spans (synthgen/durations.py): for each integer column that is the days between two date columns
in (nearly) every real row, `fidelity.span.<column>.<derived date>` is the synthetic share of rows
(all three set) that agree, and `fidelity.spans` the lowest of them.

Durations (synthgen/durations.py): for each integer column that counts the days from a date to an
event or to one fixed day, `fidelity.duration.<column>` is the synthetic share of rows (both set)
that end on or before that day, and `fidelity.durations` the lowest of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.ages import calendar_age, find_age_relations
from synthgen.durations import find_durations, find_spans
from synthgen.evaluate.columns import key_part, numbers
from synthgen.schema import RELATION_MIN_ROWS, RELATION_MIN_SHARE

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


def age_agreement(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    dates = [c for c, k in kinds.items() if k == "datetime" and c in real.columns and c in syn.columns]
    ints = [c for c, k in kinds.items() if k == "integer" and c in real.columns and c in syn.columns]
    if len(dates) < 1 or not ints:
        return {}
    rd, ri = _days_and_ints(real, dates, ints)
    sd, si = _days_and_ints(syn, dates, ints)
    out = {}
    for age in find_age_relations(rd, ri):
        n, n_null = si[age["column"]]
        born, born_null = sd[age["born"]]
        if age["at"]:
            at, at_null = sd[age["at"]]
        else:
            at, at_null = np.full(len(syn), age["day"], dtype=np.int64), np.zeros(len(syn), bool)
        ok = ~n_null & ~born_null & ~at_null
        if ok.any():
            out[f"fidelity.age.{key_part(age['column'])}"] = float((calendar_age(born[ok], at[ok]) == n[ok]).mean())
    if out:
        out["fidelity.ages"] = float(min(out.values()))
    return out


def duration_bounds(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    dates = [c for c, k in kinds.items() if k == "datetime" and c in real.columns and c in syn.columns]
    ints = [c for c, k in kinds.items() if k == "integer" and c in real.columns and c in syn.columns]
    if not dates or not ints:
        return {}
    rd, ri = _days_and_ints(real, dates, ints)
    sd, si = _days_and_ints(syn, dates, ints)
    ages = {a["column"] for a in find_age_relations(rd, ri)}
    spans = {sp["column"] for sp in find_spans(rd, ri, skip=ages)} if len(dates) > 1 else set()
    out = {}
    for d in find_durations(rd, ri, skip=ages | spans):
        n, n_null = si[d["column"]]
        start, start_null = sd[d["start"]]
        ok = ~n_null & ~start_null
        if ok.any():
            out[f"fidelity.duration.{key_part(d['column'])}"] = float((start[ok] + n[ok] <= d["day"]).mean())
    if out:
        out["fidelity.durations"] = float(min(out.values()))
    return out


def span_agreement(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    dates = [c for c, k in kinds.items() if k == "datetime" and c in real.columns and c in syn.columns]
    ints = [c for c, k in kinds.items() if k == "integer" and c in real.columns and c in syn.columns]
    if len(dates) < 2 or not ints:
        return {}
    rd, ri = _days_and_ints(real, dates, ints)
    sd, si = _days_and_ints(syn, dates, ints)
    out = {}
    for sp in find_spans(rd, ri, skip={a["column"] for a in find_age_relations(rd, ri)}):
        (n, n_null), (a, a_null), (b, b_null) = si[sp["column"]], sd[sp["start"]], sd[sp["end"]]
        ok = ~n_null & ~a_null & ~b_null
        if ok.any():
            key = f"fidelity.span.{key_part(sp['column'])}.{key_part(sp['derived'])}"
            out[key] = float((b[ok] - a[ok] == n[ok]).mean())
    if out:
        out["fidelity.spans"] = float(min(out.values()))
    return out
