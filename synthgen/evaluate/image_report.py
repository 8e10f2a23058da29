"""write_image_evaluation: metrics.json, plots/ and one self-contained HTML for images.

Layout of out_dir (fixed names, so DVC can declare them as outs):
    metrics.json              the flat result of evaluate_images, sorted keys
    headline.json             its headline figures (what `dvc metrics show` reads)
    report.html               summary (each number beside its real-data reference), what the
                              numbers mean, samples, per-class utility, privacy, every metric
    plots/samples.png         synthetic samples, one row per class (first 10 of each)
    plots/per_class.csv       class, name, counts, real accuracy, CAS (DVC plot data)
    plots/per_class_accuracy.png, plots/class_counts.png
Everything is written to a sibling temporary folder, then renamed into place (io.staged_dir).
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from synthgen.evaluate import plots
from synthgen.evaluate.headline import IMAGE as HEADLINE
from synthgen.io import staged_dir
from synthgen.summary import write_headline
from synthgen.writers.png import sample_grid_png

_PER_CLASS = 10  # samples per class in the grid
_MIN_CELL = 28  # grid cells are enlarged (nearest) to at least this many pixels

_MEANINGS = [
    (
        "Feature space",
        "The penultimate layer (128 units) of a small CNN trained on the real train "
        "images; it is cached per data set and trained deterministically. Real test images are the "
        "reference set for the feature-space metrics.",
    ),
    (
        "Fréchet distance",
        "Distance between Gaussians fitted to the features of the real test images "
        "and of the synthetic images (the FID formula in this classifier's feature space). The floor "
        "is the same distance between real train and real test images: what a perfect generator "
        "would score with samples of these sizes. Lower is better; near the floor is ideal.",
    ),
    (
        "Precision / recall",
        "Kynkäänniemi et al. (2019): precision is the share of synthetic images "
        "inside the real manifold (the union of balls around each real test image out to its k-th "
        "nearest real neighbour), recall the share of real test images inside the synthetic manifold. "
        "Reference: the same with the real train images in place of the synthetic ones.",
    ),
    (
        "Density / coverage",
        "Naeem et al. (2020), robust to real outliers (which can let precision "
        "credit junk images): density is the mean number of real balls holding a synthetic image, "
        "divided by k (about 1 for real data); coverage the share of real balls holding at least one.",
    ),
    (
        "CAS",
        "Classification accuracy score (Ravuri & Vinyals 2019): a fresh classifier of the same "
        "architecture trained only on synthetic images (per class as many as the real train split "
        "has), tested on the real test images, beside the accuracy of the classifier trained on the "
        "real train images. A ratio near 1 means the synthetic labels and images carry the class "
        "information of the real ones.",
    ),
    (
        "Inception FID",
        "The standard FID (torchmetrics, Inception-v3 pool features); computed only "
        "when a local weights file is configured, never downloaded.",
    ),
    (
        "Pixel / class TV",
        "Total variation distance (0 to 1) between the pixel-intensity histograms "
        "(32 bins) of real train and synthetic images, and between their class shares.",
    ),
    (
        "Copies",
        "Exact copies: synthetic images byte-identical to a train image. Near copies: synthetic "
        "images whose nearest train image (pixel L2) is no farther than the copy_quantile quantile of "
        "the real test images' nearest-train distances; a fresh real sample has about copy_quantile of "
        "its images there, so a clearly larger share means the generator reproduces train images.",
    ),
]


def write_image_evaluation(result: dict, synth_images, synth_labels, class_names, out_dir: Path) -> Path:
    """Write metrics.json, plots/ and report.html for `result` (from evaluate_images) to out_dir."""
    names = [str(c) for c in class_names]
    images = np.asarray(synth_images)
    ys = np.asarray(synth_labels).reshape(-1)
    clean = {k: _plain(v) for k, v in result.items()}
    table = _per_class(clean, names)
    with staged_dir(Path(out_dir)) as stage:
        pdir = stage / "plots"
        pdir.mkdir()
        scale = max(1, math.ceil(_MIN_CELL / max(images.shape[1], images.shape[2])))
        grid = sample_grid_png(images, ys, len(names), per_class=_PER_CLASS, scale=scale)
        (pdir / "samples.png").write_bytes(grid)
        table.to_csv(pdir / "per_class.csv", index=False)
        labels = [n[:18] if n == str(c) else f"{c}: {n}"[:18] for c, n in zip(table["class"], table["name"])]
        figs = {}
        if table["cas"].notna().any():
            figs["accuracy"] = plots.paired_bars(
                labels,
                table["real_accuracy"].fillna(0).tolist(),
                table["cas"].fillna(0).tolist(),
                "Per-class accuracy on real test images",
                ("trained on real", "trained on synthetic"),
            )
        figs["counts"] = plots.paired_bars(
            labels,
            table["train"].fillna(0).tolist(),
            table["synthetic"].fillna(0).tolist(),
            "Images per class",
            ("real train", "synthetic"),
        )
        for key, name in (("accuracy", "per_class_accuracy"), ("counts", "class_counts")):
            if key in figs:
                (pdir / f"{name}.png").write_bytes(figs[key])
        (stage / "report.html").write_text(_html(clean, table, grid, figs), encoding="utf-8")
        text = json.dumps(clean, sort_keys=True, indent=1, allow_nan=False) + "\n"  # last: NaN fails here
        (stage / "metrics.json").write_text(text, encoding="utf-8")
        write_headline(stage, clean)
    return Path(out_dir)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _plain(v):
    """numpy scalars -> Python numbers, so json.dumps takes them."""
    return v.item() if isinstance(v, np.generic) else v


def _per_class(result: dict, names: list[str]) -> pd.DataFrame:
    rows = []
    for k, name in enumerate(names):
        g = lambda key: result.get(f"{key}.class_{k}")  # noqa: E731
        rows.append(
            {
                "class": k,
                "name": name,
                "train": g("counts.train"),
                "test": g("counts.test"),
                "synthetic": g("counts.synthetic"),
                "cas_train": g("counts.cas_train"),
                "real_accuracy": g("utility.real_accuracy"),
                "cas": g("utility.cas"),
            }
        )
    return pd.DataFrame(
        rows, columns=["class", "name", "train", "test", "synthetic", "cas_train", "real_accuracy", "cas"]
    ).astype({"real_accuracy": float, "cas": float})


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 1000 else f"{v:.4f}"
    return str(v)


def _table(rows: list[tuple], head: tuple) -> str:
    th = "".join(f"<th>{html.escape(str(h))}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _html(r: dict, table: pd.DataFrame, grid: bytes, figs: dict) -> str:
    summary = [
        (
            h.label,
            "skipped (see the note)" if r.get(h.key) is None else r[h.key],
            r.get(h.reference) if h.reference else None,
            h.good,
        )
        for h in HEADLINE
        if h.key in r
    ]
    notes = [p + str(r[k]) for k, p in (("fidelity.inception_fid_note", ""), ("utility.cas_note", "CAS: ")) if r.get(k)]
    names = ", ".join(f"{c}: {n}" for c, n in zip(table["class"], table["name"]))
    per_class = [tuple(None if pd.isna(x) else x for x in row) for row in table.itertuples(index=False, name=None)]
    privacy = [(k, v) for k, v in sorted(r.items()) if k.startswith("privacy.")]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>synthgen image evaluation</title><style>",
        "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
        "font-size:13px;text-align:left}img{max-width:100%;margin:4px}.samples img{image-rendering:pixelated}"
        "dt{font-weight:bold;margin-top:.5em}.note{background:#fff8c5;padding:.4em}",
        "</style></head><body><h1>Synthetic image evaluation</h1>",
        f"<p>Images {r.get('data.height')}×{r.get('data.width')}×{r.get('data.channels')}, "
        f"{r.get('data.n_classes')} classes; real train {r.get('counts.train')}, real test "
        f"{r.get('counts.test')}, synthetic {r.get('counts.synthetic')}.</p>",
        "<h2>Summary</h2>",
        _table(summary, ("metric", "value", "reference (real data)", "ideal")),
        *(f"<p class='note'>{html.escape(str(n))}</p>" for n in notes),
        "<h2>What the numbers mean</h2><dl>",
        *(f"<dt>{html.escape(t)}</dt><dd>{html.escape(d)}</dd>" for t, d in _MEANINGS),
        "</dl>",
        "<h2>Synthetic samples</h2>",
        f"<p>One row per class, top to bottom ({html.escape(names)}); the first "
        f"{_PER_CLASS} synthetic images of each class, grey cells where a class has fewer.</p>",
        f"<div class='samples'>{_img(grid, 'synthetic samples, one row per class')}</div>",
        "<h2>Utility per class</h2><p>Accuracy (recall) per class on the real test images of the "
        "classifier trained on real train images and of the one trained on synthetic images (CAS); "
        "cas_train is how many synthetic images of the class it was trained on.</p>",
        _img(figs["accuracy"], "per-class accuracy") if "accuracy" in figs else "",
        _img(figs["counts"], "class counts"),
        _table(per_class, tuple(table.columns)),
        "<h2>Privacy</h2>",
        _table(privacy, ("metric", "value")),
        "<h2>All metrics</h2>",
        _table(sorted(r.items()), ("key", "value")),
        "</body></html>\n",
    ]
    return "\n".join(parts)
