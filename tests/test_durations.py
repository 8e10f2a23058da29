"""Durations: an integer column that counts the days from a date to an event or to one fixed day
(follow-up time, censored on the day the table was extracted) is found in the real rows, kept within
that day in every synthetic row, and scored."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from synthgen.durations import find_durations
from synthgen.encoders import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.evaluate.orderings import date_orderings, duration_bounds, span_agreement
from synthgen.schema import infer_schema

EXTRACTED = pd.Timestamp("2016-04-01")


def follow_up(n: int, seed: int = 0, late: float = 0.0) -> pd.DataFrame:
    """Screening dates over two years; days to a new event (exponential) or to the extraction day,
    whichever comes first; an unrelated count. `late`: share of rows whose count runs past the day."""
    rng = np.random.default_rng(seed)
    screened = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 730, n), "D")
    to_day = (EXTRACTED - screened).days.to_numpy()
    event = rng.exponential(500, n).astype(np.int64) + 1
    days = np.minimum(event, to_day)
    days = np.where(rng.random(n) < late, to_day + 30, days)
    return pd.DataFrame(
        {
            "screened": screened.strftime("%Y-%m-%d"),
            "recid": (event < to_day).astype(np.int64),
            "days": days,
            "visits": rng.integers(0, 400, n),
        }
    )


def fit(df: pd.DataFrame):
    t = pa.Table.from_pandas(df, preserve_index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = infer_schema(t)
        return t, s, TabularEncoder.fit(t, s, n_bins=30)


def as_days(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    v = pd.to_datetime(series).to_numpy().astype("datetime64[D]").astype(np.int64)
    return v, np.zeros(len(v), dtype=bool)


def test_a_count_censored_on_one_day_is_found_and_counts_without_that_bound_are_not():
    df = follow_up(600)
    _, s, _ = fit(df)
    assert [(d["column"], d["start"], d["day"]) for d in s.durations] == [("days", "screened", "2016-04-01")]
    assert s.durations[0]["share"] == 1.0 and 0.05 < s.durations[0]["at_end"] < 1
    # 3 % of rows past the day: not a bound
    assert fit(follow_up(600, late=0.03))[1].durations == []
    # a constant count on a common start date "ends" on one day by chance: not a duration
    dates = {"screened": (np.r_[np.full(300, 16000), np.arange(16001, 16301)], np.zeros(600, dtype=bool))}
    assert find_durations(dates, {"n": (np.full(600, 5), np.zeros(600, dtype=bool))}) == []
    # the count must be set only where its start is
    start = as_days(df["screened"])
    nulls = start[1].copy()
    nulls[::50] = True
    assert find_durations({"screened": (start[0], nulls)}, {"days": (df["days"].to_numpy(), start[1])}) == []


def test_synthetic_counts_stay_within_the_day_and_conditioning_on_them_is_refused():
    df = follow_up(800)
    df.loc[::9, "days"] = None  # a nullable count (float64 with NaN in pandas): nulls are the model's
    t, s, enc = fit(df)
    assert set(enc.durations) == {"days"} and "days" in enc.derived
    rng = np.random.default_rng(3)
    tokens = np.stack([rng.integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, rng)
    assert out.schema == t.schema
    syn = out.to_pandas()
    assert duration_bounds(df, syn, s.kinds()) == {"fidelity.duration.days": 1.0, "fidelity.durations": 1.0}
    assert syn["days"].min() >= df["days"].min() and syn["days"].max() <= df["days"].max()
    # real rows come back with their own counts (the start is drawn within its bin, the end day exactly)
    again = enc.decode(enc.encode(t), np.random.default_rng(0)).to_pandas()
    assert again["days"].isna().tolist() == df["days"].isna().tolist()
    ends = pd.to_datetime(again["screened"]) + pd.to_timedelta(again["days"], "D")
    real_ends = pd.to_datetime(df["screened"]) + pd.to_timedelta(df["days"], "D")
    assert ((ends == real_ends) | df["days"].isna()).mean() > 0.3  # the censored rows, at least
    state = TabularEncoder.from_dict(enc.to_dict())
    assert np.array_equal(state.encode(t), enc.encode(t))
    with pytest.raises(SynthgenError, match="cannot condition on 'days': it is written as days from 'screened'"):
        enc.condition_tokens({"days": 100})
    assert enc.condition_tokens({"visits": 10})


def test_the_score_sees_counts_that_run_past_the_day():
    df = follow_up(600)
    kinds = {"screened": "datetime", "recid": "integer", "days": "integer", "visits": "integer"}
    assert duration_bounds(df, df, kinds)["fidelity.durations"] == 1.0
    shuffled = df.assign(days=df["days"].sample(frac=1, random_state=0).to_numpy())
    assert duration_bounds(df, shuffled, kinds)["fidelity.durations"] < 0.9


def stays(n: int, seed: int = 0, noise: float = 0.0) -> pd.DataFrame:
    """Admission and discharge timestamps with the stay in days between them; an offence date that
    is `lag` days before admission, missing in a third of the rows; an unrelated count."""
    rng = np.random.default_rng(seed)
    admitted = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 700 * 86_400, n), "s")
    stay = rng.geometric(0.05, n)
    discharged = admitted.normalize() + pd.to_timedelta(stay, "D") + pd.to_timedelta(rng.integers(0, 86_400, n), "s")
    lag = rng.integers(0, 60, n)
    offence = (admitted.normalize() - pd.to_timedelta(lag, "D")).strftime("%Y-%m-%d").to_series(index=range(n))
    offence[rng.random(n) < 0.33] = None
    wrong = rng.random(n) < noise
    return pd.DataFrame(
        {
            "offence": offence,
            "admitted": admitted.strftime("%Y-%m-%d %H:%M:%S"),
            "discharged": discharged.strftime("%Y-%m-%d %H:%M:%S"),
            "stay": np.where(wrong, stay + 3, stay),
            "lag": lag,
            "visits": rng.integers(0, 400, n),
        }
    )


def test_day_counts_between_two_dates_are_found_and_the_date_missing_more_often_is_derived():
    _, s, enc = fit(stays(500))
    got = {(sp["column"], sp["start"], sp["end"], sp["derived"]) for sp in s.spans}
    assert got == {("stay", "admitted", "discharged", "discharged"), ("lag", "offence", "admitted", "offence")}
    assert {sp["derived"] for sp in enc.spans} <= enc.derived
    # admitted no longer leans on the offence date it now writes
    assert not any(r["column"] == "admitted" and "offence" in (r["base"], *r["also"]) for r in s.relations)
    # 2 % of rows off: below the 99 % bar
    assert {sp["column"] for sp in fit(stays(500, noise=0.02))[1].spans} == {"lag"}


def test_synthetic_rows_keep_their_day_counts_and_conditioning_on_a_derived_date_is_refused():
    df = stays(600)
    df.loc[::25, "lag"] = None  # where the count is missing, the offence date's own draw keeps its order
    t, s, enc = fit(df)
    rng = np.random.default_rng(5)
    tokens = np.stack([rng.integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, rng)
    assert out.schema == t.schema
    syn = out.to_pandas()
    r = span_agreement(df, syn, s.kinds())
    assert set(r) == {"fidelity.span.stay.discharged", "fidelity.span.lag.offence", "fidelity.spans"}
    # random tokens pair a late admission with a long stay: the date stays inside its real range there
    assert r["fidelity.spans"] > 0.99
    inside = syn["discharged"] < df["discharged"].max()
    assert span_agreement(df, syn[inside], s.kinds())["fidelity.span.stay.discharged"] == 1.0
    # the discharge keeps a time of day of its own, not midnight
    assert (pd.to_datetime(syn["discharged"]).dt.hour > 0).mean() > 0.5
    assert date_orderings(df, syn, s.kinds())["fidelity.date_orderings"] == 1.0
    again = enc.decode(enc.encode(t), np.random.default_rng(0)).to_pandas()
    assert again["offence"].isna().tolist() == df["offence"].isna().tolist()  # the model decides where it is missing
    with pytest.raises(SynthgenError, match="cannot condition on 'offence': it is written from 'admitted'"):
        enc.condition_tokens({"offence": "2013-05-01"})
    assert enc.condition_tokens({"stay": 3})


def test_the_score_sees_day_counts_that_disagree_with_their_dates():
    df = stays(500)
    kinds = {"offence": "datetime", "admitted": "datetime", "discharged": "datetime"}
    kinds |= {"stay": "integer", "lag": "integer", "visits": "integer"}
    assert span_agreement(df, df, kinds)["fidelity.spans"] == 1.0
    shuffled = df.assign(stay=df["stay"].sample(frac=1, random_state=0).to_numpy())
    assert span_agreement(df, shuffled, kinds)["fidelity.span.stay.discharged"] < 0.2


def survival(n: int, seed: int = 7) -> pd.DataFrame:
    """lifelines' lymph_node's shape: recurrence and death (or censoring) dates counted in days from
    the diagnosis (rectime, survtime); a follow-up without a recurrence (censored, 35 %) records
    the recurrence date as the last day seen, the death date's own day."""
    rng = np.random.default_rng(seed)
    diag = pd.Timestamp("1984-01-01") + pd.to_timedelta(rng.integers(0, 1500, n), "D")
    rectime = rng.integers(30, 2500, n)
    censored = rng.random(n) < 0.35
    extra = np.where(censored, 0, rng.integers(1, 1200, n))
    return pd.DataFrame(
        {
            "diag": diag.strftime("%Y-%m-%d"),
            "rec": (diag + pd.to_timedelta(rectime, "D")).strftime("%Y-%m-%d"),
            "death": (diag + pd.to_timedelta(rectime + extra, "D")).strftime("%Y-%m-%d"),
            "rectime": rectime,
            "survtime": rectime + extra,
            "recurred": (~censored).astype(np.int64),
            "age": rng.integers(30, 80, n),
        }
    )


def test_a_count_between_dates_with_a_date_between_them_is_written_from_the_dates():
    """The death is never before the recurrence, which is never before the diagnosis: the death is
    modelled as an offset from the recurrence (0 on the censored rows: a token the model draws
    with the rest of the row), and survtime is written as death - diagnosis. Drawn as a count and
    raised to the recurrence instead, the death met it only where the raise clamped it (lymph_node:
    54 % of the rows without a recurrence had another recurrence date; 0.6 % since)."""
    from synthgen.evaluate.orderings import value_orderings

    rng = np.random.default_rng(7)
    df = survival(600)
    t, s, enc = fit(df)
    assert {(sp["column"], sp["derived"]) for sp in s.spans} == {("rectime", "rec"), ("survtime", "survtime")}
    assert any(r["column"] == "death" and r["base"] == "rec" for r in s.relations)
    assert "survtime" in enc.derived
    tokens = np.stack([rng.integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    death = enc.codecs["death"]
    tie = int(death.has_null) + int(np.flatnonzero(death.points == 0)[0])  # the offset-0 token
    tied = rng.random(4000) < 0.5
    tokens[tied, enc.layout.columns.index("death")] = tie
    syn = enc.decode(tokens, rng).to_pandas()
    assert (syn["death"][tied] == syn["rec"][tied]).all()
    assert span_agreement(df, syn, s.kinds())["fidelity.spans"] == 1.0
    assert syn["survtime"].max() == df["survtime"].max()  # end dates past the longest real span moved in
    assert value_orderings(df, syn, s.kinds())["fidelity.value_orderings"] == 1.0  # rectime <= survtime
    assert date_orderings(df, syn, s.kinds())["fidelity.date_orderings"] == 1.0
    with pytest.raises(SynthgenError, match="days from 'diag' to 'death'"):
        enc.condition_tokens({"survtime": 100})


def test_date_ties_score_ties_drawn_apart_from_the_flag_that_decides_them():
    """The recurrence date equals the death date exactly where no recurrence came (the censoring
    flag): a synthetic table with the right share of ties but placed at random scores low, the
    real table against itself 1, and a table whose dates never tie has no score."""
    from synthgen.evaluate.orderings import date_ties

    df = survival(800)
    kinds = {"diag": "datetime", "rec": "datetime", "death": "datetime"}
    kinds |= {"rectime": "integer", "survtime": "integer", "recurred": "integer", "age": "integer"}
    dated = df.assign(**{c: pd.to_datetime(df[c]) for c in ("diag", "rec", "death")})
    same = date_ties(dated, dated, kinds)
    assert same["fidelity.date_ties"] == same["fidelity.date_tie.rec.death"] == 1.0
    apart = dated.assign(recurred=dated["recurred"].sample(frac=1, random_state=0).to_numpy())
    assert date_ties(dated, apart, kinds)["fidelity.date_ties"] < 0.65  # ties at random: 0.52
    fresh = survival(800, seed=8)  # another sample of the same process: near 1
    assert (
        date_ties(dated, fresh.assign(**{c: pd.to_datetime(fresh[c]) for c in ("diag", "rec", "death")}), kinds)[
            "fidelity.date_ties"
        ]
        > 0.93
    )
    untied = dated.assign(death=dated["death"] + pd.Timedelta(days=1))
    assert "fidelity.date_ties" not in date_ties(untied, untied, kinds)
