"""Schema inference on tricky columns, overrides, and the one-line errors of the reading layer."""

from __future__ import annotations

import datetime as dt
import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from synthgen.errors import SynthgenError
from synthgen.io import read_table, table_from_pandas, validate_table
from synthgen.schema import TableSchema, infer_schema

N = 400
rng = np.random.default_rng(0)


def one_line(err: pytest.ExceptionInfo) -> str:
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def kinds_of(**cols) -> dict:
    return infer_schema(pa.table(cols)).kinds()


# ---- kinds -------------------------------------------------------------------------------------
def test_integers_stored_as_float_with_nulls_are_integers():
    v = rng.integers(0, 90, N).astype(float)
    v[::7] = np.nan  # pandas' int column with missing values
    s = infer_schema(pa.table({"age": pa.array(v, from_pandas=True)}))
    c = s.column("age")
    assert c.kind == "integer" and c.null_share == pytest.approx(len(v[::7]) / N)
    assert isinstance(c.min, int) and isinstance(c.max, int)


def test_small_integer_codes_stay_integers_and_unique_measurements_are_not_ids():
    codes = rng.integers(1, 5, N).astype(np.int8)
    salary = rng.choice(np.arange(20_000, 2_000_000), N, replace=False)  # all distinct, wide span
    k = kinds_of(code=codes, salary=salary)
    assert k == {"code": "integer", "salary": "integer"}


def test_near_unique_keys_are_identifiers():
    seq = np.arange(1000, 1000 + N)
    seq[5] = seq[6]  # a duplicated key
    names = [f"CUST-{i:06d}" for i in range(N)]
    names[3] = names[4]
    wide = rng.choice(10**9, N, replace=False)  # random numbers: only an id-like name makes them keys
    # statsmodels' fair_pt names its row key "identifier" (4 .. 9016 over 601 rows)
    k = kinds_of(row=seq, customer=names, CustomerID=wide, account_key=wide.astype(float), identifier=wide)
    assert set(k.values()) == {"identifier"}


def test_a_dense_run_of_time_units_is_a_time_axis_not_keys():
    """statsmodels' nile (year 1871 .. 1970, one row a year) and lifelines' nh4 (Week): read as dense
    keys, the synthetic rows carried years 1971 .. 2050, past the real range."""
    years = np.arange(1871, 1871 + N)
    k = kinds_of(year=years, YEAR=years, Week=years - 1800, fiscal_year=years, month_no=years, row=years)
    assert k == {c: "integer" for c in ("year", "YEAR", "Week", "fiscal_year", "month_no")} | {"row": "identifier"}
    assert kinds_of(year_id=years)["year_id"] == "identifier"  # an id-named column stays a key


def test_record_numbers_are_identifiers_by_name_and_words_that_end_alike_are_not():
    """lifelines' ACTG175 names its patient numbers `pidnum` (10056 .. 990077, one per patient):
    modelled as a number, 38 % of the synthetic rows carried a real patient's number."""
    wide = rng.choice(10**6, N, replace=False)
    numbered = ["pidnum", "patid", "subjid", "CaseNo", "case_number", "account no", "order_nr", "empno"]
    assert set(kinds_of(**{n: wide for n in numbered}).values()) == {"identifier"}
    alike = ["paid", "valid", "fluid", "number", "house_number", "no", "num_rooms", "person"]
    assert set(kinds_of(**{n: wide for n in alike}).values()) == {"integer"}


def test_string_kinds():
    long_text = [f"a free-text comment number {i} that goes on for quite a while" for i in range(N)]
    k = kinds_of(
        flag=rng.choice(["yes", "no"], N),
        city=rng.choice(["Paris", "Lyon", "Nice"], N),
        note=long_text,
        b=rng.random(N) < 0.5,
    )
    assert k == {"flag": "boolean", "city": "categorical", "note": "text", "b": "boolean"}


def test_continuous_decimals():
    k = infer_schema(
        pa.table(
            {
                "price": np.round(rng.random(N) * 100, 2),
                "f32": np.round(rng.normal(size=N), 2).astype(np.float32),  # float32 noise must not hide 2 decimals
                "noisy": np.round(rng.random(N), 1) + 0.2 - 0.2,  # 0.30000000000000004 and friends
                "free": rng.random(N) * 1e-9,  # tiny values: rounding to 6 decimals would zero them
                "big": rng.random(N) * 1e5,  # 64042.265044328204 is not 64042.265044
                "f32_free": rng.normal(size=N).astype(np.float32),
            }
        )
    )
    got = [k.column(c).decimals for c in ("price", "f32", "noisy", "free", "big", "f32_free")]
    assert got == [2, 2, 1, None, None, None]
    assert all(c.kind == "continuous" for c in k.columns)


def test_datetime_resolutions_and_time_zones():
    secs = np.datetime64("2021-03-01") + rng.integers(0, 10**7, N).astype("timedelta64[s]")
    days = np.datetime64("2020-01-01") + rng.integers(0, 700, N).astype("timedelta64[D]")
    paris_midnights = pc.assume_timezone(pa.array(days.astype("datetime64[s]")), "Europe/Paris")
    s = infer_schema(
        pa.table(
            {
                "ts_s": pa.array(secs.astype("datetime64[s]")),
                "ts_us_paris": pa.array(secs.astype("datetime64[us]")).cast(pa.timestamp("us", tz="Europe/Paris")),
                "paris_days": paris_midnights,
                "d32": pa.array(days, type=pa.date32()),
                "ts_day": pa.array(days.astype("datetime64[ns]")),
            }
        )
    )
    got = {c.name: (c.kind, c.resolution, c.timezone) for c in s.columns}
    assert got == {
        "ts_s": ("datetime", "s", None),
        "ts_us_paris": ("datetime", "s", "Europe/Paris"),
        "paris_days": ("datetime", "D", "Europe/Paris"),
        "d32": ("datetime", "D", None),
        "ts_day": ("datetime", "D", None),
    }
    # Domains are ints in resolution units of local wall-clock time.
    c = s.column("paris_days")
    assert (c.min, c.max) == (int(days.min().astype(np.int64)), int(days.max().astype(np.int64)))


def test_categories_are_sorted_by_frequency():
    s = infer_schema(pa.table({"c": ["b", "a", "b", "c", "b", "a"]}))
    c = s.column("c")
    assert c.categories == ["b", "a", "c"] and c.frequencies == [3, 2, 1]


def test_dictionary_and_string_view_columns():
    t = pa.table(
        {
            "d": pa.array(["x", "y", "x", None]).dictionary_encode(),
            "v": pa.array(["p", "q", "p", "p"]).cast(pa.string_view()),
        }
    )
    s = infer_schema(t)
    assert s.kinds() == {"d": "categorical", "v": "categorical"}
    assert s.column("d").null_share == 0.25 and s.column("v").categories == ["p", "q"]


def test_nan_counts_as_null():
    s = infer_schema(pa.table({"x": pa.array([1.5, float("nan"), 2.5, None])}))
    assert s.column("x").null_share == 0.5 and s.column("x").min == 1.5


# ---- overrides ---------------------------------------------------------------------------------
def test_overrides():
    t = pa.table({"zip": rng.integers(10000, 99999, N), "n": rng.integers(0, 3, N)})
    s = infer_schema(t, {"zip": {"kind": "categorical"}, "n": "boolean"})
    assert s.kinds() == {"zip": "categorical", "n": "boolean"}
    assert sum(s.column("zip").frequencies) == N


@pytest.mark.parametrize(
    "overrides,needle",
    [
        ({"nosuch": {"kind": "categorical"}}, "nosuch"),
        ({"a": {"kind": "number"}}, "data.columns.a.kind='number'"),
        ({"a": {"kidn": "integer"}}, "data.columns.a.kidn"),
        ({"s": {"kind": "integer"}}, "of its values read as integer"),
        ({"t": {"kind": "categorical"}}, "data.columns.t.kind to datetime"),
        ({"a": {"kind": "datetime"}}, "datetime needs a timestamp"),
        ({"f": {"kind": "identifier"}}, "fractional"),
    ],
)
def test_bad_overrides(overrides, needle):
    t = pa.table(
        {"a": [1, 2, 3], "s": ["x", "y", "z"], "f": [0.5, 1.5, 2.5], "t": pa.array([0, 1, 2], pa.timestamp("s"))}
    )
    with pytest.raises(SynthgenError) as e:
        infer_schema(t, overrides)
    assert needle in one_line(e)


def test_schema_round_trip(tmp_path):
    t = pa.table({"a": [1, 2, None], "c": ["x", "y", "x"], "t": pa.array([0, 86400, None], pa.timestamp("s"))})
    s = infer_schema(t)
    s.save(tmp_path / "schema.json")
    back = TableSchema.load(tmp_path / "schema.json")
    assert back == s and back.arrow_schema == t.schema


# ---- bad input at the reading layer ------------------------------------------------------------
def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(SynthgenError) as e:
        read_table(tmp_path / "nope.parquet")
    assert "nope.parquet" in one_line(e) and "not found" in str(e.value)
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(SynthgenError) as e:
        read_table(bad)
    assert "broken.parquet" in one_line(e)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("a,b\n1,x\n2,y,extra\n")
    with pytest.raises(SynthgenError) as e:
        read_table(ragged)
    assert "ragged.csv" in one_line(e)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(SynthgenError) as e:
        read_table(empty)
    assert "empty.csv" in one_line(e)
    with pytest.raises(SynthgenError) as e:
        read_table(tmp_path / "x.xlsx")
    assert "not found" in one_line(e)


@pytest.mark.parametrize(
    "table,needle",
    [
        (pa.table({"a": pa.array([], pa.int64())}), "0 row"),
        (pa.table({"a": [1]}), "1 row"),
        (pa.table({"a": [1, 2], "b": [[1], [2]]}), "column 'b' has unsupported type list"),
        # a struct's fields are columns (b.x), and a list among them is refused by its path
        (pa.table({"a": [1, 2], "b": [{"x": [1]}, {"x": [2]}]}), "column 'b.x' has unsupported type list"),
        (pa.table({"a": [1, 2], "b": [b"x", b"y"]}), "column 'b' has unsupported type binary"),
        (pa.table({"a": [1, 2], "b": pa.array([1, 2], pa.duration("s"))}), "unsupported type duration"),
        (pa.table({"a": [1.0, float("inf")]}), "column 'a' holds infinite values"),
        (pa.table({"a": [1.0, -float("inf"), 3.0, None]}), "column 'a' holds infinite values"),  # int-as-float
        (pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"]), "duplicate column names"),
    ],
)
def test_bad_tables(tmp_path, table, needle):
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    assert needle in one_line(e) and str(path) in str(e.value)
    with pytest.raises(SynthgenError, match=needle.split("'")[0]):
        infer_schema(table)  # the same checks guard direct API use


def test_max_rows(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": range(10)}), path)
    assert len(read_table(path, max_rows=3)) == 3
    for bad in (0, 1, -5, 2.5):
        with pytest.raises(SynthgenError, match="data.max_rows"):
            read_table(path, max_rows=bad)


def test_duplicate_csv_columns(tmp_path):
    """Read as pandas reads them (a, a.1), with a warning; a Parquet file's are refused (test_bad_tables)."""
    path = tmp_path / "dup.csv"
    path.write_text("a,a\n1,2\n3,4\n")
    with pytest.warns(UserWarning, match=r"dup.csv: columns named twice are read as a\.1"):
        t = read_table(path)
    assert t.column_names == ["a", "a.1"] and t.column("a.1").to_pylist() == [2, 4]


def test_read_table_normalises_nan_and_string_views(tmp_path):
    path = tmp_path / "nan.parquet"
    pq.write_table(
        pa.table(
            {
                "x": pa.array([1.0, float("nan"), 3.0]),  # NaN as a value, not null
                "v": pa.array(["a", "b", None]).cast(pa.string_view()),
            }
        ),
        path,
    )
    t = read_table(path)
    assert t.column("x").null_count == 1
    assert t.schema.field("v").type == pa.large_string()
    assert len(t.take([0, 2])) == 2  # string views cannot be taken (split into train/holdout)


# ---- pandas input ------------------------------------------------------------------------------
def test_table_from_pandas():
    df = pd.DataFrame(
        {
            "a": pd.array([1, None, 3], dtype="Int64"),
            "b": ["x", None, "z"],
            "c": pd.to_datetime(["2020-01-01", None, "2020-01-03"]).tz_localize("Europe/Paris"),
            "d": [1.0, np.nan, 2.0],
        }
    )
    t = table_from_pandas(df, "frame")
    assert t.column_names == ["a", "b", "c", "d"] and t.column("d").null_count == 1
    assert infer_schema(t).kinds() == {"a": "integer", "b": "categorical", "c": "datetime", "d": "integer"}


@pytest.mark.parametrize(
    "col,types",
    [
        ([1, "x", 2.5], "float, int, str"),
        ([True, 1, None], "bool, int"),
        ([[1], 2], "int, list"),
        ([dt.date(2020, 1, 1), "x"], "date, str"),
    ],
)
def test_table_from_pandas_mixed_types(col, types):
    df = pd.DataFrame({"ok": range(len(col)), "mixed": col})
    with pytest.raises(SynthgenError) as e:
        table_from_pandas(df, "frame.pkl")
    msg = one_line(e)
    assert "frame.pkl" in msg and "column 'mixed'" in msg and types in msg


def test_table_from_pandas_duplicate_names_and_bad_input():
    df = pd.DataFrame([[1, 2], [3, 4]], columns=["a", "a"])
    with pytest.raises(SynthgenError, match="duplicate column names"):
        table_from_pandas(df)
    with pytest.raises(SynthgenError, match="expected a pandas DataFrame"):
        table_from_pandas({"a": [1, 2]})
    with pytest.raises(SynthgenError, match="1 row"):
        table_from_pandas(pd.DataFrame({"a": [1]}))


def test_validate_table_accepts_supported_types():
    validate_table(
        pa.table(
            {
                "i": pa.array([1, 2], pa.uint16()),
                "f": pa.array([1.5, 2.5], pa.float32()),
                "dec": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(5, 2)),
                "s": pa.array(["a", "b"], pa.large_string()),
                "b": [True, False],
                "d": pa.array(["x", "y"]).dictionary_encode(),
                "t": pa.array([0, 1], pa.timestamp("ns", tz="UTC")),
                "d64": pa.array([0, 86400000], pa.date64()),
            }
        ),
        "ok",
    )
