"""Column shapes and column-pair trends, as defined by SDMetrics' QualityReport, vectorised.

Deliberate differences from SDMetrics 0.32 (see tests/test_sdmetrics_crosscheck.py):
- TVComplement counts null as a category (SDMetrics drops nulls), so a generator that gets
  the missing-value rate wrong is penalised.
- ContingencySimilarity bins numbers into 10 quantile bins of the REAL column (SDMetrics'
  QualityReport uses 10 equal-width bins, fitted separately on the real and the synthetic
  column, which lets one outlier squash a whole column into one bin).
- CorrelationSimilarity uses Spearman's rho (QualityReport uses Pearson): robust to the
  heavy tails of e.g. fnlwgt and capital_gain.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, spearmanr

from synthgen.evaluate.columns import DISCRETE, NUMERIC, bin_codes, null_as_code, numbers, quantile_edges, shared_codes

_KS_DECIMALS = 14  # as SDMetrics: round away float noise (0.1 + 0.2) before comparing CDFs


@dataclass
class ColumnView:
    """One column of the real and the synthetic table as arrays.

    codes_*: frequency-table codes in 0..n_codes-1 (null is a code of its own); for numbers
    these are the quantile bins used by ContingencySimilarity. values_*: numbers (NaN = null).
    labels: category names per code (categories only; plots bin numbers their own way).
    """

    name: str
    numeric: bool
    codes_real: np.ndarray
    codes_syn: np.ndarray
    n_codes: int
    labels: list[str]
    values_real: np.ndarray | None = None
    values_syn: np.ndarray | None = None


def column_views(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> list[ColumnView]:
    views = []
    for col, kind in kinds.items():
        if kind in NUMERIC:
            vr, vs = numbers(real[col], kind), numbers(syn[col], kind)
            edges = quantile_edges(vr)
            views.append(ColumnView(col, True, bin_codes(vr, edges), bin_codes(vs, edges), len(edges), [], vr, vs))
        elif kind in DISCRETE:
            (cr, cs), uniques = shared_codes(real[col], syn[col])
            n = len(uniques)
            labels = [str(u) for u in uniques] + ["<null>"]
            views.append(ColumnView(col, False, null_as_code(cr, n), null_as_code(cs, n), n + 1, labels))
    return views


def shares(codes: np.ndarray, n_codes: int) -> np.ndarray:
    return np.bincount(codes, minlength=n_codes) / max(len(codes), 1)


def ks_complement(real: np.ndarray, syn: np.ndarray) -> float:
    """1 - two-sample KS statistic on the non-null values (SDMetrics KSComplement). One side with
    values and the other with none scores 0, where SDMetrics leaves the column out: a generator
    that writes a sparse column as all nulls must not be scored on the other columns alone (it
    lifted TabularARGN's mean on the planes table, whose `speed` has 17 values in 2,658 rows)."""
    r, s = _round_noise(real[~np.isnan(real)]), _round_noise(syn[~np.isnan(syn)])
    if len(r) == 0 or len(s) == 0:
        return 0.0 if len(r) or len(s) else float("nan")
    # method="asymp": the statistic is the same; it skips the exact p-value, slow for big n.
    return 1.0 - float(ks_2samp(r, s, method="asymp").statistic)


def _round_noise(x: np.ndarray) -> np.ndarray:
    """np.round(x, _KS_DECIMALS) without its overflow: it multiplies by 1e14 first, which overflows
    for |x| near 1e308 (a column holding +-1e308); such values are whole numbers and stay as they are."""
    small = np.abs(x) < 1e290
    return np.where(small, np.round(np.where(small, x, 0.0), _KS_DECIMALS), x)


def tv_complement(real_codes: np.ndarray, syn_codes: np.ndarray, n_codes: int) -> float:
    """1 - total variation distance between category shares (null is a category)."""
    return 1.0 - 0.5 * float(np.abs(shares(real_codes, n_codes) - shares(syn_codes, n_codes)).sum())


def correlation_similarity(ra, rb, sa, sb) -> float:
    """1 - |rho_real - rho_syn| / 2 with Spearman's rho on rows where both values are present."""
    rho = []
    for a, b in ((ra, rb), (sa, sb)):
        ok = ~(np.isnan(a) | np.isnan(b))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a constant column gives NaN, scored as undefined
            rho.append(float(spearmanr(a[ok], b[ok]).statistic) if ok.sum() > 1 else np.nan)
    return 1.0 - abs(rho[0] - rho[1]) / 2.0


def contingency_similarity(ra, rb, sa, sb, n_a: int, n_b: int) -> float:
    """1 - total variation distance between the joint shares of two coded columns."""
    keys_r, keys_s = ra * n_b + rb, sa * n_b + sb
    if n_a * n_b <= 4_000_000:
        p = np.bincount(keys_r, minlength=n_a * n_b) / len(keys_r)
        q = np.bincount(keys_s, minlength=n_a * n_b) / len(keys_s)
        return 1.0 - 0.5 * float(np.abs(p - q).sum())
    # Many levels on both sides: count only the cells that occur.
    ur, cr = np.unique(keys_r, return_counts=True)
    us, cs = np.unique(keys_s, return_counts=True)
    cells = np.union1d(ur, us)
    p = np.zeros(len(cells))
    p[np.searchsorted(cells, ur)] = cr / len(keys_r)
    q = np.zeros(len(cells))
    q[np.searchsorted(cells, us)] = cs / len(keys_s)
    return 1.0 - 0.5 * float(np.abs(p - q).sum())


def shape_scores(views: list[ColumnView]) -> dict[str, float]:
    return {
        v.name: (
            ks_complement(v.values_real, v.values_syn)
            if v.numeric
            else tv_complement(v.codes_real, v.codes_syn, v.n_codes)
        )
        for v in views
    }


def pair_scores(views: list[ColumnView]) -> dict[tuple[str, str], float]:
    out = {}
    for a, b in itertools.combinations(views, 2):
        if a.numeric and b.numeric:
            out[a.name, b.name] = correlation_similarity(a.values_real, b.values_real, a.values_syn, b.values_syn)
        else:
            out[a.name, b.name] = contingency_similarity(
                a.codes_real, b.codes_real, a.codes_syn, b.codes_syn, a.n_codes, b.n_codes
            )
    return out


def mean_defined(values) -> float:
    """Mean over defined scores (SDMetrics also leaves out columns/pairs it cannot score)."""
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if len(arr) else float("nan")
