"""One-hot flags (synthgen/evaluate/exclusive_flags.py): the groups found in the real rows, and the
synthetic share of rows that set at most one flag of a group, alone and inside evaluate_tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.evaluate import EvalConfig, evaluate_tables
from synthgen.evaluate.exclusive_flags import exclusive_groups, scores


def _patients(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, dict[str, str]]:
    """Race x sex as three dummies beside a baseline (kidney_transplant's coding), a flag drawn
    independently of them, a 0/1/2 code, an age and a text column."""
    rng = np.random.default_rng(seed)
    group = rng.choice(4, n, p=[0.5, 0.1, 0.1, 0.3])  # white male, black male, black female, baseline
    df = pd.DataFrame(
        {
            "white_male": (group == 0).astype(int),
            "black_male": (group == 1).astype(int),
            "black_female": (group == 2).astype(int),
            "death": rng.random(n) < 0.2,  # a boolean flag, independent of the group
            "stage": rng.integers(0, 3, n),  # 0 / 1 / 2: not a flag
            "age": rng.integers(20, 80, n),
            "name": [f"p{i}" for i in range(n)],
        }
    )
    kinds = {"white_male": "integer", "black_male": "integer", "black_female": "integer", "death": "boolean"}
    return df, {**kinds, "stage": "integer", "age": "integer", "name": "text"}


def test_the_dummies_of_one_category_are_a_group_and_an_independent_flag_is_not():
    real, kinds = _patients()
    assert exclusive_groups(real, kinds) == [["white_male", "black_male", "black_female"]]  # most often set first


def test_rare_flags_apart_by_chance_are_no_group():
    rng = np.random.default_rng(1)
    n = 300
    a = np.zeros(n, dtype=int)
    b = np.zeros(n, dtype=int)
    a[rng.choice(n // 2, 9, replace=False)] = 1  # 3 % each, in different halves: never both set,
    b[n // 2 + rng.choice(n // 2, 9, replace=False)] = 1  # but 300 x 0.03 x 0.03 = 0.27 rows expected
    real = pd.DataFrame({"a": a, "b": b})
    assert exclusive_groups(real, {"a": "integer", "b": "integer"}) == []


def test_a_float_column_of_0_and_1_with_nulls_is_a_flag_and_codes_beyond_1_are_not():
    real, kinds = _patients()
    real["white_male"] = real["white_male"].astype(float).where(real.index % 50 != 0)  # 2 % null
    assert exclusive_groups(real, {**kinds, "white_male": "continuous"})[0][0] == "white_male"
    real["black_male"] = real["black_male"] * 2  # 0 / 2: not a flag
    assert exclusive_groups(real, kinds) == [["white_male", "black_female"]]


def test_the_score_is_the_share_of_rows_setting_at_most_one_flag():
    real, kinds = _patients()
    assert scores(real, real, kinds) == {"fidelity.exclusive.white_male": 1.0, "fidelity.exclusive_flags": 1.0}
    syn = real.copy()
    syn.loc[:79, ["white_male", "black_male"]] = 1  # 80 of 800 rows both white and black
    assert scores(real, syn, kinds)["fidelity.exclusive_flags"] == pytest.approx(0.9)
    syn.loc[:79, "black_female"] = np.nan  # rows missing a member of the group are not scored
    assert scores(real, syn, kinds)["fidelity.exclusive_flags"] == 1.0
    assert scores(real, syn.drop(columns="black_female"), kinds) == {}  # a set lacking a member: no score


def test_evaluate_tables_reports_the_worst_group():
    real, kinds = _patients(600)
    real = real.drop(columns="name")
    kinds.pop("name")
    train, holdout = real.iloc[:400].reset_index(drop=True), real.iloc[400:].reset_index(drop=True)
    syn = train.copy()
    syn.loc[:39, "black_female"] = 1 - syn.loc[:39, "black_female"]  # sets a second flag where one was set
    both = int(((syn[["white_male", "black_male", "black_female"]] == 1).sum(axis=1) > 1).sum())
    result = evaluate_tables(train, holdout, syn, kinds, EvalConfig(target="death", detection_folds=2))
    assert result["fidelity.exclusive_flags"] == pytest.approx(1 - both / len(syn))
    assert 0 < both < 40
