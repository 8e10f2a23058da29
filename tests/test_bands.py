"""Bands: a category that is the interval a number column falls in (an income bracket beside the
income, a BMI category beside the BMI) is found, written from its number in every synthetic row,
and scored; a flag that merely leans on a number, or a category independent of it, is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.bands import find_bands, scores
from synthgen.errors import SynthgenError
from tests.rule_helpers import decoded_random_tokens, schema_and_encoder


def survey(n: int, seed: int = 0, slips: float = 0.0) -> pd.DataFrame:
    """Incomes with their bracket, BMIs with their category (cut at 18.5, 25, 30), an unrelated
    group, and a rare flag more likely at high incomes; `slips`: share of brackets mistyped."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(10.5, 0.6, n), 2)
    bracket = np.select([income < 20_000, income < 50_000, income < 100_000], ["low", "middle", "upper"], "high")
    wrong = rng.random(n) < slips
    bracket = np.where(wrong, rng.choice(["low", "middle", "upper", "high"], n), bracket)
    bmi = np.round(rng.normal(27, 5, n), 1)
    return pd.DataFrame(
        {
            "income": income,
            "bracket": bracket,
            "bmi": bmi,
            "bmi_group": np.select([bmi < 18.5, bmi < 25, bmi < 30], ["under", "normal", "over"], "obese"),
            "group": rng.choice(["a", "b", "c"], n),
            "vip": np.where(rng.random(n) < 0.02 + 0.1 * (income > 80_000), "yes", "no"),
        }
    )


def columns(df: pd.DataFrame) -> tuple[dict, dict]:
    cats = {c: df[c].astype(object) for c in ("bracket", "bmi_group", "group", "vip")}
    return cats, {c: df[c].to_numpy(np.float64) for c in ("income", "bmi")}


def test_bands_are_found_with_their_cuts_and_leaning_or_unrelated_columns_are_not():
    found = {b["column"]: b for b in find_bands(*columns(survey(2000)))}
    assert set(found) == {"bracket", "bmi_group"}
    assert found["bmi_group"]["by"] == "bmi" and found["bmi_group"]["levels"] == ["under", "normal", "over", "obese"]
    assert np.allclose(found["bmi_group"]["cuts"], [18.5, 25, 30], atol=0.3)  # midway between two real values
    assert found["bracket"]["levels"] == ["low", "middle", "upper", "high"]
    # a slip in 0.5 % of the rows does not hide the band; in 5 % it is no band
    assert "bracket" in {b["column"] for b in find_bands(*columns(survey(2000, slips=0.005)))}
    assert "bracket" not in {b["column"] for b in find_bands(*columns(survey(2000, slips=0.05)))}


def test_the_encoder_writes_each_band_from_its_number_and_the_score_sees_bands_drawn_apart():
    df = survey(1500)
    s, enc = schema_and_encoder(df)
    assert {(b["column"], b["by"]) for b in s.bands} == {("bracket", "income"), ("bmi_group", "bmi")}
    assert {"bracket", "bmi_group"} <= enc.derived
    syn = decoded_random_tokens(enc, 4000, seed=1)
    kinds = s.kinds()
    assert scores(df, syn, kinds) == {
        "fidelity.band.bracket": 1.0,
        "fidelity.band.bmi_group": 1.0,
        "fidelity.bands": 1.0,
    }
    cut = syn["bmi"] < s.bands[[b["column"] for b in s.bands].index("bmi_group")]["cuts"][0]
    assert (syn["bmi_group"][cut] == "under").all() and (syn["bmi_group"][~cut] != "under").all()
    shuffled = df.assign(bmi_group=df["bmi_group"].sample(frac=1, random_state=0).to_numpy())
    assert scores(df, shuffled, kinds)["fidelity.band.bmi_group"] < 0.5
    with pytest.raises(SynthgenError, match="the band 'bmi' falls in"):
        enc.condition_tokens({"bmi_group": "over"})
