"""A spreadsheet export's totals row (synthgen/totals_row.py) is left out with a warning naming it;
a last row that merely resembles one is kept."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen.config import load_config
from synthgen.io import read_table
from synthgen.pipeline import prepare
from synthgen.totals_row import drop_totals_row
from tests.conftest import tiny_overrides


def sales(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "region": rng.choice(["North", "South", "East"], n),
            "units": rng.integers(100, 1000, n),
            "revenue": np.round(rng.uniform(10, 99, n), 2),
            "margin": rng.uniform(0, 1, n).round(3),
        }
    )


def with_last(df: pd.DataFrame, **row) -> pd.DataFrame:
    return pd.concat([df, pd.DataFrame([row])], ignore_index=True)


def test_a_csv_ending_in_a_totals_row_is_prepared_without_it(tmp_path):
    df = sales()
    total = with_last(df, region="Grand Total:", units=df.units.sum(), revenue=round(df.revenue.sum(), 2))
    total.to_csv(tmp_path / "sales.csv", index=False)
    with pytest.warns(UserWarning, match=r"its last row \('Grand Total:' and 2 column\(s\) equal to the sum"):
        paths = prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={tmp_path / 'sales.csv'}")))
    rows = pq.read_table(paths.train_table).num_rows + pq.read_table(paths.holdout_table).num_rows
    assert rows == len(df)
    units = np.concatenate(
        [pq.read_table(p).column("units").to_numpy() for p in (paths.train_table, paths.holdout_table)]
    )
    assert units.max() == df.units.max()  # the total (~110,000) is no value of the column


def test_sums_without_a_word_count_only_in_two_columns_and_when_no_number_disagrees():
    df = sales()
    t = pa.Table.from_pandas(with_last(df, units=df.units.sum(), revenue=round(df.revenue.sum(), 2)))
    with pytest.warns(UserWarning, match="totals row"):
        assert drop_totals_row(t, "x.csv").num_rows == len(df)
    keep = [
        with_last(df, region="East", units=df.units.sum(), revenue=5.0, margin=0.5),  # one sum: chance
        with_last(df, region="East", units=df.units.sum(), revenue=round(df.revenue.sum(), 2), margin=0.5),  # margin
        with_last(df, region="Total", units=3, revenue=5.0, margin=0.5),  # the word, but nothing adds up
        df.assign(flag_a=0, flag_b=0.0).iloc[:, [0, 4, 5]],  # columns of zeros: any last row "adds up"
        df,
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for frame in keep:
            t = pa.Table.from_pandas(frame, preserve_index=False)
            assert drop_totals_row(t, "x.csv").num_rows == len(frame)


def test_a_totals_row_with_formatted_numbers_is_found_through_their_codec(tmp_path):
    df = sales()
    df["revenue"] = df["revenue"] * 100
    total = with_last(df, region="Summe", units=df.units.sum(), revenue=df.revenue.sum())
    total["revenue"] = [f"${v:,.2f}" for v in total["revenue"]]
    total.to_csv(tmp_path / "sales.csv", index=False)
    with pytest.warns(UserWarning, match=r"'Summe' and 2 column"):
        assert drop_totals_row(read_table(tmp_path / "sales.csv"), "sales.csv").num_rows == len(df)


def test_a_totals_label_with_no_other_value_is_left_out():
    """A workbook's last row `Total` with its sums never computed (empty cells): it stayed a record,
    a store named `Total` with no units. A row of a real `Total` beside values is no label."""
    df = sales()
    t = pa.Table.from_pandas(with_last(df, region="Total"), preserve_index=False)
    with pytest.warns(UserWarning, match="holds 'Total' and no other value"):
        assert drop_totals_row(t, "sales.xlsx").num_rows == len(df)
    kept = pa.Table.from_pandas(with_last(df, region="Total", units=3), preserve_index=False)
    assert drop_totals_row(kept, "sales.xlsx").num_rows == len(df) + 1
