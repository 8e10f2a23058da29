"""Privacy: distance to closest record (DCR) against train vs holdout, NNDR, exact copies.

Distance: a Euclidean, Gower-like distance in which every column contributes at most 1 to
the squared distance:
- a number becomes its mid-rank empirical CDF in the real train sample (values in [0, 1]),
  so heavy tails (fnlwgt, capital_gain) do not dominate and units do not matter; a missing
  number sits at 0.5 plus a 0/1 missing flag, so "missing vs present" is a full mismatch;
- a category is one-hot scaled by 1/sqrt(2), so two different categories add exactly 1
  (null is a category; levels beyond the 64 most frequent share one 'other' slot).
Identifier and text columns take no part in distances. Euclidean (not Manhattan) because
exact brute-force kNN then runs as a matrix product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from synthgen.evaluate.columns import DISCRETE, NUMERIC, cap_codes, numbers, shared_codes, subsample

_MAX_ONE_HOT = 64
_TIE = 1e-9  # distances this close are ties (they count half in the DCR share)
_DCR_FOLDS = 4  # disjoint train samples the DCR share averages over (4: every train row at a 20 % holdout)
# The DCR share's spread between splits, times sqrt(holdout rows): the transformer on statsmodels'
# heart (55 train / 14 holdout rows) and vega's driving (44 / 11) over seeds 0-3 (split and model)
# gave 0.679 / 0.664 / 0.479 / 0.548 and 0.676 / 0.611 / 0.466 / 0.455: sd 0.096 and 0.109, times
# sqrt(14) and sqrt(11) 0.36 both (issue #14).
DCR_SPREAD = 0.35


def dcr_noise_limit(holdout_rows: int) -> float:
    """The DCR share a generator reaches by chance on a holdout of this many rows, at two of its
    spreads above 0.5: 0.69 on 14 rows, 0.60 on 49, 0.55 on 196. The privacy gate judges a share
    against this where it exceeds `evaluate.gate.dcr_share_max` (evaluate/gate.py)."""
    return 0.5 + 2 * DCR_SPREAD / max(holdout_rows, 1) ** 0.5


def encode_rows(frames: list[pd.DataFrame], kinds: dict[str, str], cols: list[str]) -> list[np.ndarray]:
    """Rows of several tables in one distance space; frames[0] (train sample) is the reference."""
    blocks = [[] for _ in frames]
    for col in cols:
        if kinds[col] in NUMERIC:
            vals = [numbers(f[col], kinds[col]) for f in frames]
            ref = np.sort(vals[0][~np.isnan(vals[0])])
            has_null = any(np.isnan(v).any() for v in vals)
            for b, v in zip(blocks, vals):
                # mid-rank ECDF: ties share the middle of their step, so equal values map equally
                cdf = (np.searchsorted(ref, v, "left") + np.searchsorted(ref, v, "right")) / (2.0 * max(len(ref), 1))
                miss = np.isnan(v)
                b.append(np.where(miss, 0.5, cdf)[:, None])
                if has_null:
                    b.append(miss.astype(np.float64)[:, None])
        elif kinds[col] in DISCRETE:
            codes, uniques = shared_codes(*(f[col] for f in frames))
            codes = cap_codes(codes, len(uniques), _MAX_ONE_HOT)
            width = min(len(uniques), _MAX_ONE_HOT + 1) + 1  # + null slot
            eye = np.eye(width) / np.sqrt(2.0)
            for b, c in zip(blocks, codes):
                b.append(eye[np.where(c < 0, width - 1, c)])
    return [np.hstack(b) if b else np.zeros((len(f), 1)) for b, f in zip(blocks, frames)]


def _nearest(ref: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Exact distances to the k nearest reference rows, ascending, shape (n_query, k).

    The kNN search runs in float32 with the fast |a|^2 - 2ab + |b|^2 form (about 1.3x faster
    than float64); the distances to the rows it found are then recomputed in float64 from
    differences, so exact copies give exactly 0 and ties are exact.
    """
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(ref.astype(np.float32))
    idx = nn.kneighbors(query.astype(np.float32), return_distance=False)
    d = np.stack([np.sqrt(((query - ref[idx[:, j]]) ** 2).sum(axis=1)) for j in range(k)], axis=1)
    return np.sort(d, axis=1)


def dcr_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    cols: list[str],
    seed: int,
    max_rows: int,
    entity: str | None = None,
) -> dict[str, float]:
    # Equal-size train and holdout samples, so a generator that does not memorise is as
    # likely to land nearer a train row as nearer a holdout row: the ideal share is 0.5.
    # The train table is usually larger (4x at a 20 % holdout), and one train sample of the
    # holdout's size leaves the share to chance: on a 69-row holdout (penguins) it moved with
    # the sample's seed alone by sd 0.035 (benchmarks/sizing.md). So the share is averaged over
    # up to _DCR_FOLDS disjoint train samples of that size (fold 0 is the single sample used before).
    n_ref = min(len(train), len(holdout), max_rows)
    n_folds = max(1, min(len(train) // max(n_ref, 1), _DCR_FOLDS))
    shuffled = train.sample(frac=1.0, random_state=seed + 2) if len(train) > n_ref else train
    if entity is not None and entity in train.columns and len(train) > n_ref:
        # The holdout holds whole entities (a customer's every order); train folds of random rows
        # would spread over more entities than it, so any row, even a real one from an unseen
        # entity, would find its nearest row in a train fold more often than in the holdout
        # (benchmarks/entities.md: 0.62 for unseen real customers). Folds of whole entities, in a
        # seeded order, cluster as the holdout does.
        shuffled = whole_entities(train, entity, seed + 2)
    ho = subsample(holdout, n_ref, seed + 3)
    syn = subsample(syn, max_rows, seed + 4)
    k = min(2, n_ref)
    shares, d1s, nndrs = [], [], []
    for fold in range(n_folds):
        tr = shuffled.iloc[fold * n_ref : (fold + 1) * n_ref].reset_index(drop=True)
        x_tr, x_ho, x_sy = encode_rows([tr, ho, syn], kinds, cols)  # each fold is its own ECDF reference
        d_tr = _nearest(x_tr, x_sy, k)
        d_ho = _nearest(x_ho, x_sy, 1)[:, 0]
        d1 = d_tr[:, 0]
        shares.append(np.where(d1 < d_ho - _TIE, 1.0, np.where(np.abs(d1 - d_ho) <= _TIE, 0.5, 0.0)).mean())
        d1s.append(d1)
        if k == 2:
            # NNDR near 0: the row sits on one train record much closer than on any other.
            # Both neighbours at distance 0 (a duplicated train row) singles no one out: ratio 1.
            d2 = d_tr[:, 1]
            nndrs.append(np.divide(d1, d2, out=np.ones_like(d1), where=d2 > 0))
    d1 = np.concatenate(d1s)
    out = {
        "privacy.dcr_share": float(np.mean(shares)),
        "privacy.dcr_share_folds": float(n_folds),
        "privacy.dcr_share_fold_sd": float(np.std(shares)),
        "privacy.dcr_share_noise_limit": dcr_noise_limit(n_ref),
        "privacy.dcr_synthetic_p5": float(np.quantile(d1, 0.05)),
        "privacy.dcr_synthetic_p50": float(np.quantile(d1, 0.5)),
        "privacy.dcr_synthetic_holdout_p5": float(np.quantile(d_ho, 0.05)),
        "privacy.dcr_synthetic_holdout_p50": float(np.quantile(d_ho, 0.5)),
    }
    if nndrs:
        nndr = np.concatenate(nndrs)
        out["privacy.nndr_p5"] = float(np.quantile(nndr, 0.05))
        out["privacy.nndr_p50"] = float(np.quantile(nndr, 0.5))
    return out


def whole_entities(train: pd.DataFrame, entity: str, seed: int) -> pd.DataFrame:
    """The train rows in a seeded order of entities, each entity's rows together (nulls one entity)."""
    codes = pd.factorize(train[entity], use_na_sentinel=False)[0]
    # a seeded order of the entities, drawn as the row order above is (pandas' sample)
    rank = pd.Series(np.arange(codes.max() + 1)).sample(frac=1.0, random_state=seed).to_numpy().argsort()[codes]
    return train.iloc[np.argsort(rank, kind="stable")]


def _row_keys(frames: list[pd.DataFrame], cols: list[str]) -> list[np.ndarray]:
    """One 64-bit hash per row over shared value codes: equal rows (nulls equal) hash equal."""
    coded = [[] for _ in frames]
    for col in cols:
        codes, _ = shared_codes(*(f[col] for f in frames))  # 5 and 5.0 are the same value
        for c, x in zip(coded, codes):
            c.append(x)
    return [pd.util.hash_pandas_object(pd.DataFrame(np.column_stack(c)), index=False).to_numpy() for c in coded]


def copy_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    cols: list[str],
    identifying: list[list[str]] | None = None,
) -> dict[str, float]:
    """Exact copies of train rows, with holdout's rate as the baseline a fresh sample shows."""
    # Identifiers are left out of the row comparison (a generator re-issues them), and
    # checked on their own: any train identifier value in the synthetic table is a leak.
    row_cols = [c for c in cols if kinds[c] not in ("identifier", "pii", "text", "empty")]
    k_tr, k_ho, k_sy = _row_keys([train, holdout, syn], row_cols)
    out = {
        "privacy.exact_copies_synthetic_share": float(np.isin(k_sy, k_tr).mean()) if len(k_sy) else 0.0,
        "privacy.exact_copies_holdout_share": float(np.isin(k_ho, k_tr).mean()) if len(k_ho) else 0.0,
    }
    copies = 0
    for col in (c for c in cols if kinds[c] == "identifier"):
        (c_tr, c_sy), _ = shared_codes(train[col], syn[col])
        copies += int(np.isin(c_sy[c_sy >= 0], c_tr[c_tr >= 0]).sum())
    out["privacy.identifier_copies"] = copies
    out["privacy.pii_copies"] = pii_copies(train, syn, identifying or [])
    return out


def pii_copies(train: pd.DataFrame, syn: pd.DataFrame, groups: list[list[str]]) -> int:
    """Synthetic rows whose personal data equals a real training row's: per group of columns that
    identify a person (a full name, an e-mail, first + last name ...), compared case-blind;
    rows with a missing value in the group do not count."""
    total = 0
    for group in groups:
        if not all(c in train.columns and c in syn.columns for c in group):
            continue

        def keys(df):
            part = df[group].astype("string")
            ok = part.notna().all(axis=1).to_numpy()
            joined = part.fillna("").apply(lambda col: col.str.strip().str.lower()).agg("\x1f".join, axis=1)
            return joined.to_numpy(dtype=object)[ok]

        total += int(np.isin(keys(syn), keys(train)).sum())
    return total
