"""Our shape and pair-trend metrics agree with SDMetrics (test-only reference) to 1e-6.

Deliberate differences, each checked here in its own way:
- TVComplement: we count null as a category, SDMetrics drops nulls. Equal on null-free
  columns; with nulls, equal to SDMetrics run on the column with nulls filled by a label.
- ContingencySimilarity with a number: we use 10 quantile bins of the real column;
  SDMetrics (continuous_column_names) uses 10 equal-width bins of the real column. Given the
  same bins, the scores are equal: checked both with our bins and with SDMetrics' bins.
  (QualityReport goes further and bins the synthetic column with its own edges.)
- CorrelationSimilarity: we use Spearman (SDMetrics' coefficient="Spearman"; QualityReport
  defaults to Pearson).
- Pair trends average over all pairs; SDMetrics 0.32's QualityReport leaves out pairs whose
  real association is weak (|rho| <= 0.5, Cramer's V <= 0.3).
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

sdmetrics = pytest.importorskip("sdmetrics")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # SDMetrics' own deprecations
from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity  # noqa: E402

with warnings.catch_warnings():  # the single-table report is deprecated in favour of a
    warnings.simplefilter("ignore", FutureWarning)  # multi-table one; same scores for one table
    from sdmetrics.reports.single_table import QualityReport  # noqa: E402
from sdmetrics.single_column import KSComplement, TVComplement  # noqa: E402

from synthgen.evaluate.columns import bin_codes, numbers  # noqa: E402
from synthgen.evaluate.fidelity import (  # noqa: E402
    column_views,
    contingency_similarity,
    correlation_similarity,
    ks_complement,
    pair_scores,
    shape_scores,
    tv_complement,
)

KINDS = {
    "x": "continuous",
    "n": "integer",
    "when": "datetime",
    "color": "categorical",
    "size": "categorical",
    "flag": "boolean",
}
NUMS = ["x", "n", "when"]
CATS = ["color", "size", "flag"]


def make(n: int, seed: int, nulls: bool) -> pd.DataFrame:
    """A small table; `seed` also shifts the distributions so real and synthetic differ."""
    rng = np.random.default_rng(seed)
    x = rng.normal(seed % 3, 1 + seed % 2, n)
    df = pd.DataFrame(
        {
            "x": x,
            "n": (2 * x + rng.normal(0, 2, n)).round().astype(np.int64),
            "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
            "color": pd.Series(rng.choice(["red", "green", "blue", "teal"], n, p=[0.4, 0.3, 0.2, 0.1]), dtype="string"),
            "size": pd.Series(np.where(x > 0.5, "L", rng.choice(["S", "M"], n)), dtype="string"),
            "flag": rng.random(n) < 0.3 + 0.05 * seed,
        }
    )
    if nulls:
        df.loc[rng.random(n) < 0.1, "x"] = np.nan
        df.loc[rng.random(n) < 0.1, "when"] = pd.NaT
        df.loc[rng.random(n) < 0.15, "color"] = pd.NA
    return df


CASES = [(seed, nulls) for seed in range(4) for nulls in (False, True)]


@pytest.fixture(params=CASES, ids=[f"seed{s}-{'nulls' if n else 'clean'}" for s, n in CASES])
def pair(request):
    seed, nulls = request.param
    return make(300, 100 + seed, nulls), make(220, 200 + seed, nulls)


def test_ks_complement(pair):
    real, syn = pair
    for col in NUMS:
        ours = ks_complement(numbers(real[col], KINDS[col]), numbers(syn[col], KINDS[col]))
        assert ours == pytest.approx(KSComplement.compute(real[col], syn[col]), abs=1e-6), col


def test_tv_complement(pair):
    real, syn = pair
    views = {v.name: v for v in column_views(real, syn, KINDS)}
    for col in CATS:
        ours = tv_complement(views[col].codes_real, views[col].codes_syn, views[col].n_codes)
        # Deliberate: null is a category for us; SDMetrics drops nulls, so give it a label.
        ref = TVComplement.compute(
            real[col].astype(object).where(real[col].notna(), "<null>"),
            syn[col].astype(object).where(syn[col].notna(), "<null>"),
        )
        assert ours == pytest.approx(ref, abs=1e-6), col
        if real[col].notna().all() and syn[col].notna().all():
            assert ours == pytest.approx(TVComplement.compute(real[col], syn[col]), abs=1e-6)


def test_correlation_similarity_spearman(pair):
    real, syn = pair
    for a, b in itertools.combinations(NUMS, 2):
        ours = correlation_similarity(
            numbers(real[a], KINDS[a]), numbers(real[b], KINDS[b]), numbers(syn[a], KINDS[a]), numbers(syn[b], KINDS[b])
        )
        ref = CorrelationSimilarity.compute(real[[a, b]], syn[[a, b]], coefficient="Spearman")
        assert ours == pytest.approx(ref, abs=1e-6), (a, b)


def test_contingency_similarity(pair):
    real, syn = pair
    views = {v.name: v for v in column_views(real, syn, KINDS)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SDMetrics assigns into slices of its inputs
        # two categorical columns (nulls are a category on both sides)
        for a, b in itertools.combinations(CATS, 2):
            va, vb = views[a], views[b]
            ours = contingency_similarity(
                va.codes_real, vb.codes_real, va.codes_syn, vb.codes_syn, va.n_codes, vb.n_codes
            )
            assert ours == pytest.approx(ContingencySimilarity.compute(real[[a, b]], syn[[a, b]]), abs=1e-6)
        for num, cat in itertools.product(["x", "n"], CATS):
            vn, vc = views[num], views[cat]
            ours = contingency_similarity(
                vn.codes_real, vc.codes_real, vn.codes_syn, vc.codes_syn, vn.n_codes, vc.n_codes
            )
            # (1) our quantile bins handed to SDMetrics as a discrete column
            r = pd.DataFrame({num: vn.codes_real, cat: real[cat]})
            s = pd.DataFrame({num: vn.codes_syn, cat: syn[cat]})
            assert ours == pytest.approx(ContingencySimilarity.compute(r, s), abs=1e-6), (num, cat)
            # (2) SDMetrics' own equal-width bins of the real column through our function
            vr, vs = numbers(real[num], "continuous"), numbers(syn[num], "continuous")
            edges = np.histogram_bin_edges(vr[~np.isnan(vr)], bins=10)
            edges[0], edges[-1] = -np.inf, np.inf
            br, bs = bin_codes(vr, edges), bin_codes(vs, edges)
            mine = contingency_similarity(br, vc.codes_real, bs, vc.codes_syn, len(edges), vc.n_codes)
            ref = ContingencySimilarity.compute(real[[num, cat]], syn[[num, cat]], continuous_column_names=[num])
            assert mine == pytest.approx(ref, abs=1e-6), (num, cat)


def _metadata(kinds):
    sd = {
        "continuous": "numerical",
        "integer": "numerical",
        "datetime": "datetime",
        "categorical": "categorical",
        "boolean": "boolean",
    }
    return {
        "columns": {
            c: {"sdtype": sd[k]} | ({"datetime_format": "%Y-%m-%d"} if k == "datetime" else {})
            for c, k in kinds.items()
        }
    }


def test_quality_report_agrees_where_definitions_coincide():
    real, syn = make(300, 7, nulls=False), make(250, 8, nulls=False)
    # Column shapes: same definitions on null-free categories (numbers may have nulls anyway)
    report = QualityReport()
    report.generate(real, syn, _metadata(KINDS), verbose=False)
    ours = float(np.mean(list(shape_scores(column_views(real, syn, KINDS)).values())))
    assert ours == pytest.approx(report.get_properties().set_index("Property").loc["Column Shapes", "Score"], abs=1e-6)
    # Pair trends: same definitions when every column is categorical (nulls included)
    real.loc[::7, "color"] = pd.NA
    syn.loc[::5, "color"] = pd.NA
    cats = {c: KINDS[c] for c in CATS}
    report = QualityReport()
    # Deliberate: we average over all pairs; SDMetrics 0.32 averages only pairs whose real
    # association is strong (|rho| > 0.5, Cramer's V > 0.3). Zero thresholds = all pairs.
    report.real_association_threshold = report.real_correlation_threshold = 0
    report.generate(real[CATS], syn[CATS], _metadata(cats), verbose=False)
    ours = float(np.mean(list(pair_scores(column_views(real, syn, cats)).values())))
    ref = report.get_properties().set_index("Property").loc["Column Pair Trends", "Score"]
    assert ours == pytest.approx(ref, abs=1e-6)
