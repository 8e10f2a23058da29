"""Rare levels drawn within their row's group: a city within its state.

A column of many levels each seen a few times (vega's airports: 2,205 cities over 2,701 rows, 93 %
of the rows in cities seen fewer than 5 times) shares one rare token (encoders/columns.py,
sparse_column), and that token decodes to a rare level drawn by its real frequency regardless of
the row: the synthetic airports read 'Nunapitchuk, NH' and 'Pontotoc, MI'. Where another categorical
column A groups B's levels (rows that share a B level share their A level far more often than
chance), the decoder draws each rare-token row's level among the rare levels seen with that row's A
level, by their counts with it (schema `nestings`; encoders/tabular.py), so the (B, A) pairs of
those rows are real ones. Any other row whose (B, A) pair the real rows never show (the model drew
a frequent level beside the wrong group: COMPAS' `Agg Battery Grt/Bod/Harm` as a third-degree
felony, 27 % of its violent charges) draws its B level among all those seen with its A level, by
their rows; a row whose A level no B level was seen with keeps its own draw. B need not be a
function of A (that is synthgen/dependencies.py): 'Greenville' lies in 8 states.

Found from the real rows alone (`find`): a categorical B with at least MIN_LEVELS levels and a
categorical A with fewer levels, both listed by the encoder as written (no codec), over the rows
where both are set. Of the pairs of rows that share a B level, a share `together` also share their A
level; were A independent of B, each pair would agree with probability sum_a p_a^2 (p: A's shares
over those rows). A groups B when
- at least MIN_PAIRS such pairs exist (a column of levels seen once each gives no evidence);
- `together` is at least TOGETHER_FACTOR times that chance (on 500k rows a trace of association is
  "significant" but does not make a city's state);
- so many agreeing pairs would be a chance below MAX_CHANCE (binomial tail; the pairs are not
  independent, so the bound is loose, hence the small value).
Of the columns that group B, the one with the highest `together` is kept. The (B, A) pairs seen
are stored with their rows (`every_pair`; a schema written before 2026-12-05 stored only those of
B's levels seen fewer than 20 times, and its model keeps the rare draw alone).
A dependency's key or dependent is never B here (its rare keys are drawn to agree with their
lookups). The evaluation reports the synthetic share of rows whose (B, A) pair occurs in the real
rows (`fidelity.nesting.<B>`; `fidelity.nestings` the lowest, `fidelity.nestings_holdout` the real
holdout's own lowest share, the reference: a holdout has cities the training rows never had).

On vega's airports (`synthgen run data=file data.path=airports.csv`, 2,701 training rows, seed 0;
seeds 1-2 in the README): the synthetic rows whose (city, state) pair occurs in the training rows
rose from 0.065 to 0.980 (the real holdout's own share: 0.197, its common city names lying in other
states), pair trends from 0.662 to 0.775; the cost: the DCR share moved from 0.523 to 0.539 and the
membership attack's AUC from 0.555 to 0.567 (real pairs sit nearer their training rows). Of the suite's tables, compas
(vr_charge_desc within vr_charge_degree), flights and flights_planes (dest within carrier) have one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

MIN_LEVELS = 20  # encoders/columns.py SPARSE_MIN_LEVELS: a column with fewer levels keeps a token for each
MIN_PAIRS = 20
TOGETHER_FACTOR = 2.0
MAX_CHANCE = 1e-6
SEARCH_ROWS = 20_000  # rows the search reads (the stored pairs count every row)


def find(columns: list, table, not_nested: set[str]) -> list[dict]:
    """[{"column": B, "within": A, "pairs": [[B level, A level, rows], ...], "every_pair": True}] for the real Arrow
    `table` (`columns`: its ColumnSchemas; `not_nested`: columns that cannot be B)."""
    listed = {
        c.name: c
        for c in columns
        if c.kind == "categorical" and c.categories and not c.codec and (c.n_unique or 0) >= 2
    }
    frame = {name: pd.Series(table.column(name).to_pandas(), dtype=object) for name in listed}
    return [
        {"column": b, "within": a, "pairs": _pairs(frame[b], frame[a]), "every_pair": True}
        for b, a in search(frame, [b for b in frame if b not in not_nested])
    ]


def search(frame: dict[str, pd.Series], candidates: list[str]) -> list[tuple[str, str]]:
    """[(B, A)]: the nestings among row-aligned categorical columns `frame`; `candidates`: the
    columns that may be B."""
    levels = {name: s.nunique(dropna=True) for name, s in frame.items()}
    codes = {name: pd.factorize(s.iloc[:SEARCH_ROWS], use_na_sentinel=True)[0] for name, s in frame.items()}
    found = []
    for b in candidates:
        if levels[b] < MIN_LEVELS:
            continue
        best, best_together = None, 0.0
        for a in frame:
            if a == b or levels[a] >= levels[b]:
                continue
            together = _together(codes[b], codes[a])
            if together is not None and together > best_together:
                best, best_together = a, together
        if best is not None:
            found.append((b, best))
    return found


def _together(b: np.ndarray, a: np.ndarray) -> float | None:
    """The share of row pairs sharing a B level that share their A level, when the module's three
    tests say A groups B; else None. `b`, `a`: int codes, -1 for null."""
    both = (b >= 0) & (a >= 0)
    b, a = b[both], a[both]
    if len(b) < 2:
        return None
    per_level = np.bincount(b)
    repeated = per_level[b] >= 2
    b, a = b[repeated], a[repeated]
    sizes = per_level[per_level >= 2]
    pairs = int((sizes * (sizes - 1) // 2).sum())
    if pairs < MIN_PAIRS:
        return None
    _, joint = np.unique(b.astype(np.int64) * (int(a.max()) + 1) + a, return_counts=True)
    agree = int((joint * (joint - 1) // 2).sum())
    share = np.bincount(a)[np.unique(a)] / len(a)
    chance = float((share**2).sum())
    together = agree / pairs
    if together < TOGETHER_FACTOR * chance or binom.sf(agree - 1, pairs, chance) >= MAX_CHANCE:
        return None
    return together


def _pairs(b: pd.Series, a: pd.Series) -> list[list]:
    """[[B level, A level, rows]] over every row with both set."""
    both = b.notna() & a.notna()
    counts = pd.DataFrame({"b": b[both].to_numpy(), "a": a[both].to_numpy()}).value_counts(sort=False)
    return [[_plain(bv), _plain(av), int(n)] for (bv, av), n in counts.items()]


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def scores(
    real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str], holdout: pd.DataFrame | None = None
) -> dict[str, float]:
    """For each nesting found in the real rows: `fidelity.nesting.<B>`, the synthetic share of rows
    (B and A set, B a real level) whose (B, A) pair occurs in the real rows; `fidelity.nestings` the
    lowest, and `fidelity.nestings_holdout` the lowest of the real holdout's own shares."""
    from synthgen.evaluate.columns import key_part

    cats = [c for c, k in kinds.items() if k == "categorical" and c in real and c in syn]
    frame = {c: real[c].astype(object) for c in cats}
    out, own = {}, []
    for b, a in search(frame, cats):
        seen = set(zip(real[b].astype(object), real[a].astype(object)))
        levels = set(real[b].dropna())
        got = _share_seen(syn[b], syn[a], seen, levels)
        if got is not None:
            out[f"fidelity.nesting.{key_part(b)}"] = got
            if holdout is not None and b in holdout and a in holdout:
                ref = _share_seen(holdout[b], holdout[a], seen, levels)
                if ref is not None:
                    own.append(ref)
    if out:
        out["fidelity.nestings"] = min(out.values())
    if own:
        out["fidelity.nestings_holdout"] = min(own)
    return out


def _share_seen(b: pd.Series, a: pd.Series, seen: set, levels: set) -> float | None:
    rows = b.notna() & a.notna() & b.astype(object).isin(levels)
    if not rows.any():
        return None
    pairs = zip(b[rows].astype(object), a[rows].astype(object))
    return float(np.mean([p in seen for p in pairs]))
