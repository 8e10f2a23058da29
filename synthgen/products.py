"""Products: a number column that is the product of two other number columns in (nearly) every real row.

Real tables carry products beside their factors: an order line's amount over its quantity and unit
price, an area over its width and length, and the interaction terms of a prepared modelling table
(statsmodels' star98: `PERMINTE_AVYRSEXP` is `PERMINTE` x `AVYRSEXP`, and `PERMINTE_AVYRSEXP_AVSAL`
that times `AVSALK`). Modelled on its own, a product disagrees with its factors in nearly every
synthetic row (each a bin's draw). The encoder keeps the factors as modelled and writes the product
from them (schema `products`; encoders/tabular.py), so it holds in every synthetic row where both
factors are set; the evaluation reports the synthetic share of rows whose product equals its
factors' (`fidelity.product.<column>`, `fidelity.products` the lowest).

Found from the real rows alone (`find_products`): for a column T, every pair of other number columns
(A, B) whose product equals T, within the rounding of the three columns' written decimals, in at
least PRODUCT_MIN_SHARE of the rows where the three are set, of which at least PRODUCT_MIN_ROWS have
neither factor 0 or 1 (a factor of 1 or 0 gives the other factor or 0 by itself). Of several pairs
for T the first in column order is kept whose factors do not lean on T; a product that is a factor
of another is listed, and written, first.
"""

from __future__ import annotations

import numpy as np

from synthgen.schema import leans_on
from synthgen.sums import decimals, inner_first

PRODUCT_MIN_SHARE = 0.99  # as the sums: data-entry slips must not hide a product that holds elsewhere
PRODUCT_MIN_ROWS = 20  # rows where the three are set and neither factor is 0 or 1
# rows the pair search reads, needing SEARCH_MIN_INFORMATIVE rows with neither factor 0 or 1 there;
# a pair it finds is then checked on every row (_multiplies)
SEARCH_ROWS, SEARCH_MIN_INFORMATIVE = 100, 5
MAX_COLUMNS = 100  # more number columns than this: not searched (the search grows with the cube: 0.15 s at 65)


def find_products(values: dict[str, np.ndarray]) -> list[dict]:
    """[{"column": T, "factors": [A, B]}] over number columns (`values`: float64, NaN for null, in the
    table's order), each product after the products among its factors."""
    names = [n for n, v in values.items() if np.isfinite(v).sum() >= PRODUCT_MIN_ROWS]
    if len(names) < 3 or len(names) > MAX_COLUMNS:
        return []
    half = {n: rounding(values[n]) for n in names}
    x = np.stack([values[n][:SEARCH_ROWS] for n in names], axis=1)
    candidates = _pairs_multiplying(x, [half[n][0] for n in names], [half[n][1] for n in names])
    found: dict[str, list[str]] = {}
    for j, t in enumerate(names):
        for a, b in candidates[j]:
            pair = [names[a], names[b]]
            if _multiplies(values, t, pair, half) and not any(leans_on(found, f, t) for f in pair):
                found[t] = pair
                break
    return inner_first(found, "factors")


def rounding(v: np.ndarray) -> tuple[float, float]:
    """(as a product, as a factor): half a unit of the last decimal the values are written with, by
    which a product rounded to them, or a factor rounded before it was multiplied, may be off; a
    factor of whole numbers is taken as exact (a count: 0.5 x the price would pass most pairs)."""
    d = decimals(v)
    return 0.5 * 10.0**-d, (0.5 * 10.0**-d if d else 0.0)


def _pairs_multiplying(x: np.ndarray, half_t: list[float], half_f: list[float]) -> list[list[tuple[int, int]]]:
    """Per column t of x [rows, k]: the pairs (a, b), a < b, of other columns whose product equals t
    on PRODUCT_MIN_SHARE of the rows given where the three are set, SEARCH_MIN_INFORMATIVE of them
    without a factor 0 or 1, in column order. One factor a at a time: its products with every b,
    against every t, [rows, k, k]."""
    k = x.shape[1]
    ht, h = np.asarray(half_t), np.asarray(half_f)
    ax = np.abs(x)
    trivial = np.isin(x, (0.0, 1.0)) | np.isnan(x)
    t = x[:, None, :]  # [rows, 1, k(t)]
    out = [[] for _ in range(k)]
    with np.errstate(invalid="ignore"):
        for a in range(k - 1):
            prod = (x[:, a, None] * x[:, a + 1 :])[:, :, None]  # [rows, b, 1], b > a
            slack = ht[None, None, :] + ax[:, a + 1 :, None] * h[a] + ax[:, a, None, None] * h[None, a + 1 :, None]
            set_ = ~np.isnan(prod) & ~np.isnan(t)
            informative = set_ & ~trivial[:, a, None, None] & ~trivial[:, a + 1 :, None]
            ok = set_ & (np.abs(t - prod) <= slack + 1e-9 * np.abs(t))
            good = (informative.sum(axis=0) >= SEARCH_MIN_INFORMATIVE) & (
                ok.sum(axis=0) >= PRODUCT_MIN_SHARE * np.maximum(set_.sum(axis=0), 1)
            )  # [b, t]
            for b, j in zip(*np.nonzero(good)):
                b = a + 1 + int(b)
                if j not in (a, b):
                    out[int(j)].append((a, b))
    return [sorted(pairs) for pairs in out]


def rows_multiplying(t: np.ndarray, a: np.ndarray, b: np.ndarray, half: tuple[float, float, float]):
    """(rows where the three are set, rows where t == a * b within the rounding of the three:
    `half` for (t as a product, a and b as factors), see `rounding`), bool masks."""
    set_ = ~np.isnan(t) & ~np.isnan(a) & ~np.isnan(b)
    with np.errstate(invalid="ignore"):
        slack = half[0] + np.abs(b) * half[1] + np.abs(a) * half[2] + 1e-9 * np.abs(t)
        return set_, set_ & (np.abs(t - a * b) <= slack)


def _multiplies(values: dict[str, np.ndarray], t: str, pair: list[str], half: dict[str, float]) -> bool:
    """Whether t == a * b on every row given: PRODUCT_MIN_SHARE of the rows where the three are set,
    of which PRODUCT_MIN_ROWS have neither factor 0 or 1."""
    a, b = (values[f] for f in pair)
    set_, ok = rows_multiplying(values[t], a, b, (half[t][0], half[pair[0]][1], half[pair[1]][1]))
    informative = set_ & ~np.isin(a, (0.0, 1.0)) & ~np.isin(b, (0.0, 1.0))
    return informative.sum() >= PRODUCT_MIN_ROWS and ok.sum() >= PRODUCT_MIN_SHARE * max(set_.sum(), 1)


def product_rows(real: dict[str, np.ndarray], syn: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per product found in the real values: (the synthetic rows where it and its factors are set,
    the synthetic rows where it equals their product), both bool masks over `syn`'s rows."""
    out = {}
    for p in find_products(real):
        t, (a, b) = p["column"], p["factors"]
        if all(c in syn for c in (t, a, b)):
            half = (rounding(real[t])[0], rounding(real[a])[1], rounding(real[b])[1])
            out[t] = rows_multiplying(syn[t], syn[a], syn[b], half)
    return out
