"""Membership inference from the synthetic table: a copy of train is caught, a fresh sample is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from synthgen.evaluate import EvalConfig, GateConfig, check_gate
from synthgen.evaluate.membership import _entity_start, delong_auc, membership_metrics
from tests.test_evaluate_metrics import KINDS, _clustered_rows, make_table

SCORED = ["age", "income", "city", "member", "grade", "target"]


@pytest.fixture(scope="module")
def real():
    # 2,000 rows each: large enough that chance sits inside a DeLong interval of width ~0.1
    return make_table(2000, 11, "tr"), make_table(2000, 12, "ho")


def test_delong_auc_matches_sklearn_and_its_interval_covers_it():
    rng = np.random.default_rng(0)
    pos, neg = rng.normal(0.5, 1, 300), rng.normal(0, 1, 400)
    pos[:20] = neg[:20]  # ties count half in both
    auc, lo, hi = delong_auc(pos, neg)
    y = np.r_[np.ones(300), np.zeros(400)]
    assert auc == pytest.approx(roc_auc_score(y, np.r_[pos, neg]))
    assert lo < auc < hi and 0.05 < hi - lo < 0.2
    assert delong_auc(np.ones(5), np.zeros(5)) == (1.0, 1.0, 1.0)


def test_a_copy_of_the_training_table_is_caught(real):
    train, holdout = real
    r = membership_metrics(train, holdout, train.copy(), KINDS, SCORED, 0, 25_000)
    assert r["privacy.mia_auc_distance"] > 0.97
    assert r["privacy.mia_auc_density_ratio"] > 0.97
    assert r["privacy.mia_auc"] > 0.97 and r["privacy.mia_auc_ci_low"] > 0.95
    assert r["privacy.mia_rows"] == 1000  # half the holdout; the other half is the reference


def test_an_independent_sample_scores_chance(real):
    train, holdout = real
    r = membership_metrics(train, holdout, make_table(2000, 13, "sy"), KINDS, SCORED, 0, 25_000)
    for name in ("distance", "density_ratio"):
        auc = r[f"privacy.mia_auc_{name}"]
        assert abs(auc - 0.5) < 0.05, (name, auc)
        assert r[f"privacy.mia_auc_{name}_ci_low"] < 0.5 < r[f"privacy.mia_auc_{name}_ci_high"]


def test_partial_memorisation_lies_between(real):
    # a third of the synthetic rows are training rows, the rest fresh: a weaker, still visible leak
    train, holdout = real
    fresh = make_table(2000, 14, "sy")
    half = pd.concat([train.iloc[:700], fresh.iloc[700:]], ignore_index=True)
    r = membership_metrics(train, holdout, half, KINDS, SCORED, 0, 25_000)
    assert 0.55 < r["privacy.mia_auc"] < 0.9


def test_an_entity_table_is_attacked_in_whole_entities():
    """Real rows of entities no one saw, as if synthetic: with the holdout's halves cut at random,
    each non-member's entity sits in the reference half and the density ratio tells non-members
    apart (~0.8); with whole entities on each side it is chance."""
    rng = np.random.default_rng(0)
    train, holdout, unseen = (_clustered_rows(np.arange(a, b), rng) for a, b in ((0, 600), (600, 750), (750, 900)))
    kinds = {"key": "identifier", "x": "continuous", "y": "continuous"}
    by_rows, by_entities = (
        membership_metrics(train, holdout, unseen, kinds, ["x", "y"], 0, 25_000, e) for e in (None, "key")
    )
    assert by_rows["privacy.mia_auc_density_ratio"] > 0.7
    for name in ("distance", "density_ratio"):
        assert abs(by_entities[f"privacy.mia_auc_{name}"] - 0.5) < 0.08, (name, by_entities)


def test_the_non_members_end_where_an_entity_starts():
    keys = pd.Series(["a", "a", "b", "b", "b", "c"])
    assert [_entity_start(keys, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 2, 5]  # 1: "a" starts at 0, too early


def test_too_small_a_holdout_reports_nothing(real):
    train, holdout = real
    assert membership_metrics(train, holdout.iloc[:3], train, KINDS, SCORED, 0, 25_000) == {}


def test_the_gate_reads_mia_auc_max_only_when_set():
    base = {
        "privacy.exact_copies_synthetic_share": 0.0,
        "privacy.exact_copies_holdout_share": 0.0,
        "privacy.dcr_share": 0.5,
        "privacy.mia_auc": 0.58,
    }
    assert check_gate(base, EvalConfig())[0]  # default None: reported, not gating
    passed, reason = check_gate(base, EvalConfig(gate=GateConfig(mia_auc_max=0.55)))
    assert not passed and "membership attack AUC 0.580 > 0.550" in reason
    passed, reason = check_gate(base, EvalConfig(gate={"mia_auc_max": 0.6}))
    assert passed and "membership attack AUC 0.580 <= 0.600" in reason


def test_evaluation_reports_the_attack_in_metrics_json_and_the_report(tmp_path):
    import json

    from synthgen.evaluate import evaluate_tables, write_evaluation

    train, holdout, syn = make_table(300, 1, "tr"), make_table(300, 2, "ho"), make_table(300, 3, "sy")
    cfg = EvalConfig(detection_folds=2, gate=GateConfig(mia_auc_max=0.9))
    result = evaluate_tables(train, holdout, syn, KINDS, cfg)
    write_evaluation(result, train, holdout, syn, KINDS, cfg, tmp_path / "ev")
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["privacy.mia_rows"] == 150 and metrics["privacy.mia_auc"] < 0.65
    page = (tmp_path / "ev" / "report.html").read_text()
    assert "Membership attack ROC AUC" in page and "DeLong interval" in page
    assert "membership attack AUC" in page  # the gate's verdict names it when it gates
