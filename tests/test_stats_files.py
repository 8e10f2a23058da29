"""Stata, SPSS and SAS files as input (synthgen/stats_files.py), written here with pyreadstat as the
packages write them: value labels, 32-bit floats, dates, and the packages' missing values."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyreadstat
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.io import read_table
from synthgen.schema import infer_schema
from tests.conftest import tiny_overrides

N = 200


def survey() -> tuple[pd.DataFrame, dict]:
    """A survey as a statistics package holds it: coded answers with value labels, an age whose code
    99 alone is labelled ("refused"), a 32-bit income, dates and timestamps, and missing values."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "sex": rng.choice([1.0, 2.0], N),
            "age": np.where(rng.random(N) < 0.1, 99.0, rng.integers(18, 90, N)),
            "income": np.round(rng.gamma(2, 900, N), 1).astype(np.float32),
            "town": rng.choice(["Oslo", "Rome", ""], N),  # "" is how Stata and SPSS store a missing string
            "born": [dt.date(1950, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 20000, N)],
            "seen": [dt.datetime(2024, 1, 1, 8) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 90000, N)],
        }
    )
    frame.loc[3, "sex"] = np.nan
    labels = {"sex": {1: "male", 2: "female"}, "age": {99: "refused"}}
    return frame, labels


def check_survey(t: pa.Table, frame: pd.DataFrame) -> None:
    assert t.column_names == list(frame.columns) and t.num_rows == N
    sex = t.column("sex").to_pylist()
    assert set(sex) == {"male", "female", None} and sex[3] is None  # every code labelled: its labels
    assert sex.count("female") == int((frame.sex == 2).sum())
    assert t.column("age").to_pylist() == frame.age.tolist()  # one code labelled: the numbers, 99 among them
    assert t.schema.field("town").type == pa.string()
    assert t.column("town").null_count == int((frame.town == "").sum()) > 0  # "" is missing
    assert t.schema.field("born").type == pa.date32() and t.column("born").to_pylist() == frame.born.tolist()
    assert pa.types.is_timestamp(t.schema.field("seen").type)
    assert t.column("seen").to_pylist()[:3] == frame.seen.tolist()[:3]


def write_stata(frame: pd.DataFrame, path, labels: dict) -> None:
    """As Stata stores it: 32-bit floats as `float`, dates as %td, timestamps as %tc (pandas' writer)."""
    frame = frame.assign(born=pd.to_datetime(frame.born))
    dates = {"born": "td", "seen": "tc"}
    frame.to_stata(path, write_index=False, convert_dates=dates, value_labels=labels, version=118)


def test_a_stata_file_reads_with_its_labels_dates_floats_and_missing_values(tmp_path):
    frame, labels = survey()
    path = tmp_path / "survey.dta"
    write_stata(frame, path, labels)
    t = read_table(path)
    check_survey(t, frame)
    assert t.schema.field("income").type == pa.float32()  # stored in 32 bits: kept so
    income = next(c for c in infer_schema(t).columns if c.name == "income")
    assert income.decimals == 1  # 1271.8, not 1271.800048828125: its written decimals


def test_an_spss_file_reads_with_its_labels_dates_and_missing_values(tmp_path):
    frame, labels = survey()
    path = tmp_path / "survey.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels)
    check_survey(read_table(path), frame)


def test_a_sas_transport_file_reads_with_its_dates(tmp_path):
    frame, _ = survey()
    path = tmp_path / "survey.xpt"
    pyreadstat.write_xport(frame.drop(columns=["seen"]), str(path))
    t = read_table(path)
    assert t.column("sex").to_pylist()[:3] == frame.sex.tolist()[:3]  # no labels in a transport file: codes
    assert t.column("born").to_pylist() == frame.born.tolist() and t.column("town").null_count > 0


def test_spss_user_missing_codes_read_as_nulls(tmp_path):
    frame, labels = survey()
    path = tmp_path / "survey.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels=labels, missing_ranges={"age": [99]})
    age = read_table(path).column("age").to_pylist()
    assert age.count(None) == int((frame.age == 99).sum()) > 0 and 99 not in age


def test_a_stata_file_is_prepared_with_its_labels_as_categories(tmp_path):
    frame, labels = survey()
    path = tmp_path / "survey.dta"
    write_stata(frame, path, labels)
    paths = pipeline.prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}")))
    train, holdout = pq.read_table(paths.train_table), pq.read_table(paths.holdout_table)
    assert train.num_rows + holdout.num_rows == N
    kinds = {c.name: c.kind for c in infer_schema(train).columns}
    assert kinds["sex"] == "categorical" and kinds["age"] == "integer" and kinds["born"] == "datetime"


@pytest.mark.parametrize("suffix, package", [(".dta", "Stata"), (".sav", "SPSS"), (".sas7bdat", "SAS")])
def test_a_broken_statistics_file_is_refused_in_one_line(tmp_path, suffix, package):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"not a data file" * 20)
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    message = str(e.value)
    assert f"cannot read it as a {package} file" in message and str(path) in message and "\n" not in message


@pytest.mark.parametrize("fmt", ["dta", "sav"])
def test_a_survey_comes_back_coded_and_labelled_as_it_went_in(tmp_path, fmt):
    """Read from Stata, trained, generated with generate.export=dta / sav: the labelled column is
    written as its codes with its labels, dates as dates, the other columns under their names."""
    frame, labels = survey()
    path = tmp_path / "survey.dta"
    write_stata(frame, path, labels)
    cfg = load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}", f"generate.export={fmt}"))
    for stage in ("prepare", "encode", "train", "generate"):
        paths = getattr(pipeline, stage)(cfg)
    synthetic = pq.read_table(paths.synthetic)
    read = pyreadstat.read_dta if fmt == "dta" else pyreadstat.read_sav
    back, meta = read(str(paths.synthetic.with_name(f"synthetic.{fmt}")))
    assert list(back.columns) == list(frame.columns) and len(back) == synthetic.num_rows
    assert {int(k): v for k, v in meta.variable_value_labels["sex"].items()} == labels["sex"]
    assert {int(k): v for k, v in meta.variable_value_labels["age"].items()} == labels["age"]  # 99 = refused
    assert back.age.tolist() == synthetic.column("age").to_pylist()  # its numbers, as read
    codes = {"male": 1, "female": 2, None: None}
    want = [codes[v] for v in synthetic.column("sex").to_pylist()]
    assert [None if v != v else int(v) for v in back.sex] == want
    assert back.born.map(type).isin([dt.date, type(pd.NaT), float]).all()  # dates, missing ones NaN
    assert pd.Series(back.born.dropna().tolist()).equals(pd.Series(synthetic.column("born").drop_null().to_pylist()))


def test_names_the_packages_refuse_are_written_in_their_form_with_a_warning(tmp_path):
    from synthgen.stats_export import package_names, write_stats_file

    assert package_names(["my col", "2nd", "_x", "a" * 40, "My_col", "long", "str12", "ok"]) == [
        "my_col",
        "v2nd",
        "v_x",
        "a" * 32,
        "My_col_2",  # SPSS names ignore case: the second my_col is numbered
        "long_",  # a Stata type name
        "str12_",
        "ok",
    ]
    shard = tmp_path / "part-000000.parquet"
    pq.write_table(pa.table({"my col": [1.5, None], "when": pa.array([dt.time(9, 30), None])}), shard)
    for fmt, read in (("dta", pyreadstat.read_dta), ("sav", pyreadstat.read_sav)):
        with pytest.warns(UserWarning, match=r"'my col' -> my_col"):
            write_stats_file([shard], tmp_path / f"out.{fmt}", fmt)
        back, meta = read(str(tmp_path / f"out.{fmt}"))
        assert list(back.columns) == ["my_col", "when"] and meta.column_names_to_labels["my_col"] == "my col"
        assert back.when[0] == dt.time(9, 30) and back.when[1] != back.when[1]  # a time of day; missing


def test_far_dates_long_text_and_missing_text_are_written(tmp_path):
    """A 9999-12-31 sentinel (beyond pandas' nanosecond dates), text over Stata's 2,045-byte strings,
    and missing text (Stata's "")."""
    from synthgen.stats_export import write_stats_file

    far, late = dt.date(9999, 12, 31), dt.datetime(9999, 12, 31, 23, 59, 59)
    t = pa.table(
        {
            "until": pa.array([dt.date(2020, 1, 1), far, None]),
            "at": pa.array([dt.datetime(2020, 1, 1, 5), late, None], pa.timestamp("us")),
            "note": ["x" * 3000, None, "short"],
            "year": [1963, 1987, 2009],  # Stata: a long, not a double
            "big": [1, 2, 2**40],  # beyond Stata's long: a double
        }
    )
    shard = tmp_path / "part-000000.parquet"
    pq.write_table(t, shard)
    for fmt, read in (("dta", pyreadstat.read_dta), ("sav", pyreadstat.read_sav)):
        write_stats_file([shard], tmp_path / f"out.{fmt}", fmt)
        back, meta = read(str(tmp_path / f"out.{fmt}"))
        assert back["until"].tolist()[:2] == [dt.date(2020, 1, 1), far] and back["at"].tolist()[1] == late
        assert len(back.note[0]) == 3000 and back.note[1] == "" and back.note[2] == "short"
        assert back.year.tolist() == [1963, 1987, 2009] and back.big.tolist()[2] == 2**40
        if fmt == "dta":
            assert meta.readstat_variable_types["year"] == "int32" and meta.readstat_variable_types["big"] == "double"


def test_spss_labels_on_text_codes_are_read_and_written_back(tmp_path):
    """SPSS labels text codes too ("M" = "male"): read as the labels, written back as the codes."""
    from synthgen.stats_export import write_stats_file

    frame = pd.DataFrame({"sex": ["M", "F", "M", "F"] * 10, "x": np.arange(40.0)})
    path = tmp_path / "coded.sav"
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"sex": {"M": "male", "F": "female"}})
    t = read_table(path)
    assert t.column("sex").to_pylist()[:2] == ["male", "female"]
    shard = tmp_path / "part-000000.parquet"
    pq.write_table(t, shard)
    for fmt in ("sav", "dta"):
        write_stats_file([shard], tmp_path / f"out.{fmt}", fmt)
        back, meta = (pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta)(str(tmp_path / f"out.{fmt}"))
        assert back.sex.tolist() == frame.sex.tolist()  # the codes
        assert meta.variable_value_labels.get("sex") == ({"M": "male", "F": "female"} if fmt == "sav" else None)
