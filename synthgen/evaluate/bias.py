"""Group fairness drift: does the synthetic table keep each group's outcome rate and size?

For each sensitive column and group: the target's positive rate (classification: positive =
the minority class of the real target) or its mean (regression), in real train and in
synthetic. The gap is in points: percentage points for rates; for regression, percent of
the real target's standard deviation, so one threshold serves both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthgen.evaluate.columns import NUMERIC, key_part, numbers, quantile_edges

_NULL = "<null>"


def _groups(real: pd.Series, syn: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Group labels as strings; numbers are grouped by the real column's quartiles (q1..q4)."""
    if kind in NUMERIC:
        vr, vs = numbers(real, kind), numbers(syn, kind)
        edges = quantile_edges(vr, 4)
        return tuple(
            np.where(np.isnan(v), _NULL, np.char.add("q", np.digitize(v, edges).astype(str))) for v in (vr, vs)
        )
    return tuple(s.astype(object).where(s.notna(), _NULL).astype(str).to_numpy() for s in (real, syn))


def _outcome(real: pd.Series, syn: pd.Series, task: str, kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-row outcome (1/0 for the positive class, or the number) and the points scale."""
    if task == "classification":
        positive = real.value_counts().index[-1]  # minority class of the real target
        hit = [(s == positive).fillna(False).to_numpy(float) for s in (real, syn)]
        return hit[0], hit[1], 100.0
    vr, vs = numbers(real, kind), numbers(syn, kind)
    sd = float(np.nanstd(vr))
    return vr, vs, (100.0 / sd if sd > 0 else 0.0)


def group_table(
    real: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    sensitive: list[str],
    target: str | None,
    task: str,
    threshold: float,
) -> pd.DataFrame:
    """One row per (column, group): rate_real/rate_synthetic/gap/share_real/share_synthetic/flagged."""
    rows = []
    for col in sensitive:
        g_real, g_syn = _groups(real[col], syn[col], kinds[col])
        if target is not None:
            y_real, y_syn, scale = _outcome(real[target], syn[target], task, kinds[target])
        else:
            y_real, y_syn, scale = np.full(len(real), np.nan), np.full(len(syn), np.nan), 0.0
        stats = []
        for g, y in ((g_real, y_real), (g_syn, y_syn)):
            df = pd.DataFrame({"g": g, "y": y})
            stats.append(df.groupby("g")["y"].agg(["mean", "size"]))
        sr, ss = stats
        for grp in sorted(set(sr.index) | set(ss.index)):
            share_r = sr["size"].get(grp, 0) / max(len(real), 1)
            share_s = ss["size"].get(grp, 0) / max(len(syn), 1)
            rate_r, rate_s = sr["mean"].get(grp, np.nan), ss["mean"].get(grp, np.nan)
            gap = (rate_s - rate_r) * scale
            flagged = bool(abs(100.0 * (share_s - share_r)) > threshold or (np.isfinite(gap) and abs(gap) > threshold))
            rows.append(
                dict(
                    column=col,
                    group=grp,
                    rate_real=rate_r,
                    rate_synthetic=rate_s,
                    gap=gap,
                    share_real=share_r,
                    share_synthetic=share_s,
                    flagged=int(flagged),
                )
            )
    return pd.DataFrame(
        rows,
        columns=["column", "group", "rate_real", "rate_synthetic", "gap", "share_real", "share_synthetic", "flagged"],
    )


def bias_metrics(table: pd.DataFrame) -> dict[str, float]:
    out: dict[str, float] = {"bias.flagged_groups": int(table["flagged"].sum()) if len(table) else 0}
    for r in table.itertuples(index=False):  # one row per group, not per data row
        for k in ("rate_real", "rate_synthetic", "gap", "share_real", "share_synthetic"):
            out[f"bias.{key_part(r.column)}.{key_part(r.group)}.{k}"] = float(getattr(r, k))
    return out
