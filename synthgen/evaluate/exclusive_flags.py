"""One-hot flags: 0/1 columns of which a real row never sets two, and the synthetic rows that keep that.

Real tables code a category as dummies beside a baseline (synthgen/exclusive.py); a synthetic row
may set two of them (a patient both black and white), which no analysis expects. synthgen's schema
keeps such a group exclusive (its `exclusive` rule); this score checks any generator's rows.

Found from the real rows alone (`exclusive_groups`), as synthgen/exclusive.py finds them (its
`groups`), over every integer, boolean or continuous column whose values are 0 and 1 (a null is not
set; the schema's rule takes numbers without nulls only).

Keys: `fidelity.exclusive.<first flag>` (the synthetic share of rows, every flag of the group set
to a value, that set at most one of them; 1 is ideal, the real rows' 1 by construction) and
`fidelity.exclusive_flags` (the lowest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.evaluate.columns import key_part, numbers
from synthgen.exclusive import groups

FLAG_KINDS = ("integer", "boolean", "continuous")


def _flag_values(s: pd.Series, kind: str) -> np.ndarray | None:
    """The column as float 0 / 1 / NaN, or None when its values are not exactly {0, 1}."""
    v = numbers(s, kind)
    w = v[~np.isnan(v)]
    return v if len(w) and w.min() == 0 and w.max() == 1 and bool(np.all((w == 0) | (w == 1))) else None


def exclusive_groups(real: pd.DataFrame, kinds: dict[str, str]) -> list[list[str]]:
    """Groups of 0/1 columns no real row sets two of, most often set flag first in each."""
    flags = {}  # column -> bool [rows]: set (a null is not set)
    for c, k in kinds.items():
        if k in FLAG_KINDS and c in real.columns:
            v = _flag_values(real[c], k)
            if v is not None:
                flags[c] = v == 1
    return groups(flags, len(real))


def scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    out = {}
    for g in exclusive_groups(real, kinds):
        if not all(c in syn.columns for c in g):
            continue
        v = np.column_stack([numbers(syn[c], kinds[c]) for c in g])
        rows = ~np.isnan(v).any(axis=1)
        if rows.any():
            out[f"fidelity.exclusive.{key_part(g[0])}"] = float(np.mean((v[rows] == 1).sum(axis=1) <= 1))
    if out:
        out["fidelity.exclusive_flags"] = min(out.values())
    return out
