"""write_evaluation: metrics.json, DVC plot data (CSV), PNG figures and one self-contained HTML.

Layout of out_dir (fixed names, so DVC can declare them as outs):
    metrics.json                      the flat result, sorted keys
    headline.json                     the headline figures and verdicts (what `dvc metrics show` reads)
    report.html                       summary first, then fidelity/utility/privacy/bias/validity
    plots/shape.csv, shape.png        per-column shape score
    plots/column_<name>.csv/.png      real vs synthetic share per bin/category (bin,source,share)
    plots/pair_trends.csv/.png        pair-trend difference matrix, long format (both orders)
    plots/pair_scores.csv             one row per column pair: pair ("a ~ b"), score (DVC's bar plot)
    plots/bias_groups.csv/.png        outcome rate and share per sensitive group and source
    plots/utility.png, privacy.png
Everything is written to a sibling temporary folder, then renamed into place: a failed
evaluation leaves the previous output (or nothing), never a half-written one.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from synthgen.evaluate import plots
from synthgen.evaluate.bias import group_table
from synthgen.evaluate.columns import bin_codes, key_part, quantile_edges
from synthgen.evaluate.config import EvalConfig
from synthgen.evaluate.fidelity import ColumnView, column_views, pair_scores, shares
from synthgen.evaluate.gate import check_gate
from synthgen.evaluate.headline import TABLE as HEADLINE
from synthgen.evaluate.tabular import prepare_tables
from synthgen.evaluate.verdicts import judge
from synthgen.io import staged_dir
from synthgen.summary import write_headline

_MAX_FIGURES = 60
_LEVEL_COLOUR = {"pass": "#dafbe1", "warn": "#fff8c5", "fail": "#ffebe9"}


def _safe(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(name)).strip("._") or "column"
    out, i = base, 1
    while out.lower() in taken:
        i += 1
        out = f"{base}_{i}"
    taken.add(out.lower())
    return out


def _plot_bins(v: ColumnView) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Codes and labels for a distribution plot: categories as they are; numbers in 20
    real-quantile bins, or 20 equal-width bins when ties leave fewer than 5 quantile bins
    (capital_gain: >90% zeros would otherwise show as one bar)."""
    if not v.numeric:
        return v.codes_real, v.codes_syn, v.labels
    edges = quantile_edges(v.values_real, 20)
    valid = v.values_real[~np.isnan(v.values_real)]
    if len(edges) < 6 and len(valid):
        inner = np.histogram_bin_edges(valid, bins=20)[1:-1]
        edges = np.unique(np.r_[-np.inf, inner, np.inf])
    labels = [f"[{_num(a)}, {_num(b)})" for a, b in zip(edges[:-1], edges[1:])] + ["<null>"]
    return bin_codes(v.values_real, edges), bin_codes(v.values_syn, edges), labels


def _num(x: float) -> str:
    return "-inf" if x == -np.inf else "inf" if x == np.inf else f"{x:.6g}"


def _dist_frame(v: ColumnView) -> pd.DataFrame:
    """Long format (bin, source, share), without bins empty on both sides."""
    cr, cs, labels = _plot_bins(v)
    r, s = shares(cr, len(labels)), shares(cs, len(labels))
    keep = (r > 0) | (s > 0)
    labels = [lab for lab, k in zip(labels, keep) if k]
    return pd.DataFrame(
        {
            "bin": labels * 2,
            "source": ["real"] * len(labels) + ["synthetic"] * len(labels),
            "share": list(r[keep]) + list(s[keep]),
        }
    )


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(rows: list[tuple], head: tuple) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def _section_rows(result: dict, prefix: str) -> list[tuple]:
    return [(k, v) for k, v in sorted(result.items()) if k.startswith(prefix)]


def write_evaluation(
    result: dict,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str],
    config: EvalConfig | None,
    out_dir: Path,
) -> Path:
    """Write metrics.json, plots/ and report.html for `result` (from evaluate_tables) to out_dir."""
    config = config or EvalConfig()
    p = prepare_tables(train, holdout, synthetic, kinds, config)  # same subsamples as the metrics
    views = column_views(p.train, p.synthetic, {c: p.kinds[c] for c in p.scored})
    groups = group_table(
        p.train, p.synthetic, p.kinds, config.sensitive, config.target, p.task, config.bias_threshold_points
    )
    passed, reason = check_gate(result, config)
    with staged_dir(Path(out_dir)) as stage:
        figs = _write_plots(stage / "plots", result, views, pair_scores(views), groups)
        (stage / "report.html").write_text(_html(result, passed, reason, figs, groups, config), encoding="utf-8")
        # Last, so a result that cannot be written (e.g. NaN) fails after the rest was staged,
        # and the staged folder is dropped as a whole.
        text = json.dumps(result, sort_keys=True, indent=1, allow_nan=False) + "\n"
        (stage / "metrics.json").write_text(text, encoding="utf-8")
        write_headline(stage, result)
    return Path(out_dir)


def _write_plots(
    pdir: Path, result: dict, views: list[ColumnView], pairs: dict, groups: pd.DataFrame
) -> dict[str, list[str]]:
    """CSV data and PNG figures under pdir; returns the figures as <img> tags per section."""
    pdir.mkdir()
    figs: dict[str, list[str]] = {"fidelity": [], "columns": [], "utility": [], "privacy": [], "bias": []}

    def save(name: str, png: bytes, section: str, alt: str) -> None:
        (pdir / f"{name}.png").write_bytes(png)
        figs[section].append(_img(png, alt))

    shape = pd.Series({v.name: result.get(f"fidelity.shape.{key_part(v.name)}") for v in views}, dtype=float)
    shape.rename_axis("column").reset_index(name="score").to_csv(pdir / "shape.csv", index=False)
    if len(shape):
        save("shape", plots.score_bars(shape, "Column shape score (KS / TV complement)"), "fidelity", "shapes")

    taken = {"shape", "pair_trends", "bias_groups", "utility", "privacy"}
    # Worst-scoring columns first; wide tables get data files for every column but figures
    # for the _MAX_FIGURES worst only, so the report stays readable and quick to write.
    for rank, v in enumerate(sorted(views, key=lambda v: shape.get(v.name, 1.0))):
        stem = "column_" + _safe(v.name, taken)
        dist = _dist_frame(v)
        dist.to_csv(pdir / f"{stem}.csv", index=False)
        if rank < _MAX_FIGURES:
            score = shape.get(v.name)
            png = plots.distribution(v.name, dist, None if pd.isna(score) else float(score))
            save(stem, png, "columns", v.name)

    pair_rows = [(a, b, s, 1.0 - s) for (a, b), s in pairs.items()]
    pair_df = pd.DataFrame(
        pair_rows + [(b, a, s, d) for a, b, s, d in pair_rows], columns=["column_a", "column_b", "score", "difference"]
    )
    pair_df.to_csv(pdir / "pair_trends.csv", index=False)
    pd.DataFrame(
        {"pair": [f"{a} ~ {b}" for a, b, _, _ in pair_rows], "score": [s for _, _, s, _ in pair_rows]},
        columns=["pair", "score"],
    ).to_csv(pdir / "pair_scores.csv", index=False)
    if len(pair_df):
        save("pair_trends", plots.pair_heatmap(pair_df), "fidelity", "pair trend differences")

    metrics = [m for m in ("roc_auc", "accuracy", "f1", "r2") if f"utility.real.{m}" in result]
    if metrics:
        save(
            "utility",
            plots.paired_bars(
                metrics,
                [result[f"utility.real.{m}"] for m in metrics],
                [result[f"utility.synthetic.{m}"] for m in metrics],
                "Trained on real vs on synthetic, tested on holdout",
                ("train on real", "train on synthetic"),
            ),
            "utility",
            "utility",
        )

    q = [k for k in ("p5", "p50") if f"privacy.dcr_synthetic_{k}" in result]
    if q:
        save(
            "privacy",
            plots.paired_bars(
                [f"DCR {k}" for k in q],
                [result[f"privacy.dcr_synthetic_{k}"] for k in q],
                [result[f"privacy.dcr_synthetic_holdout_{k}"] for k in q],
                "Synthetic rows: distance to closest train vs holdout row",
                ("to train", "to holdout"),
            ),
            "privacy",
            "privacy",
        )

    long = pd.concat(
        [
            groups.assign(source="real", rate=groups["rate_real"], share=groups["share_real"]),
            groups.assign(source="synthetic", rate=groups["rate_synthetic"], share=groups["share_synthetic"]),
        ]
    )
    long[["column", "group", "source", "rate", "share"]].to_csv(pdir / "bias_groups.csv", index=False)
    if len(groups) and groups["rate_real"].notna().any():
        labels = [f"{c}={g}" for c, g in zip(groups["column"], groups["group"])]
        save(
            "bias_groups",
            plots.paired_bars(
                labels,
                groups["rate_real"].fillna(0).tolist(),
                groups["rate_synthetic"].fillna(0).tolist(),
                "Target rate per group",
            ),
            "bias",
            "group rates",
        )
    return figs


def _mia_paragraph(result: dict) -> str:
    if "privacy.mia_auc" not in result:
        return "<p>Membership attack: not run (the holdout has fewer than 4 rows).</p>"
    return (
        "<p>Membership attack (synthetic table only): training rows as members against as many "
        "holdout rows as non-members; AUC 0.5 means the attacker cannot tell them apart. "
        "Distance attack: closeness to the nearest synthetic row. Density-ratio attack (DOMIAS-style): "
        "synthetic density over the density of a separate reference half of the holdout. "
        f"Stronger attack's AUC {result['privacy.mia_auc']:.3f} (95 % DeLong interval "
        f"{result['privacy.mia_auc_ci_low']:.3f} to {result['privacy.mia_auc_ci_high']:.3f}, "
        f"{int(result['privacy.mia_rows'])} rows per side).</p>"
    )


def _dp_paragraph(result: dict) -> str:
    if "privacy.dp_epsilon_spent" not in result:
        return (
            "<p>Differential privacy: off (privacy.epsilon not set). The distance and copy checks "
            "above are heuristics; they bound nothing.</p>"
        )
    r = result
    return (
        "<p><b>Differential privacy</b>: the whole path spent epsilon "
        f"{r['privacy.dp_epsilon_spent']:.3f} of {r['privacy.dp_epsilon_requested']:g} requested, "
        f"delta {r['privacy.dp_delta']:.3g} ({html.escape(str(r['privacy.dp_accountant']))} accountant): "
        f"the encoder's statistics epsilon {r['privacy.dp_epsilon_encoder']:.3f}, DP-SGD training "
        f"{r['privacy.dp_epsilon_training']:.3f} over {int(r['privacy.dp_steps'])} steps at sample rate "
        f"{r['privacy.dp_sample_rate']:.4g}, noise multiplier {r['privacy.dp_noise_multiplier']:.3f}, "
        f"clipping norm {r['privacy.dp_max_grad_norm']:g}. Copy redraws, which would read real rows, "
        "were off; the metrics in this report read real rows and are not part of the release.</p>"
    )


def _html(result: dict, passed: bool, reason: str, figs: dict, groups: pd.DataFrame, config: EvalConfig) -> str:
    headline = [(h.label, result[h.key], h.good) for h in HEADLINE if h.key in result]
    verdict = "PASSED" if passed else "FAILED"
    detail = reason.split(": ", 1)[-1]  # the reason starts with "passed: " / "failed: "
    areas = judge(result, config.verdicts, passed)
    weak = [a for a, v in areas.items() if v.level in ("warn", "fail")]
    # Green only when the gate passes and every area passes: a gate pass alone says nothing about
    # fidelity or utility (a column-shuffled table passes it).
    colour = "#cf222e" if not passed else "#9a6700" if weak else "#1a7f37"
    if passed and weak:
        detail += " — but " + ", ".join(f"{a} {areas[a].level.upper()}" for a in weak)
    area_rows = "".join(
        f"<tr><td>{a}</td><td class='lvl' style='background:{_LEVEL_COLOUR.get(v.level, '#eee')}'>"
        f"{v.level.upper()}</td><td>{html.escape(v.reason)}</td></tr>"
        for a, v in areas.items()
    )
    bias_rows = [
        (
            r.column,
            r.group,
            r.share_real,
            r.share_synthetic,
            r.rate_real,
            r.rate_synthetic,
            r.gap,
            "yes" if r.flagged else "",
        )
        for r in groups.itertuples(index=False)
    ]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>synthgen evaluation</title><style>",
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
        "font-size:13px;text-align:left}img{max-width:100%;margin:4px}.grid img{width:32%}"
        ".verdict{padding:.6em;color:#fff;font-weight:bold}.lvl{font-weight:bold;text-align:center}",
        "</style></head><body><h1>Synthetic data evaluation</h1>",
        "<h2>Summary</h2>",
        f"<div class='verdict' style='background:{colour}'>Privacy gate {verdict}: {html.escape(detail)}</div>",
        "<table class='areas'><tr><th>area</th><th>verdict</th><th>figures (limits: evaluate.verdicts)</th></tr>"
        f"{area_rows}</table>",
        _table(headline, ("metric", "value", "ideal")),
        f"<p>Rows compared: train {result.get('rows.train')}, holdout {result.get('rows.holdout')}, "
        f"synthetic {result.get('rows.synthetic')}; target: {html.escape(str(config.target))}.</p>",
        "<h2>Fidelity</h2><p>Shapes: KS complement for numbers, TV complement for categories. "
        "Pair trends: Spearman correlation similarity for two numbers, contingency similarity "
        "(10 real-quantile bins) otherwise. Detection: a gradient-boosted classifier telling real "
        "from synthetic rows (ROC AUC, 0.5 means indistinguishable).</p>",
        *figs["fidelity"],
        "<h3>Columns, worst shape score first</h3><div class='grid'>",
        *figs["columns"],
        "</div>",
        _table(_section_rows(result, "fidelity."), ("metric", "value")),
        "<h2>Utility</h2><p>The same learner trained on real train or on synthetic rows, scored on the "
        "real holdout; ratio = synthetic / real.</p>",
        *figs["utility"],
        _table(_section_rows(result, "utility."), ("metric", "value")),
        "<h2>Privacy</h2><p>DCR share: synthetic rows strictly closer to a train row than to any "
        "holdout row (equal-size samples; ties count half). Exact copies are compared with the "
        "share of holdout rows that also occur in train.</p>",
        _mia_paragraph(result),
        _dp_paragraph(result),
        *figs["privacy"],
        _table(_section_rows(result, "privacy."), ("metric", "value")),
        f"<h2>Bias</h2><p>Groups flagged when the target rate or the group's share moves by more "
        f"than {config.bias_threshold_points:g} points.</p>",
        *figs["bias"],
        _table(
            bias_rows,
            (
                "column",
                "group",
                "share real",
                "share synthetic",
                "rate real",
                "rate synthetic",
                "gap (points)",
                "flagged",
            ),
        )
        if bias_rows
        else "<p>No sensitive columns declared.</p>",
        "<h2>Validity</h2>",
        _table(_section_rows(result, "validity."), ("check", "count")),
        "<h2>Columns not modelled</h2>",
        _table(sorted(config.treatment.items()), ("column", "what was done"))
        if config.treatment
        else "<p>Every column is modelled.</p>",
        "</body></html>\n",
    ]
    return "\n".join(parts)
