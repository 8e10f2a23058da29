"""Totals: a number column that is the sum of other number columns in (nearly) every real row.

Real tables carry their totals beside the parts: an election's `total` votes over its candidates'
(plotly's Montreal election), an invoice's gross over net and tax, a count of people over the
counts by group. Modelled on their own, the three candidates' votes and the total disagree in
most synthetic rows (the total a bin's draw, the parts three others). The encoder keeps the parts
as modelled and writes the total as their sum (schema `sums`; encoders/tabular.py), so it holds in
every synthetic row where the parts are set; the evaluation reports the synthetic share of rows
whose total equals its parts (`fidelity.sum.<column>`, `fidelity.sums` the lowest).

Found from the real rows alone (`find_sums`): for a column T, the candidate parts are the other
number columns never above it (SUM_MIN_SHARE of the rows where both are set); of their subsets of
2 or more (every subset of at most MAX_CANDIDATES candidates; beyond, up to MAX_PROGRAM_CANDIDATES,
a 0/1 program's largest subset adding up exactly on PROGRAM_ROWS rows, scipy's HiGHS: vega's
us_employment has 22 columns under `nonfarm`), the largest whose sum equals T within half a unit of
the columns' last decimal in at least SUM_MIN_SHARE of at least SUM_MIN_ROWS rows where all are set
and two parts or more are not 0 (digits' edge pixels, 0 in nearly every row, add up by themselves):
a grand total beside its subtotals is written from the finest parts. A total that is a part of
another (where its own parts do not add up to the other) is listed, and written, first.
"""

from __future__ import annotations

import numpy as np

from synthgen.schema import leans_on

SUM_MIN_SHARE = 0.99  # as the orderings: data-entry slips must not hide a total that holds elsewhere
SUM_MIN_ROWS = 20  # rows where the total and all its parts are set
MAX_CANDIDATES = 12  # parts tried per total (their subsets: at most 4,083)
MAX_PROGRAM_CANDIDATES = 100  # more candidates than MAX_CANDIDATES: a 0/1 program finds the largest subset
PROGRAM_ROWS = 200  # rows the program's equalities read
PROGRAM_SECONDS = 2.0  # the solver's limit per total
SEARCH_ROWS = 500  # rows the subset search reads (a found total is then checked on every row)
MAX_DECIMALS = 6


def decimals(v: np.ndarray) -> int:
    """The decimals the (non-NaN) values are written with, 0..MAX_DECIMALS."""
    v = v[~np.isnan(v)]
    for d in range(MAX_DECIMALS + 1):
        if np.all(np.abs(v * 10.0**d - np.round(v * 10.0**d)) < 1e-6):
            return d
    return MAX_DECIMALS


def tolerance(values: dict[str, np.ndarray], names: list[str]) -> float:
    """Half a unit of the last decimal any of `names` is written with."""
    return 0.5 * 10.0 ** -max(decimals(values[n]) for n in names)


def holds(total: np.ndarray, parts_sum: np.ndarray, tol: float) -> np.ndarray:
    """Where the total equals the parts' sum (arrays broadcast; NaN anywhere: False)."""
    return np.abs(total - parts_sum) <= tol + 1e-9 * np.abs(total)


def find_sums(values: dict[str, np.ndarray]) -> list[dict]:
    """[{"column": T, "parts": [A, B, ...]}] over number columns (`values`: float64, NaN for null,
    in the table's order), each total after the totals among its parts."""
    names = [n for n, v in values.items() if np.isfinite(v).sum() >= SUM_MIN_ROWS]
    sample = {n: values[n][:SEARCH_ROWS] for n in names}
    below = _never_above(np.stack([sample[n] for n in names], axis=1)) if names else None
    found = {}
    for j, t in enumerate(names):
        cands = [a for i, a in enumerate(names) if i != j and below[i, j]]
        if len(cands) < 2 or len(cands) > MAX_PROGRAM_CANDIDATES:
            continue
        search = _subsets_adding_up if len(cands) <= MAX_CANDIDATES else _largest_by_program
        for parts in search(sample, t, cands):  # the largest first
            if _adds_up(values, t, parts) and not any(leans_on(found, p, t) for p in parts):
                found[t] = parts
                break
    return inner_first(found, "parts")


def inner_first(found: dict[str, list[str]], key: str) -> list[dict]:
    """[{"column": T, key: found[T]}], each T after the Ts among its own parts (a subtotal before
    its grand total, a product before the product of it): the order the decoder writes them in."""
    out, done = [], set()

    def place(t: str) -> None:
        if t in done:
            return
        done.add(t)
        for p in found[t]:
            if p in found:
                place(p)
        out.append({"column": t, key: found[t]})

    for t in found:
        place(t)
    return out


def _subsets_adding_up(values: dict[str, np.ndarray], t: str, cands: list[str]) -> list[list[str]]:
    """The subsets (2 or more) of `cands` that add up to `t` on the rows given, largest first."""
    k = len(cands)
    masks = np.array([m for m in range(1 << k) if bin(m).count("1") >= 2])
    member = ((masks[None, :] >> np.arange(k)[:, None]) & 1).astype(np.float64)  # [k, subsets]
    good = _adding_up(values, t, cands, member)
    order = np.argsort(-member.sum(axis=0)[good], kind="stable")
    return [[a for j, a in enumerate(cands) if (m >> j) & 1] for m in masks[good][order]]


def _largest_by_program(values: dict[str, np.ndarray], t: str, cands: list[str]) -> list[list[str]]:
    """[the largest subset of `cands` whose sum equals `t` on the first PROGRAM_ROWS rows where all
    are set], or [] (none, or the solver's time ran out): a 0/1 program (scipy's HiGHS), for more
    candidates than the subsets can be listed for (vega's us_employment: 22 columns under `nonfarm`)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    x = np.stack([values[a] for a in cands], axis=1)
    total = values[t]
    rows = np.flatnonzero(~np.isnan(total) & ~np.isnan(x).any(axis=1))[:PROGRAM_ROWS]
    if len(rows) < SUM_MIN_ROWS:
        return []
    slack = tolerance(values, [t, *cands]) + 1e-9 * np.abs(total[rows])
    k = len(cands)
    result = milp(
        c=-np.ones(k),  # the most parts: a grand total from its finest parts
        constraints=LinearConstraint(x[rows], total[rows] - slack, total[rows] + slack),
        integrality=np.ones(k),
        bounds=Bounds(0, 1),
        options={"time_limit": PROGRAM_SECONDS},
    )
    if result.status != 0 or result.x is None:
        return []
    parts = [a for a, w in zip(cands, result.x) if w > 0.5]
    return [parts] if len(parts) >= 2 else []


def _adding_up(values: dict[str, np.ndarray], t: str, cands: list[str], member: np.ndarray) -> np.ndarray:
    """Per subset of `cands` (the columns of the 0/1 matrix `member` [k, subsets]): whether `t`
    equals its sum in SUM_MIN_SHARE of the >= SUM_MIN_ROWS rows where all are set and two parts
    or more are not 0 (a column of zeros adds up to zeros by itself). All subsets at once: their
    sums, set rows and non-zero parts are three matrix products."""
    x = np.stack([values[a] for a in cands], axis=1)  # [rows, k]
    unset = np.isnan(x)
    x = np.where(unset, 0.0, x)
    total = values[t][:, None]
    informative = ((unset.astype(np.float64) @ member) == 0) & ~np.isnan(total)
    informative &= ((x != 0).astype(np.float64) @ member) >= 2
    ok = holds(total, x @ member, tolerance(values, [t, *cands])) & informative
    n = informative.sum(axis=0)
    return (n >= SUM_MIN_ROWS) & (ok.sum(axis=0) >= SUM_MIN_SHARE * np.maximum(n, 1))


def _never_above(x: np.ndarray) -> np.ndarray:
    """[n, n] bool over the columns of x [rows, n]: column i <= column j in SUM_MIN_SHARE of the
    >= SUM_MIN_ROWS rows where both are set."""
    set_ = ~np.isnan(x)
    out = np.zeros((x.shape[1], x.shape[1]), dtype=bool)
    for j in range(x.shape[1]):  # one column at a time: [rows, n] temporaries, not [rows, n, n]
        both = set_ & set_[:, j : j + 1]
        n_both = both.sum(axis=0)
        below = ((x <= x[:, j : j + 1]) & both).sum(axis=0)
        out[:, j] = (n_both >= SUM_MIN_ROWS) & (below >= SUM_MIN_SHARE * np.maximum(n_both, 1))
    return out


def _adds_up(values: dict[str, np.ndarray], t: str, parts: list[str]) -> bool:
    """Whether the total equals its parts' sum on every row given (_adding_up, one subset)."""
    return bool(_adding_up(values, t, parts, np.ones((len(parts), 1)))[0])


def rows_adding_up(real: dict[str, np.ndarray], syn: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per total found in the real values: (the synthetic rows where it and its parts are all set,
    the synthetic rows where it equals their sum), both bool masks over `syn`'s rows."""
    out = {}
    for s in find_sums(real):
        t, parts = s["column"], s["parts"]
        if t in syn and all(p in syn for p in parts):
            cols = [syn[t], *(syn[p] for p in parts)]
            tol = tolerance(real, [t, *parts])
            out[t] = (np.all([~np.isnan(c) for c in cols], axis=0), holds(syn[t], np.sum(cols[1:], axis=0), tol))
    return out
