"""Date parts: a column that is a part of a date column (its year, month, hour, weekday; a number or
a name) is found, written from its date in every synthetic row, and scored; a number that merely
ranges like one is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.date_parts import find_date_parts, scores
from synthgen.errors import SynthgenError
from tests.rule_helpers import decoded_random_tokens, schema_and_encoder


def orders(n: int, seed: int = 0) -> pd.DataFrame:
    """Order times over three years (as text, as an export writes them) with their year, month,
    month name, weekday name and hour; a quantity of 1..12 beside them, and a tenth of the times
    missing (their parts too)."""
    rng = np.random.default_rng(seed)
    at = pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24 * 60, n), "min"))
    at[rng.random(n) < 0.1] = pd.NaT
    return pd.DataFrame(
        {
            "ordered": at.dt.strftime("%Y-%m-%d %H:%M"),
            "year": at.dt.year.astype("Int64"),
            "month": at.dt.month.astype("Int64"),
            "month_name": at.dt.strftime("%b"),
            "weekday": at.dt.day_name(),
            "hour": at.dt.hour.astype("Int64"),
            "qty": rng.integers(1, 13, n),
        }
    )


def test_parts_are_found_and_a_number_in_the_same_range_is_not():
    df = orders(1500)
    moments = {"ordered": pd.to_datetime(df["ordered"]).to_numpy()}
    cols = {c: df[c] for c in ("year", "month", "month_name", "weekday", "hour", "qty")}
    cols["year"], cols["month"], cols["hour"] = (df[c].astype("float64") for c in ("year", "month", "hour"))
    found = {p["column"]: p["part"] for p in find_date_parts(moments, cols)}
    assert found == {
        "year": "year",
        "month": "month",
        "month_name": "month_abbr",
        "weekday": "day_name",
        "hour": "hour",
    }


def test_the_encoder_writes_each_part_from_its_date_and_the_score_sees_parts_drawn_apart():
    df = orders(1500)
    s, enc = schema_and_encoder(df)
    assert {p["column"] for p in s.date_parts} == {"year", "month", "month_name", "weekday", "hour"}
    assert not s.dependencies  # the month name is the date's, not the month number's lookup
    syn = decoded_random_tokens(enc, 4000, seed=1)
    at = pd.to_datetime(syn["ordered"])
    set_ = at.notna()
    assert (syn["month"][set_] == at.dt.month[set_]).all() and (syn["hour"][set_] == at.dt.hour[set_]).all()
    assert (syn["weekday"][set_] == at.dt.day_name()[set_]).all()
    assert (syn["month_name"][set_] == at.dt.strftime("%b")[set_]).all()
    kinds = s.kinds()
    got = scores(df, syn, kinds)
    assert got["fidelity.date_parts"] == 1.0 and len(got) == 6
    shuffled = df.assign(month=df["month"].sample(frac=1, random_state=0).to_numpy())
    assert scores(df, shuffled, kinds)["fidelity.date_part.month"] < 0.2
    with pytest.raises(SynthgenError, match="the month of 'ordered'"):
        enc.condition_tokens({"month": 3})
