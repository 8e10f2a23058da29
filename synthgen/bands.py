"""Bands: a category whose level is the interval a number column falls in.

Real tables carry a number's band beside it: an income bracket beside the income, a BMI category
beside the BMI, a grade beside the score (survey, clinical and marketing exports). Modelled on
their own, the two disagree wherever a number's draw within its bin crosses a band's boundary: a
synthetic BMI of 24.8 labelled "over". The encoder writes the band from its number's synthetic
value (schema `bands`; encoders/tabular.py), so it holds in every synthetic row where the number is
set; the evaluation reports the synthetic share of rows whose band is their number's
(`fidelity.band.<column>`, `fidelity.bands` the lowest).

Found from the real rows alone (`find_bands`): a categorical or boolean column B of 2 to MAX_LEVELS
levels bands a number column A when, with B's levels ordered by their rows' median A and A cut
between each two neighbours where the fewest rows fall on the wrong side, at least BAND_MIN_SHARE
of the >= BAND_MIN_ROWS rows with both set lie in their own level's interval, and at most
MAX_MINORITY_MISS of the at least BAND_MIN_MINORITY rows outside B's most common level lie elsewhere
(a 98 %-False flag lies "within a cut" by itself). A cut lies midway between the two real values around it. Of several
numbers for B, the one with the fewest rows out (then column order). A whole-number key of at most
dependencies.MAX_INTEGER_KEY_LEVELS values is left to the lookups (synthgen/dependencies.py), which
write any mapping, ordered or not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BAND_MIN_SHARE = 0.99  # as the other rules: data-entry slips must not hide a band that holds elsewhere
BAND_MIN_ROWS = 50  # rows with both set
MAX_LEVELS = 20  # levels of a band column
MAX_MINORITY_MISS = 0.1  # rows outside the most common level that may lie out of their interval
# rows outside the most common level: fewer, and a few far values (airports' four Pacific islands
# among 2,697 US airports, by longitude) are no evidence of a band
BAND_MIN_MINORITY = 20
SEARCH_ROWS = 2_000  # rows the screen reads (a pair it passes is then fitted on every row)


def find_bands(categories: dict[str, pd.Series], numbers: dict[str, np.ndarray]) -> list[dict]:
    """[{"column": B, "by": A, "levels": [B levels, by A], "cuts": [A values between them]}] over
    row-aligned category columns (`categories`: values, null as NaN/None) and number columns
    (`numbers`: float64, NaN for null)."""
    order = {a: np.argsort(v[:SEARCH_ROWS], kind="stable") for a, v in numbers.items()}
    out = []
    for b, values in categories.items():
        codes, levels = pd.factorize(values, use_na_sentinel=True)
        if not 2 <= len(levels) <= MAX_LEVELS:
            continue
        best = None
        for a, v in numbers.items():
            if not _screen(v[:SEARCH_ROWS], codes[:SEARCH_ROWS], order[a], len(levels)):
                continue
            fit = _fit(v, codes, len(levels))
            if fit is not None and (best is None or fit[0] < best[0]):
                best = (fit[0], a, fit[1], fit[2])
        if best is not None:
            _, a, level_order, cuts = best
            out.append(
                {
                    "column": b,
                    "by": a,
                    "levels": [_plain(levels[i]) for i in level_order],
                    "cuts": [float(c) for c in cuts],
                }
            )
    return out


def _screen(v: np.ndarray, codes: np.ndarray, order: np.ndarray, k: int) -> bool:
    """A cheap first look on the first rows: along A's order, B changes level about k - 1 times plus
    twice per row out of its interval (a row of another level between two of one level)."""
    both = ~np.isnan(v[order]) & (codes[order] >= 0)
    seq = codes[order][both]
    if len(seq) < BAND_MIN_ROWS:
        return False
    changes = int((seq[1:] != seq[:-1]).sum())
    return changes <= (k - 1) + 2 * (1 - BAND_MIN_SHARE) * len(seq) + 2


def _fit(v: np.ndarray, codes: np.ndarray, k: int) -> tuple[int, list[int], np.ndarray] | None:
    """(rows out of their interval, B's level codes ordered by A, the k - 1 cuts) or None where
    the band does not hold (module docstring)."""
    both = ~np.isnan(v) & (codes >= 0)
    a, c = v[both], codes[both]
    if len(a) < BAND_MIN_ROWS or len(np.unique(a)) <= k:  # as many values as levels: a lookup
        return None
    present = np.unique(c)
    if len(present) < 2:
        return None
    medians = np.array([np.median(a[c == level]) for level in present])
    level_order = present[np.argsort(medians, kind="stable")]
    rank = np.empty(k, dtype=np.int64)
    rank[level_order] = np.arange(len(level_order))
    r = rank[c]
    sort = np.argsort(a, kind="stable")
    a_sorted, r_sorted = a[sort], r[sort]
    # a cut may fall only between two different values: positions p where a_sorted[p-1] < a_sorted[p]
    gaps = np.flatnonzero(a_sorted[1:] > a_sorted[:-1]) + 1
    cuts = []
    for i in range(len(level_order) - 1):
        above = r_sorted > i  # rows of a level past the i-th
        # rows on the wrong side of a cut before position p: above ones before it, others after it
        wrong = np.cumsum(above)[gaps - 1] + ((~above).sum() - np.cumsum(~above)[gaps - 1])
        p = gaps[int(np.argmin(wrong))]
        cuts.append((a_sorted[p - 1] + a_sorted[p]) / 2)
    cuts = np.asarray(cuts)
    if np.any(np.diff(cuts) <= 0):
        return None
    out = int((np.searchsorted(cuts, a, side="right") != r).sum())
    minority = len(a) - np.bincount(c).max()
    if minority < BAND_MIN_MINORITY or out > (1 - BAND_MIN_SHARE) * len(a) or out > MAX_MINORITY_MISS * minority:
        return None
    return out, [int(x) for x in level_order], cuts


def band_of(band: dict, a: np.ndarray) -> np.ndarray:
    """Each value's level index into band["levels"] (the interval it falls in; NaN: the first)."""
    return np.searchsorted(np.asarray(band["cuts"]), np.nan_to_num(a, nan=-np.inf), side="right")


def scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """The evaluation's view, from the real rows alone: for each band found in the real rows,
    `fidelity.band.<column>` is the synthetic share of rows (both set) whose level is their
    number's band, and `fidelity.bands` the lowest."""
    from synthgen.dependencies import MAX_INTEGER_KEY_LEVELS
    from synthgen.evaluate.columns import key_part, numbers

    cats = {c: real[c].astype(object) for c, k in kinds.items() if k in ("categorical", "boolean") and c in syn}
    nums = {
        c: numbers(real[c], k)
        for c, k in kinds.items()
        if c in syn and (k == "continuous" or (k == "integer" and real[c].nunique() > MAX_INTEGER_KEY_LEVELS))
    }
    out = {}
    for band in find_bands(cats, nums):
        b, a = band["column"], band["by"]
        value = numbers(syn[a], kinds[a])
        rows = ~np.isnan(value) & syn[b].notna().to_numpy()
        if rows.any():
            want = pd.Series(np.asarray(band["levels"], dtype=object)[band_of(band, value[rows])]).astype(str)
            got = pd.Series(syn[b].to_numpy()[rows]).astype(str)
            out[f"fidelity.band.{key_part(b)}"] = float((got.to_numpy() == want.to_numpy()).mean())
    if out:
        out["fidelity.bands"] = min(out.values())
    return out


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
