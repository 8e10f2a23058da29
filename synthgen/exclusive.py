"""One-hot flags: 0/1 number columns of which no real row sets two, modelled as one column.

Real tables code a category as dummies beside a baseline: race x sex as `black_male`, `white_male`,
`black_female` with white female when none is set (lifelines' kidney_transplant), health as
`hlthg`, `hlthf`, `hlthp` (statsmodels' randhie). Modelled as separate columns, a synthetic row may
set two (a patient both black and white: 1.2 % of the transformer's kidney_transplant rows, 8.3 %
of TabularARGN's), which no analysis of the data expects. The encoder models such a group as one
categorical token column, its levels "none" and each flag (schema `exclusive`; encoders/tabular.py:
the group's first flag carries the token, the others have none), and the decoder writes every flag
of the group from it, so at most one is set in every synthetic row; the evaluation reports the
synthetic share of rows that keep that (`fidelity.exclusive.<first flag>`, evaluate/exclusive_flags.py).

Found from the real rows alone (`groups`): flags are integer, continuous or Arrow boolean columns
(pandas' `get_dummies` writes booleans) without nulls whose values are 0 and 1 (both seen), each set
in at least MIN_SET rows. Two flags are exclusive
when no real row has both at 1. Groups are built greedily, the most often set flag first: a flag
joins the first group all of whose members it is exclusive with. Chance alone leaves rare flags
apart on a small table (two flags set on 5 % of 700 rows meet in no row with probability e^-1.75 =
17 %), so a member stays only if, were it independent of the others, some row would be expected to
set it with one of them (rows x its share x the others' shares summed, MIN_EXPECTED or more: e^-7 <
0.001 of being apart by chance); a group keeps at least two members. The schema (`find`) leaves out
flags another rule reads or writes (a band, a lookup, a total's part) and is not used under DP (its
schema lists no groups). Conditioning on a flag means setting it: `condition.black_male=1`.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

MIN_SET = 5  # real rows a flag is set in, at least
MIN_EXPECTED = 7.0  # rows expected to set a member with another one, were it independent of them
NONE = 0  # the group column's code for a row that sets no flag; flag i (0-based) is code i + 1


def groups(flags: dict[str, np.ndarray], n_rows: int) -> list[list[str]]:
    """{column: bool [rows] (set)} -> groups of columns no row sets two of, most often set first."""
    share = {c: float(v.sum()) / max(n_rows, 1) for c, v in flags.items() if v.sum() >= MIN_SET}
    out: list[list[str]] = []
    for c in sorted(share, key=lambda c: -share[c]):
        for g in out:
            if all(not np.any(flags[c] & flags[m]) for m in g):
                g.append(c)
                break
        else:
            out.append([c])
    kept = []
    for g in out:
        while True:  # a member left out weakens the evidence of the others: prune until none goes
            members = [c for c in g if n_rows * share[c] * sum(share[m] for m in g if m != c) >= MIN_EXPECTED]
            if members == g:
                break
            g = members
        if len(g) >= 2:
            kept.append(g)
    return kept


def flag_values(arr: pa.ChunkedArray) -> np.ndarray | None:
    """A number or boolean column as bool [rows] (set), or None unless it holds no nulls and both 0
    and 1 (False and True)."""
    if arr.null_count:
        return None
    v = arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if not len(v) or v.min() != 0 or v.max() != 1 or not bool(np.all((v == 0) | (v == 1))):
        return None
    return v == 1


def find(table: pa.Table, kinds: dict[str, str], excluded: set[str]) -> list[dict]:
    """The schema's groups: {"columns": [flag, ...] (most often set first), "counts": [rows setting
    none, rows setting each flag]} over integer / continuous / boolean columns not in `excluded`."""
    flags = {}
    for name, kind in kinds.items():
        if kind in ("integer", "continuous", "boolean") and name not in excluded:
            v = flag_values(table.column(name))
            if v is not None:
                flags[name] = v
    found = []
    for g in groups(flags, len(table)):
        counts = [int(flags[c].sum()) for c in g]
        found.append({"columns": g, "counts": [len(table) - sum(counts), *counts]})
    return found


def codes(table: pa.Table, group: dict) -> pa.ChunkedArray:
    """The group's column: each row's code (NONE, or 1 + the position of its set flag), int64. A row
    setting two flags (rows the schema was not found on) takes the first of them."""
    code = np.full(len(table), NONE, dtype=np.int64)
    for i, name in reversed(list(enumerate(group["columns"]))):
        v = table.column(name).to_numpy(zero_copy_only=False)
        code = np.where(np.asarray(v == 1), i + 1, code)
    return pa.chunked_array([pa.array(code, pa.int64())])


def level_order(group: dict) -> tuple[list[int], list[int]]:
    """The group column's levels (codes, most rows first) and their rows: the categories and
    frequencies of its CategoryCodec. "None" is a level even where the rows the schema was found on
    (a streamed table's sample) all set a flag, so any row of the table encodes."""
    counts = group["counts"]
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], c))
    return order, [counts[c] for c in order]


def written(group: dict, code: np.ndarray) -> dict[str, np.ndarray]:
    """Codes [n] -> each flag's values [n] (float 0 / 1)."""
    return {name: (code == i + 1).astype(np.float64) for i, name in enumerate(group["columns"])}
