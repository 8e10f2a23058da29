"""Matplotlib figures for the report, drawn with the Agg canvas (no display, no pyplot state).

Every function takes plain data (DataFrames of the report's CSV files) and returns PNG bytes.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

REAL, SYN = "#4C72B0", "#DD8452"
_MAX_BARS = 20  # categories beyond the 20 most common in real are summed into "(other)"


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


def distribution(name: str, dist: pd.DataFrame, score: float | None) -> bytes:
    """Real vs synthetic share per bin/category (dist: bin, source, share)."""
    wide = dist.pivot_table(index="bin", columns="source", values="share", sort=False).fillna(0.0)
    wide = wide.reindex(columns=["real", "synthetic"], fill_value=0.0)
    if len(wide) > _MAX_BARS:
        top = wide.sort_values("real", ascending=False)
        wide = pd.concat([top.iloc[: _MAX_BARS - 1], top.iloc[_MAX_BARS - 1 :].sum().to_frame("(other)").T])
    fig = Figure(figsize=(4.2, 2.8))
    ax = fig.subplots()
    x = np.arange(len(wide))
    ax.bar(x - 0.2, wide["real"], 0.4, label="real", color=REAL)
    ax.bar(x + 0.2, wide["synthetic"], 0.4, label="synthetic", color=SYN)
    ax.set_xticks(x, [str(b)[:18] for b in wide.index], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.set_title(name + (f"  (score {score:.3f})" if score is not None else ""), fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def score_bars(scores: pd.Series, title: str) -> bytes:
    fig = Figure(figsize=(max(4.0, 0.35 * len(scores) + 1), 3.0))
    ax = fig.subplots()
    ax.bar(scores.index.astype(str), scores.to_numpy(), color=REAL)
    ax.set_ylim(min(0.5, float(scores.min()) - 0.05) if len(scores) else 0, 1.0)
    ax.tick_params(axis="x", rotation=60, labelsize=7)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def pair_heatmap(pairs: pd.DataFrame) -> bytes:
    """Pair-trend differences (1 - score): dark cells are relations the generator missed."""
    mat = pairs.pivot(index="column_a", columns="column_b", values="difference")
    cols = list(dict.fromkeys(list(pairs["column_a"]) + list(pairs["column_b"])))
    mat = mat.reindex(index=cols, columns=cols)
    n = len(cols)
    side = min(0.42 * n, 16.0)  # wide tables: cells shrink rather than the figure growing
    fig = Figure(figsize=(1.2 + side, 0.9 + side))
    ax = fig.subplots()
    im = ax.imshow(
        mat.to_numpy(dtype=float),
        cmap="Reds",
        vmin=0.0,
        vmax=max(0.1, float(np.nanmax(mat.to_numpy(dtype=float))) if n > 1 else 0.1),
    )
    ax.set_xticks(range(n), cols, rotation=90, fontsize=7)
    ax.set_yticks(range(n), cols, fontsize=7)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                v = mat.iat[i, j]
                if np.isfinite(v) and i != j:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5)
    fig.colorbar(im, ax=ax, shrink=0.7, label="1 - pair score")
    ax.set_title("Column-pair trend differences", fontsize=9)
    return _png(fig)


def paired_bars(
    labels: list[str], real: list[float], syn: list[float], title: str, names: tuple[str, str] = ("real", "synthetic")
) -> bytes:
    fig = Figure(figsize=(max(4.0, 0.6 * len(labels) + 1.5), 3.0))
    ax = fig.subplots()
    x = np.arange(len(labels))
    ax.bar(x - 0.2, real, 0.4, label=names[0], color=REAL)
    ax.bar(x + 0.2, syn, 0.4, label=names[1], color=SYN)
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)
