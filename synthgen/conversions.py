"""Conversions: a number column that is a fixed, monotone function of another number column.

Real tables carry a measurement beside its conversion: a price in two currencies, a temperature in
°C and °F, a distance in km and miles, a duration in seconds and minutes, or a log transform beside
its column (statsmodels' anes96 survey: `logpopul` = log(popul + 0.1)). Modelled on their own the
two disagree in nearly every synthetic row: each is a bin's draw. The encoder keeps the key A as
modelled and writes B from A's synthetic value (schema `conversions`; encoders/tabular.py), so the
conversion holds in every synthetic row where A is set; the evaluation reports the synthetic share of
rows that keep it (`fidelity.conversion.<column>`, `fidelity.conversions` the lowest).

Found from the real rows alone (`find_conversions`): for number columns A and B, over the rows where
both are set (at least MIN_ROWS, A with at least MIN_LEVELS distinct values: fewer is a lookup,
synthgen/dependencies.py), B is a function of A when
- B is not one value in AGREEMENT of those rows (a constant "converts" from anything);
- the function, as kept, gives each row's B within half a unit of B's last decimal in at least
  AGREEMENT of those rows (data-entry slips must not hide a conversion that holds elsewhere);
- kept as a table, the values of B, one per distinct A value (its most common), never go against
  one order over A's sorted values (non-decreasing or non-increasing: rounding may tie neighbours):
  a table through every point fits any column, so its order is the evidence.
It is kept as "affine" (B = slope x A + intercept, least squares over the distinct pairs, with the
fewest significant digits that agree as well: °C -> °F is 1.8 and 32) when that holds, which is exact
for any A; else as "log" (B = slope x log(A + shift) + intercept, shift among LOG_SHIFTS); else as a
"table": B at up to MAX_POINTS of A's distinct values (all of them when fewer, else evenly spaced
in rank), interpolated linearly between them and held at the ends, when that agrees as well.
Of the pairs that convert (both ways, where they do), keys with the most distinct values win (the
finest measurement), so a chain is written from its finest column; at equal counts a formula before
a table (popul -> log(popul + 0.1), not its inverse as a table), then the narrower range (minutes
before seconds: a key's synthetic draws fall between its real values, and multiplied by 60 they
stay whole minutes, while seconds drawn between real ones and divided would not), then the table's
order. A key is never itself converted, nor a converted column a key.

A table's points are real values of A and B, as a numeric column's bin knots are
(synthgen/encoders/columns.py); under differential privacy none is found (the DP schema keeps no
relations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen import sums
from synthgen.sums import decimals

MIN_ROWS = 20  # rows where both columns are set
MIN_LEVELS = 10  # distinct key values
AGREEMENT = 0.99
MAX_POINTS = 1000  # a table's points: at most as many as a numeric column's bin knots
# log(A + shift) forms tried before a table: log(A), log1p(A), and the small offsets that keep a 0
# in the domain (anes96: log(popul + 0.1))
LOG_SHIFTS = (0.0, 1.0, 0.1, 0.01, 0.001, 0.5)
# a cheap first look: the rank correlation on the first rows (1 % of rows slipped lowers it ~0.02)
SCREEN_ROWS, SCREEN_RHO = 2000, 0.95
MAX_ABS = 1e100  # columns with larger values take no part (their fits and differences overflow)
KINDS = ("affine", "log", "table")  # a formula before a table, at equal key counts


def tolerance(y: np.ndarray) -> float:
    """Half a unit of the last decimal B's (non-NaN) values are written with (as a total's)."""
    return sums.tolerance({"b": y}, ["b"])


def convert(conversion: dict, x: np.ndarray) -> np.ndarray:
    """B's values (float64) for key values `x` (float64; NaN stays NaN)."""
    if conversion["kind"] == "affine":
        return conversion["slope"] * x + conversion["intercept"]
    if conversion["kind"] == "log":
        with np.errstate(invalid="ignore", divide="ignore"):  # a key below -shift: no value (NaN)
            return conversion["slope"] * np.log(x + conversion["shift"]) + conversion["intercept"]
    return np.interp(x, conversion["x"], conversion["y"])


def describe_conversion(cv: dict) -> str:
    """The prepare stage's log line for one conversion: what the synthetic column is written as."""
    b, a = cv["column"], cv["from"]
    c = cv.get("intercept", 0.0) + 0.0  # + 0.0: no "-0"
    plus = f"+ {c:g}" if c >= 0 else f"- {-c:g}"
    if cv["kind"] == "affine":
        how = f"{cv['slope']:g} x {a} {plus}"
    elif cv["kind"] == "log":
        how = f"{cv['slope']:g} x log({a} + {cv['shift']:g}) {plus}"
    else:
        how = f"a monotone function of {a} ({len(cv['x'])} real points, interpolated)"
    return f"'{b}' is written from '{a}' as {how}, as in every real row (schema.json: conversions)"


def find_conversions(values: dict[str, np.ndarray]) -> list[dict]:
    """[{"column": B, "from": A, "kind": "affine" | "log" | "table", ...}] over number columns
    (`values`: float64, NaN for null, in the table's order); "affine" carries slope and intercept,
    "log" also the shift, "table" the points x (increasing) and y."""
    names = [n for n, v in values.items() if np.isfinite(v).sum() >= MIN_ROWS and np.nanmax(np.abs(v)) < MAX_ABS]
    levels = {n: len(np.unique(values[n][np.isfinite(values[n])])) for n in names}
    spread = {n: float(np.nanmax(values[n]) - np.nanmin(values[n])) for n in names}
    screened = _screen(names, values)
    candidates = []  # (priority, A, B, conversion) for every pair that converts
    for i, a in enumerate(names):
        if levels[a] < MIN_LEVELS:
            continue
        for j, b in enumerate(names):
            if b != a and levels[b] >= 2 and screened[i, j]:
                conversion = _conversion(values[a], values[b])
                if conversion is not None:
                    priority = (-levels[a], KINDS.index(conversion["kind"]), spread[a], i)
                    candidates.append((priority, a, b, conversion))
    found: dict[str, dict] = {}
    keys: set[str] = set()
    for _, a, b, conversion in sorted(candidates, key=lambda c: c[0]):
        if a not in found and b not in found and b not in keys:
            found[b] = {"column": b, "from": a, **conversion}
            keys.add(a)
    return [found[b] for b in names if b in found]


def _screen(names: list[str], values: dict[str, np.ndarray]) -> np.ndarray:
    """bool [C, C]: pairs whose rank correlation on the first SCREEN_ROWS rows (where both are set)
    is near +-1, as a monotone function's is up to ties; pairs with too few such rows pass (the full
    check decides), constant ones do not. One matrix for all pairs: 150 number columns took 2.3 s
    pair by pair."""
    ranks = pd.DataFrame({n: pd.Series(values[n][:SCREEN_ROWS]).rank() for n in names})
    set_ = ranks.notna().to_numpy(dtype=np.float64)
    both = set_.T @ set_  # rows where both are set, per pair
    rho = ranks.corr(min_periods=1).to_numpy()
    with np.errstate(invalid="ignore"):
        close = np.abs(rho) >= SCREEN_RHO
    return close | (both < MIN_ROWS)


def _conversion(xa: np.ndarray, yb: np.ndarray) -> dict | None:
    both = np.isfinite(xa) & np.isfinite(yb)
    if both.sum() < MIN_ROWS:
        return None
    x, y = xa[both], yb[both]
    ux, inv = np.unique(x, return_inverse=True)
    if len(ux) < MIN_LEVELS:
        return None
    # each distinct x's most common y: rows sorted by (x, y), runs of equal pairs counted
    pairs = pd.DataFrame({"i": inv, "y": y}).value_counts(sort=True)  # most common pair first
    modal = pairs.reset_index().drop_duplicates("i").set_index("i")["y"].sort_index().to_numpy()
    if pd.Series(y).value_counts(normalize=True).iloc[0] >= AGREEMENT:
        return None  # B (nearly) constant: any key "converts" to it
    tol = tolerance(y) + 1e-9 * np.abs(y)
    for kind, shift in [("affine", 0.0), *(("log", s) for s in LOG_SHIFTS if ux[0] + s > 0)]:
        t = ux if kind == "affine" else np.log(ux + shift)
        slope, intercept = np.polyfit(t, modal, 1)
        fitted = _simplest(float(slope), float(intercept), x if kind == "affine" else np.log(x + shift), y, tol)
        if fitted is not None:
            return {"kind": kind, **({"shift": shift} if kind == "log" else {}), **fitted}
    steps = np.diff(modal)  # a table needs B's values in one order over A's (a formula is its own evidence)
    if not ((steps >= 0).all() or (steps <= 0).all()):
        return None
    keep = np.unique(np.linspace(0, len(ux) - 1, min(len(ux), MAX_POINTS)).round().astype(np.int64))
    table = {"kind": "table", "x": ux[keep].tolist(), "y": modal[keep].tolist()}
    if (np.abs(convert(table, x) - y) <= tol).mean() >= AGREEMENT:
        return table
    return None


def _simplest(slope: float, intercept: float, t: np.ndarray, y: np.ndarray, tol: np.ndarray) -> dict | None:
    """The line y = slope x t + intercept that agrees with the most rows (within `tol`), the fewest
    significant digits first: the least-squares fit itself, or its slope rounded to 1-9 significant
    digits with the median intercept rounded to y's decimals and up to 3 more. A fit on rounded
    values gives 1.79995 and 31.9994 for °C -> °F (and log(price) a slope of 1.0000005), which miss
    some roundings; 1.8 and 32 do not. None when the best agrees with fewer than AGREEMENT rows."""
    places = decimals(y)
    candidates = []
    for digits in range(1, 10):
        a = float(f"{slope:.{digits}g}")
        b = float(np.median(y - a * t))
        candidates += [(a, float(np.round(b, places + k))) for k in range(4)]
    candidates.append((slope, intercept))
    agree = [float((np.abs(a * t + b - y) <= tol).mean()) for a, b in candidates]
    best = max(agree)
    if best < AGREEMENT:
        return None
    a, b = candidates[agree.index(best)]  # the first (simplest) of the best
    return {"slope": a, "intercept": b}


def rows_converting(real: dict[str, np.ndarray], syn: dict[str, np.ndarray]) -> dict[str, tuple]:
    """Per conversion found in the real values: (the synthetic rows where both columns are set, the
    synthetic rows where B equals the real conversion of A), bool masks over `syn`'s rows."""
    out = {}
    for cv in find_conversions(real):
        b, a = cv["column"], cv["from"]
        if a in syn and b in syn:
            both = ~np.isnan(syn[a]) & ~np.isnan(syn[b])
            want = convert(cv, syn[a])
            tol = tolerance(real[b]) + 1e-9 * np.abs(want)
            out[b] = (both, both & (np.abs(syn[b] - want) <= tol))
    return out
