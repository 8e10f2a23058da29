"""One-hot flags: 0/1 columns of which a real row never sets two, and the synthetic rows that keep that.

Real tables code a category as dummies beside a baseline: race x sex as `black_male`, `white_male`,
`black_female` with white female when none is set (lifelines' kidney_transplant), health as
`hlthg`, `hlthf`, `hlthp` (statsmodels' randhie). A real row sets at most one of them; modelled as
separate columns, a synthetic row may set two (a patient both black and white), which no analysis
expects. No schema rule keeps such a group exclusive yet; this score shows how often it breaks.

Found from the real rows alone (`exclusive_groups`): flags are integer, boolean or continuous
columns whose values are 0 and 1 (both seen), each set in at least MIN_SET rows. Two flags are
exclusive when no real row (both set to a value) has both at 1. Groups are built greedily, the
most often set flag first: a flag joins the first group all of whose members it is exclusive with.
Chance alone leaves rare flags apart on a small table (two flags set on 5 % of 700 rows meet in no
row with probability e^-1.75 = 17 %), so a member stays only if, were it independent of the
others, some row would be expected to set it with one of them (rows x its share x the others'
shares summed, MIN_EXPECTED or more: e^-7 < 0.001 of being apart by chance); a group keeps at
least two members.

Keys: `fidelity.exclusive.<first flag>` (the synthetic share of rows, every flag of the group set
to a value, that set at most one of them; 1 is ideal, the real rows' 1 by construction) and
`fidelity.exclusive_flags` (the lowest).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.evaluate.columns import key_part, numbers

FLAG_KINDS = ("integer", "boolean", "continuous")
MIN_SET = 5  # real rows a flag is set in, at least
MIN_EXPECTED = 7.0  # rows expected to set a member with another one, were it independent of them


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
            if v is not None and np.nansum(v) >= MIN_SET:
                flags[c] = v == 1
    share = {c: float(v.sum()) / len(real) for c, v in flags.items()}
    order = sorted(flags, key=lambda c: -share[c])
    groups: list[list[str]] = []
    for c in order:
        for g in groups:
            if all(not np.any(flags[c] & flags[m]) for m in g):
                g.append(c)
                break
        else:
            groups.append([c])
    n = len(real)
    kept = []
    for g in groups:
        while True:  # a member left out weakens the evidence of the others: prune until none goes
            members = [c for c in g if n * share[c] * sum(share[m] for m in g if m != c) >= MIN_EXPECTED]
            if members == g:
                break
            g = members
        if len(g) >= 2:
            kept.append(g)
    return kept


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
