"""Membership inference: can someone holding only the synthetic table tell who was trained on?

The attacker scores each candidate row; members are real training rows, non-members real
holdout rows the generator never saw, in equal numbers (so 0.5 is chance). Two attacks, both
from the synthetic table alone, in the distance space of privacy.encode_rows:

- distance: minus the distance to the closest synthetic row (members of an over-fitted
  generator have a synthetic near-twin);
- density ratio (DOMIAS-style, van Breugel et al. 2023): log p_syn(x) - log p_ref(x) with
  1-nearest-neighbour density estimates, p(x) ~ 1 / d(x)^dim, i.e. dim * (log d_ref - log d_syn).
  p_ref comes from a reference half of the holdout, kept apart from the non-member half,
  so a row that is merely typical (close to everything) does not look like a member.
  (The attacker is granted reference rows from the population, as in DOMIAS.)

A table of entities (`entity`: a customer's every order) is sampled in whole entities: the holdout
holds whole customers, and a reference half cut from it at random shares each non-member's
customer, so the non-members' reference distance was small and the density-ratio attack told them
apart from any member. On the orders table of benchmarks/entity_tables.py, real rows of customers
no one trained on scored 0.60 as if they were synthetic; with whole entities in each half (and
among the members) 0.49 (benchmarks/entity_privacy_reference.py, 16 splits; benchmarks/entities.md).

Reported per attack: ROC AUC and its 95 % DeLong interval. `privacy.mia_auc` is the larger of
the two AUCs (the attack a careful adversary would pick), the one the gate reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from synthgen.evaluate.columns import subsample
from synthgen.evaluate.privacy import _nearest, encode_rows, whole_entities

_EPS = 1e-6  # added to distances before the log, so exact copies (distance 0) stay finite


def delong_auc(pos: np.ndarray, neg: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """ROC AUC of scores pos (members) over neg (non-members), ties count half, with DeLong's
    (1988) variance: (auc, low, high), clipped to [0, 1]."""
    m, n = len(pos), len(neg)
    both = rankdata(np.r_[pos, neg])  # mid-ranks: ties share their step
    r_pos, r_neg = both[:m], both[m:]
    auc = (r_pos.sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_pos - rankdata(pos)) / n  # per member: share of non-members scored below it
    v01 = 1.0 - (r_neg - rankdata(neg)) / m  # per non-member: share of members scored above it
    se = np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n) if m > 1 and n > 1 else 0.0
    z = norm.ppf(0.5 + level / 2)
    return float(auc), float(max(0.0, auc - z * se)), float(min(1.0, auc + z * se))


def _entity_start(keys: pd.Series, n: int) -> int:
    """Where the entity holding row n starts in keys (each entity's rows together); n itself when
    it starts there or when that entity starts too early to leave 2 rows before it."""
    codes = pd.factorize(keys, use_na_sentinel=False)[0]
    if n >= len(codes) or codes[n] != codes[n - 1]:
        return n
    start = int(np.argmax(codes == codes[n]))
    return start if start >= 2 else n


def membership_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    cols: list[str],
    seed: int,
    max_rows: int,
    entity: str | None = None,
) -> dict[str, float]:
    """Attack AUCs with intervals; {} when the holdout is too small to split (under 4 rows).
    entity: the key column of a table of entities; its rows are then drawn in whole entities."""
    n = min(len(holdout) // 2, len(train), max_rows)
    if n < 2 or len(syn) == 0:
        return {}
    if entity is not None and entity in train.columns and entity in holdout.columns:
        ho = whole_entities(holdout, entity, seed + 6)
        mem = whole_entities(train, entity, seed + 7).iloc[:n]
        cut = _entity_start(ho[entity], n)  # no entity on both sides: the non-members end before it
    else:
        ho = subsample(holdout, 2 * n, seed + 5).sample(frac=1.0, random_state=seed + 6)
        mem = subsample(train, n, seed + 7)
        cut = n
    nonmem, ref = ho.iloc[:cut], ho.iloc[cut : cut + n]
    syn = subsample(syn, max_rows, seed + 8)
    # The synthetic table is the reference of the number scaling: the attacker has nothing else.
    x_syn, x_mem, x_non, x_ref = encode_rows([syn, mem, nonmem, ref], kinds, cols)
    dim = x_syn.shape[1]

    def scores(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d_syn = _nearest(x_syn, x, 1)[:, 0]
        d_ref = _nearest(x_ref, x, 1)[:, 0]
        return -d_syn, dim * (np.log(d_ref + _EPS) - np.log(d_syn + _EPS))

    dist_mem, ratio_mem = scores(x_mem)
    dist_non, ratio_non = scores(x_non)
    out: dict[str, float] = {"privacy.mia_rows": float(len(nonmem))}
    for name, pos, neg in (("distance", dist_mem, dist_non), ("density_ratio", ratio_mem, ratio_non)):
        auc, lo, hi = delong_auc(pos, neg)
        out[f"privacy.mia_auc_{name}"] = auc
        out[f"privacy.mia_auc_{name}_ci_low"] = lo
        out[f"privacy.mia_auc_{name}_ci_high"] = hi
    best = max(("distance", "density_ratio"), key=lambda k: out[f"privacy.mia_auc_{k}"])
    out["privacy.mia_auc"] = out[f"privacy.mia_auc_{best}"]
    out["privacy.mia_auc_ci_low"] = out[f"privacy.mia_auc_{best}_ci_low"]
    out["privacy.mia_auc_ci_high"] = out[f"privacy.mia_auc_{best}_ci_high"]
    return out
