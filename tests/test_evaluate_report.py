"""write_evaluation: the files DVC and people read, self-contained HTML, atomic replacement."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from synthgen.evaluate import EvalConfig, evaluate_tables, write_evaluation

KINDS = {
    "age": "integer",
    "income": "continuous",
    "city": "categorical",
    "member": "boolean",
    "uid": "identifier",
    "target": "categorical",
}
CFG = EvalConfig(target="target", sensitive=["city"], detection_folds=2)


def make_table(n: int, seed: int, prefix: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    city = pd.Series(rng.choice(["Oslo", "Lima", "São Paulo"], n), dtype="string")
    city[rng.random(n) < 0.1] = pd.NA
    return pd.DataFrame(
        {
            "age": age,
            "income": np.exp(8 + 0.02 * age + rng.normal(0, 0.4, n)),
            "city": city,
            "member": rng.random(n) < 0.4,
            "uid": [f"{prefix}{i}" for i in range(n)],
            "target": np.where(rng.random(n) < 0.1 + age / 200, ">50K", "<=50K"),
        }
    )


@pytest.fixture(scope="module")
def case():
    train, holdout, syn = make_table(250, 1, "t"), make_table(250, 2, "h"), make_table(250, 3, "s")
    return train, holdout, syn, evaluate_tables(train, holdout, syn, KINDS, CFG)


@pytest.fixture(scope="module")
def out(case, tmp_path_factory):
    train, holdout, syn, result = case
    out_dir = tmp_path_factory.mktemp("eval") / "evaluation"
    write_evaluation(result, train, holdout, syn, KINDS, CFG, out_dir)
    return out_dir


def test_metrics_json_is_the_result_with_sorted_keys(case, out):
    text = (out / "metrics.json").read_text()
    loaded = json.loads(text)
    assert loaded == case[3]
    assert list(loaded) == sorted(loaded)


def test_headline_json_is_the_few_figures_dvc_metrics_show_reads(case, out):
    headline = json.loads((out / "headline.json").read_text())
    result = case[3]
    assert {"fidelity.shape", "fidelity.detection_auc", "privacy.dcr_share", "gate.passed"} <= set(headline)
    assert all(headline[k] == result[k] for k in headline) and len(headline) < 20 < len(result)
    pairs = pd.read_csv(out / "plots" / "pair_scores.csv")  # one bar per unordered pair in DVC's plot
    assert list(pairs.columns) == ["pair", "score"] and len(pairs) == 5 * 4 // 2


def test_plot_data_files_are_long_format_csv(case, out):
    plots = out / "plots"
    for col in ("age", "income", "city", "member", "target"):
        dist = pd.read_csv(plots / f"column_{col}.csv")
        assert list(dist.columns) == ["bin", "source", "share"]
        assert set(dist["source"]) == {"real", "synthetic"}
        assert dist.groupby("source")["share"].sum().to_numpy() == pytest.approx([1.0, 1.0])
        assert (plots / f"column_{col}.png").read_bytes()[:4] == b"\x89PNG"
    assert not (plots / "column_uid.csv").exists()  # identifiers have no distribution
    pairs = pd.read_csv(plots / "pair_trends.csv")
    assert list(pairs.columns) == ["column_a", "column_b", "score", "difference"]
    assert len(pairs) == 5 * 4  # 5 scored columns, both orders
    groups = pd.read_csv(plots / "bias_groups.csv", keep_default_na=False)
    assert list(groups.columns) == ["column", "group", "source", "rate", "share"]
    assert {"Oslo", "São Paulo", "<null>"} <= set(groups["group"])
    for name in ("shape", "pair_trends", "utility", "privacy", "bias_groups"):
        assert (plots / f"{name}.png").exists(), name


def test_report_is_self_contained_with_the_summary_first(case, out):
    page = (out / "report.html").read_text(encoding="utf-8")
    # nothing loaded from elsewhere: no scripts, stylesheets or remote/relative images
    assert "<script" not in page and "<link" not in page and "http" not in page
    srcs = re.findall(r'src="([^"]+)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    order = [
        page.index(h) for h in ("<h2>Summary", "<h2>Fidelity", "<h2>Utility", "<h2>Privacy", "<h2>Bias", "<h2>Validity")
    ]
    assert order == sorted(order)
    summary = page[order[0] : order[1]]
    assert "Privacy gate PASSED" in summary and "DCR share" in summary
    assert f"{case[3]['fidelity.overall']:.4f}" in summary
    assert "São Paulo" in page


def test_a_failed_write_keeps_the_previous_output_and_leaves_no_debris(case, out):
    train, holdout, syn, result = case
    before = (out / "metrics.json").read_text()
    broken = {**result, "fidelity.shape": float("nan")}  # JSON has no NaN: fails after the plots
    with pytest.raises(ValueError):
        write_evaluation(broken, train, holdout, syn, KINDS, CFG, out)
    assert (out / "metrics.json").read_text() == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["evaluation"]


def test_a_failing_gate_is_reported_with_its_reason(case, tmp_path):
    train, holdout, _, _ = case
    copy = evaluate_tables(train, holdout, train.copy(), KINDS, CFG)
    write_evaluation(copy, train, holdout, train.copy(), KINDS, CFG, tmp_path / "ev")
    page = (tmp_path / "ev" / "report.html").read_text(encoding="utf-8")
    assert "Privacy gate FAILED: exact copies" in page
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["gate.passed"] == 0
