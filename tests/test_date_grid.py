"""Dates on their grid beside a few sentinel values (schema.grid_of): a validity table's current
rows end on 9999-12-31 23:59:59, its others at midnight. Read at the sentinel's resolution, every
synthetic end date took a random second of its day; the decoder floors them to the grid and keeps
the sentinel, and the evaluation counts dates off a real column's grid for any generator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen import codecs
from synthgen.encoders import TabularEncoder
from synthgen.evaluate.validity import validity_metrics
from synthgen.schema import grid_of, infer_schema

SENTINEL = np.datetime64("9999-12-31T23:59:59", "s")


def validity_periods(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2015-01-01", "s") + rng.integers(0, 2500, n) * np.timedelta64(1, "D")
    end = start + rng.integers(30, 900, n) * np.timedelta64(1, "D")
    end[rng.random(n) < 0.3] = SENTINEL
    return pd.DataFrame({"tier": rng.choice(["gold", "silver"], n), "valid_from": start, "valid_to": end})


def test_the_grid_is_read_beside_a_few_repeated_sentinels_only():
    days = np.arange(100) * 86_400  # seconds at midnight
    sentinel = int(SENTINEL.astype(np.int64))
    assert grid_of(np.r_[days, [sentinel] * 30], "s") == ("D", [sentinel])
    assert grid_of(np.r_[days, [sentinel, sentinel, 5, 5, 7, 7]], "s") == (
        "D",
        [5, 7, sentinel],
    )  # three: still sentinels
    assert grid_of(np.r_[days, [sentinel, sentinel, 5, 5, 7, 7, 9, 9]], "s") == (None, None)  # four: no grid
    assert grid_of(np.r_[days, [sentinel]], "s") == (None, None)  # seen once: a value like any other
    hours = np.r_[days, np.arange(1, 9) * 3600, np.arange(1, 9) * 3600, [sentinel] * 2]
    assert grid_of(hours, "s") == ("h", [sentinel])  # 8 values off a day, not off the hour
    assert grid_of(np.r_[days[:10], [sentinel] * 30], "s") == (None, None)  # too few rows on the grid
    assert grid_of(days // 86_400, "D") == (None, None)  # nothing coarser than days to read


def test_decoded_dates_lie_on_the_grid_and_the_sentinel_comes_back():
    df = validity_periods()
    table = pa.Table.from_pandas(df, preserve_index=False)
    schema = infer_schema(table)
    col = schema.column("valid_to")
    assert (col.resolution, col.grid, col.off_grid) == ("s", "D", [int(SENTINEL.astype(np.int64))])
    enc = TabularEncoder.fit(table, schema, n_bins=20)
    tokens = np.stack([np.random.default_rng(1).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(2)).to_pandas()["valid_to"]
    sentinel = out == pd.Timestamp("9999-12-31 23:59:59")
    assert 0.05 < sentinel.mean() < 0.95
    assert (out[~sentinel] == out[~sentinel].dt.normalize()).all()  # every other end at midnight
    assert validity_metrics(df, out.to_frame(), {"valid_to": "datetime"})["validity.off_calendar"] == 0


def test_the_evaluation_counts_dates_off_the_grid_but_not_the_sentinel():
    real = validity_periods()
    syn = real.copy()
    syn.loc[0, "valid_to"] = pd.Timestamp("2016-03-04 14:03:27")  # off the day grid
    syn.loc[1, "valid_to"] = pd.Timestamp("2016-03-04 00:00:00")
    syn.loc[2, "valid_from"] = pd.Timestamp("2016-03-04 00:00:01")  # a day column's second
    syn.loc[3, "valid_to"] = pd.Timestamp("9999-12-31 23:59:59")
    kinds = {"valid_from": "datetime", "valid_to": "datetime"}
    assert validity_metrics(real, syn, kinds)["validity.off_calendar"] == 2
    assert validity_metrics(real, real, kinds)["validity.off_calendar"] == 0


def test_whole_seconds_and_a_fraction_are_one_date_column_written_as_read():
    """canadian_senators read as text: `1893-10-30 00:00:00` on most rows, the extraction moment
    `2013-10-01 22:20:10.165196` on the open ones (10 %): one format parsed 90 %, under the 98 %
    a codec needs, and the column was a category of 657 levels."""
    values = ["1893-10-30 00:00:00"] * 45 + ["2013-10-01 22:20:10.165196"] * 5 + ["1990-01-02 12:00:00"] * 5
    arr = pa.chunked_array([pa.array(values)])
    codec = codecs.detect(arr)
    assert codec["format"] == "%Y-%m-%d %H:%M:%S" and codec["parse_rate"] == 1.0
    parsed = codecs.parse(codec, arr)
    assert parsed.to_pylist()[45].microsecond == 165196
    assert codecs.format_values(codec, parsed, pa.string()).to_pylist() == values
