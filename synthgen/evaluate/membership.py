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

Reported per attack: ROC AUC and its 95 % DeLong interval. `privacy.mia_auc` is the larger of
the two AUCs (the attack a careful adversary would pick), the one the gate reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm, rankdata

from synthgen.evaluate.columns import subsample
from synthgen.evaluate.privacy import _nearest, encode_rows

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


def membership_metrics(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    cols: list[str],
    seed: int,
    max_rows: int,
) -> dict[str, float]:
    """Attack AUCs with intervals; {} when the holdout is too small to split (under 4 rows)."""
    n = min(len(holdout) // 2, len(train), max_rows)
    if n < 2 or len(syn) == 0:
        return {}
    ho = subsample(holdout, 2 * n, seed + 5).sample(frac=1.0, random_state=seed + 6)
    nonmem, ref = ho.iloc[:n], ho.iloc[n : 2 * n]
    mem = subsample(train, n, seed + 7)
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
    out: dict[str, float] = {"privacy.mia_rows": float(n)}
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
