"""Ages: an integer column that is the whole years between a birth date and a later date (another
column or one fixed day) is found in the real rows, kept in every synthetic row, and scored."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synthgen.ages import birth_dates, calendar_age
from synthgen.encoders import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.evaluate.orderings import age_agreement
from synthgen.schema import infer_schema

EPOCH = dt.date(1970, 1, 1)


def python_age(born: dt.date, at: dt.date) -> int:
    """The reference: years from born to at, minus one before that year's birthday."""
    return at.year - born.year - ((at.month, at.day) < (born.month, born.day))


def days(d: dt.date) -> int:
    return (d - EPOCH).days


def test_calendar_age_matches_the_reference_on_leap_days_and_birthdays():
    rng = np.random.default_rng(0)
    born = rng.integers(-20_000, 20_000, 3000)
    at = born + rng.integers(0, 40_000, 3000)
    leap = [
        (dt.date(2000, 2, 29), dt.date(2001, 2, 28)),
        (dt.date(2000, 2, 29), dt.date(2001, 3, 1)),
        (dt.date(1999, 3, 1), dt.date(2000, 2, 29)),
        (dt.date(1980, 6, 15), dt.date(2020, 6, 15)),
        (dt.date(1980, 6, 15), dt.date(2020, 6, 14)),
    ]
    born = np.concatenate([born, [days(b) for b, _ in leap]])
    at = np.concatenate([at, [days(a) for _, a in leap]])
    want = [python_age(EPOCH + dt.timedelta(int(b)), EPOCH + dt.timedelta(int(a))) for b, a in zip(born, at)]
    assert calendar_age(born, at).tolist() == want


def test_birth_dates_give_exactly_the_age_and_spread_over_the_year():
    rng = np.random.default_rng(1)
    at = np.concatenate([rng.integers(0, 20_000, 5000), np.full(500, days(dt.date(2016, 2, 29)))])
    age = rng.integers(0, 100, len(at))
    born = birth_dates(at, age, rng)
    assert (calendar_age(born, at) == age).all()
    one = birth_dates(np.full(5000, days(dt.date(2016, 4, 19))), np.full(5000, 30), rng)
    assert len(np.unique(one)) > 300  # any day of the year of birthdays that give 30, not one day


def test_birth_dates_stay_within_the_real_range_where_the_age_allows():
    """A visit-age pair at the edge of the real birth dates got a birth date before the earliest
    real one (7-25 synthetic cells out of the domain on a 1,807-row visits table): the draw keeps
    to [lo, hi] wherever a day in it gives the age, and gives exactly the age everywhere."""
    rng = np.random.default_rng(2)
    at = rng.integers(days(dt.date(2018, 1, 1)), days(dt.date(2023, 12, 31)), 20_000)
    age = rng.integers(18, 85, len(at))
    lo, hi = days(dt.date(1940, 1, 21)), days(dt.date(1999, 11, 28))
    born = birth_dates(at, age, rng, lo, hi)
    assert (calendar_age(born, at) == age).all()
    # a day in [lo, hi] gives the age iff the age on `at` of lo is at least it and of hi at most it
    meets = (calendar_age(np.full(len(at), lo), at) >= age) & (calendar_age(np.full(len(at), hi), at) <= age)
    assert 0.9 < meets.mean() < 1  # ages 84 in 2018: born before 1940
    assert ((born >= lo) & (born <= hi))[meets].all()
    unbounded = birth_dates(at, age, np.random.default_rng(2))
    assert not ((unbounded >= lo) & (unbounded <= hi))[meets].all()  # without the range some fell out


def people(n: int, seed: int = 0, noise: float = 0.0) -> pd.DataFrame:
    """dob, a visit date, age at the visit, age on 2016-04-19 (an extraction day), an unrelated count."""
    rng = np.random.default_rng(seed)
    dob = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 20_000, n), "D")
    visit = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    at_visit = calendar_age(
        dob.values.astype("datetime64[D]").astype(np.int64), visit.values.astype("datetime64[D]").astype(np.int64)
    )
    on_day = calendar_age(dob.values.astype("datetime64[D]").astype(np.int64), np.full(n, days(dt.date(2016, 4, 19))))
    wrong = rng.random(n) < noise
    at_visit = np.where(wrong, at_visit + 1, at_visit)
    return pd.DataFrame(
        {
            "dob": dob.strftime("%Y-%m-%d"),
            "visit": visit.strftime("%Y-%m-%d"),
            "age_at_visit": at_visit,
            "age": on_day,
            "count": rng.integers(0, 80, n),
        }
    )


def fit(df: pd.DataFrame):
    t = pa.Table.from_pandas(df, preserve_index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = infer_schema(t)
        return t, s, TabularEncoder.fit(t, s, n_bins=30)


def test_ages_are_found_to_a_later_column_or_a_fixed_day_and_chance_is_not_an_age():
    _, s, _ = fit(people(400, noise=0.005))
    got = {a["column"]: (a["born"], a["at"], a["day"]) for a in s.ages}
    # one birth date serves one age: age_at_visit (first in column order) takes dob
    assert got == {"age_at_visit": ("dob", "visit", None)}
    _, s, _ = fit(people(400).drop(columns=["age_at_visit"]))
    assert [(a["column"], a["born"], a["at"], a["day"]) for a in s.ages] == [("age", "dob", None, "2016-04-19")]
    # 2 % of rows off: below the 99 % bar
    _, s, _ = fit(people(400, noise=0.02).drop(columns=["age"]))
    assert s.ages == []
    # visit >= dob holds in every row, but it is implied by the age: no relation is left to lean on
    _, s, _ = fit(people(400).drop(columns=["age"]))
    assert not any(r["column"] in ("dob", "visit") for r in s.relations)


def test_synthetic_rows_keep_the_age_and_dob_nulls_and_conditioning_on_dob_is_refused():
    df = people(500).drop(columns=["age_at_visit"])
    df.loc[::7, "dob"] = None
    t, s, enc = fit(df)
    rng = np.random.default_rng(3)
    tokens = np.stack([rng.integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, rng)
    assert out.schema == t.schema
    syn = out.to_pandas()
    assert age_agreement(df, syn, s.kinds()) == {"fidelity.age.age": 1.0, "fidelity.ages": 1.0}
    again = enc.decode(enc.encode(t), np.random.default_rng(0)).to_pandas()
    assert again["dob"].isna().tolist() == df["dob"].isna().tolist()  # the model decides where dob is missing
    with pytest.raises(SynthgenError, match="cannot condition on 'dob': it is written from the age 'age'"):
        enc.condition_tokens({"dob": "1960-01-01"})
    assert enc.condition_tokens({"age": 40})


def test_the_score_sees_ages_that_disagree():
    df = people(500).drop(columns=["age"])
    shuffled = df.assign(age_at_visit=df["age_at_visit"].sample(frac=1, random_state=0).to_numpy())
    r = age_agreement(
        df, shuffled, {"dob": "datetime", "visit": "datetime", "age_at_visit": "integer", "count": "integer"}
    )
    assert r["fidelity.ages"] < 0.2
