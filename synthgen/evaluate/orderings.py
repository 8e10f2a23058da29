"""Orderings between date columns: for each pair whose order holds in (nearly) every real row
(A <= B, or A == B), the share of synthetic rows that keep it.

Keys: `fidelity.date_order.<A>.<B>` (the synthetic share keeping "A <= B"; "A == B" pairs as
`fidelity.date_equal.<A>.<B>`), and `fidelity.date_orderings` (the lowest of them; 1 is ideal).
Rows where either date is missing do not count.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.evaluate.columns import key_part, numbers

REAL_MIN = 0.99  # a real ordering: holds in at least this share of the real rows with both dates
_MIN_ROWS = 10


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
        for b in cols[i + 1:]:
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
