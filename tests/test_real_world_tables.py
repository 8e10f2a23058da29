"""Real-world tables (issue #12): files written here as a user would have them, each case read,
typed, encoded and decoded back to the input's Arrow schema and spelling, or refused in one line.

The cases: a UTF-8 CSV with a BOM and ';' separators, a latin-1 CSV, numbers written "1,234.5",
all-null and constant columns, a pandas category column, e-mails repeated on two rows, names,
free text, date strings in three formats, timestamps with and without zone, a column named
`my col.x`. One small end-to-end run (module fixture) takes a Parquet file with all of them
through prepare -> encode -> train -> generate -> evaluate.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from synthgen.codecs import detect
from synthgen.encoders import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.io import read_table
from synthgen.schema import infer_schema
from synthgen.totals_row import drop_totals_row
from tests.conftest import tiny_overrides

N = 240
FIRST = [
    "james",
    "mary",
    "john",
    "linda",
    "miguel",
    "kevon",
    "ana",
    "li",
    "robert",
    "susan",
    "omar",
    "fatima",
    "david",
    "sarah",
    "wei",
    "jose",
    "emma",
    "noah",
    "olivia",
    "liam",
    "ava",
    "lucas",
    "mia",
    "ethan",
    "chloe",
    "mateo",
    "zoe",
    "ivan",
    "nora",
    "leo",
    "ella",
    "hugo",
]
LAST = [
    "smith",
    "jones",
    "hernandez",
    "dixon",
    "brown",
    "nguyen",
    "garcia",
    "miller",
    "davis",
    "lopez",
    "wilson",
    "moore",
    "taylor",
    "thomas",
    "lee",
    "walker",
    "hall",
    "young",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "carter",
    "mitchell",
    "perez",
    "roberts",
    "turner",
    "phillips",
]


def messy_frame(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Every case of the issue in one table (strings as a CSV export writes them)."""
    rng = np.random.default_rng(seed)
    first, last = rng.choice(FIRST, n), rng.choice(LAST, n)
    din = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 700, n), "D")
    dout = din + pd.to_timedelta(rng.integers(0, 40, n), "D")
    out_null = rng.random(n) < 0.2
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "first": first,
            "last": last,
            "name": [f"{a} {b}" for a, b in zip(first, last)],
            "email": [f"{a}.{b}{i // 2}@mail.com" for i, (a, b) in enumerate(zip(first, last))],  # two rows each
            "case_number": [f"13{i // 2:06d}CF10A" for i in range(n)],
            "in_date": din.strftime("%Y-%m-%d"),
            "out_date": pd.Series(dout.strftime("%Y-%m-%d")).where(~out_null, None),
            "screening": din.strftime("%m/%d/%Y"),  # always the in_date, in another format
            "eu_date": dout.strftime("%d.%m.%Y"),
            "ts": (din + pd.to_timedelta(rng.integers(0, 86400, n), "s")).strftime("%Y-%m-%d %H:%M:%S"),
            "ts_zone": (din + pd.to_timedelta(rng.integers(0, 86400, n), "s")).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            "amount": [f"{x:,.1f}" for x in rng.uniform(0, 5000, n)],
            "flag": rng.choice(["Yes", "No"], n),
            "empty": pd.Series([None] * n, dtype=object),
            "constant": ["same"] * n,
            "notes": [" ".join(rng.choice(["lorem", "ipsum", "dolor", "sit", "amet", "elit"], 12)) for _ in range(n)],
            "my col.x": rng.normal(size=n).round(3),
            "age": rng.integers(18, 70, n),
            "label": rng.choice(["a", "b"], n),
        }
    )


def round_trip(table: pa.Table, overrides=None, seed: int = 1):
    """infer -> fit -> encode -> decode: (schema, encoder, decoded table)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(table, overrides)
        enc = TabularEncoder.fit(table, schema, n_bins=20)
    out = enc.decode(enc.encode(table), np.random.default_rng(seed))
    return schema, enc, out


def one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


# ---- reading ------------------------------------------------------------------------------------
def test_bom_and_semicolon_csv_is_read_as_its_columns(tmp_path):
    df = messy_frame()
    path = tmp_path / "bom.csv"
    df.to_csv(path, sep=";", index=False, encoding="utf-8-sig")
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    t = read_table(path)
    assert t.column_names == list(df.columns)  # no BOM glued to 'id', not one ';'-joined column
    assert t.column("id").to_pylist() == list(range(N))
    schema, _, out = round_trip(t)
    assert out.schema == t.schema
    assert schema.column("amount").codec["thousands"] == ","


@pytest.mark.parametrize("gap", [" ", "   "])
def test_space_separated_files_with_quoted_names_are_read_as_their_columns(tmp_path, gap):
    """statsmodels' spector (`'OBS' 'GPA' 'TUCE'` then `1 2.66 20`) and anes96 (tabs, names in single
    quotes) were one column of whole lines, and a column named `'popul'`, quotes included."""
    rows = [gap.join(["'OBS'", "'GPA'", "'GRADE'"])] + [
        gap.join([str(i), f"{2 + i / 40:.2f}", str(i % 2)]) for i in range(40)
    ]
    (tmp_path / "spaced.csv").write_text("\n".join(rows) + "\n")
    t = read_table(tmp_path / "spaced.csv")
    assert t.column_names == ["OBS", "GPA", "GRADE"] and t.num_rows == 40
    assert t.column("GPA").type == pa.float64() and t.column("OBS").to_pylist() == list(range(40))
    (tmp_path / "tabs.csv").write_text("'popul'\t'vote'\n" + "".join(f"{i * 10}\t{i % 2}\n" for i in range(30)))
    assert read_table(tmp_path / "tabs.csv").column_names == ["popul", "vote"]


def test_a_first_line_of_numbers_is_data_unless_it_counts_the_columns(tmp_path):
    """statsmodels' E6_jmulti (`-0.00313258 0.083`, no header) lost its first row to the names."""
    lines = [f"{i / 100 - 0.5:.5f} 0.0{i % 9 + 1}" for i in range(30)]
    (tmp_path / "bare.txt").write_text("\n".join(lines) + "\n")
    t = read_table(tmp_path / "bare.txt")
    assert t.column_names == ["column_1", "column_2"] and t.num_rows == 30
    assert t.column("column_1").to_pylist()[0] == pytest.approx(-0.5)
    pd.DataFrame(np.arange(12).reshape(4, 3)).to_csv(tmp_path / "labels.csv", index=False)  # names 0, 1, 2
    t = read_table(tmp_path / "labels.csv")
    assert t.column_names == ["0", "1", "2"] and t.num_rows == 4
    # UCI's german.data: codes and numbers, no header, a number repeated in the first line
    rows = [
        f"A1{i % 4 + 1} {6 + i % 40} A3{i % 5} {1000 + 7 * i} {i % 4 + 1} A9{i % 4 + 1} {i % 4 + 1}" for i in range(50)
    ]
    (tmp_path / "german.data").write_text("\n".join(rows) + "\n")
    t = read_table(tmp_path / "german.data")
    assert t.num_rows == 50 and t.column_names == [f"column_{i}" for i in range(1, 8)]
    assert t.column("column_1").to_pylist()[0] == "A11" and t.column("column_4").type == pa.int64()


def test_a_column_of_words_with_spaces_stays_one_column(tmp_path):
    (tmp_path / "names.csv").write_text("name\n" + "".join(f"Ann Smith{i}\n" for i in range(30)))
    assert read_table(tmp_path / "names.csv").column_names == ["name"]


def test_a_report_exports_title_lines_and_blank_rows_are_not_records(tmp_path):
    """An ERP's sales report: a title, the run's date and a blank line of commas above the header (read
    as the names: "duplicate column names ['']"), a blank line and a totals row below the records."""
    rows = [f"SO-{100000 + i},{i % 12 + 1:02d}/15/2024,{'East' if i % 3 else 'West'},{10 + i % 7}" for i in range(40)]
    text = "Sales report,,,\nGenerated 2026-01-05 by ERP,,,\n,,,\nOrder ID,Order Date,Region,Qty\n"
    text += "\n".join(rows) + f"\n,,,\nTotal,,,{sum(10 + i % 7 for i in range(40))}\n"
    (tmp_path / "report.csv").write_text(text)
    with pytest.warns(UserWarning, match="1 row\\(s\\) with every field empty are left out"):
        t = read_table(tmp_path / "report.csv")
    assert t.column_names == ["Order ID", "Order Date", "Region", "Qty"] and t.num_rows == 41
    assert t.column("Order ID").to_pylist()[-1] == "Total"  # the last row, as totals_row reads it
    with pytest.warns(UserWarning, match="totals row"):
        assert drop_totals_row(t, "report.csv").num_rows == 40
    (tmp_path / "plain.csv").write_text("a,b,c\n1,,\n2,3,\n")  # a first data row with empty fields stays data
    assert read_table(tmp_path / "plain.csv").column("a").to_pylist() == [1, 2]
    (tmp_path / "index.csv").write_text(",a,b\n0,1,2\n1,3,4\n")  # pandas' index column: unnamed, a header
    assert read_table(tmp_path / "index.csv").column_names == ["", "a", "b"]
    # a field over the csv module's 128 KiB limit among the lines read for the title (it raised csv.Error)
    (tmp_path / "long.csv").write_text("a,b\n" + "x" * 200_000 + ",1\ny,2\n")
    assert read_table(tmp_path / "long.csv").column("b").to_pylist() == [1, 2]


def test_one_off_multi_line_notes_of_a_category_are_written_as_fake_text():
    """A ticket table's `note`: 7 short notes that repeat and 100 one-off notes of two lines; the
    one-off ones were levels like any other and came back verbatim (97 of 500 synthetic rows)."""
    rng = np.random.default_rng(2)
    notes = [
        f"Customer {i} called\nabout invoice {1000 + i}" if i % 5 == 0 else f"short note {i % 7}" for i in range(500)
    ]
    t = pa.table({"note": notes, "status": rng.choice(["Open", "Closed"], 500)})
    schema, enc, _ = round_trip(t)
    assert schema.column("note").kind == "categorical"
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = pd.Series(enc.decode(tokens, np.random.default_rng(4)).column("note").to_pylist())
    one_off = {v for v in notes if "\n" in v}
    assert not out.isin(one_off).any()  # no real one-off note
    assert out.str.startswith("short note").mean() > 0.02  # the repeated notes are written as they are
    fake = out[~out.isin(set(notes))]
    assert len(fake) > 100 and fake.str.len().between(5, 80).all()


def test_latin1_csv_keeps_its_letters(tmp_path):
    names = ["Zoë", "Müller", "Ærø", "café", "Ñandú", "Straße"]
    rows = [f"{names[i % 6]};{i % 7};{'oui' if i % 2 else 'non'}" for i in range(60)]
    path = tmp_path / "latin1.csv"
    path.write_bytes(("word;n;answer\n" + "\n".join(rows) + "\n").encode("latin-1"))
    t = read_table(path)
    assert set(t.column("word").to_pylist()) == set(names)
    _, _, out = round_trip(t)
    assert out.schema == t.schema
    assert set(out.column("word").to_pylist()) <= set(names)


def test_unreadable_encoding_is_one_line(tmp_path):
    path = tmp_path / "noise.csv"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    assert "UTF-8" in one_line(e) and str(path) in str(e.value)


def test_codes_written_with_leading_zeros_stay_text_in_csv(tmp_path):
    """A zip code column ("02134") read as numbers would lose its zeros and come back 2134; it stays
    text, read whole or streamed. Integers without a leading zero ("0", "10") stay integers."""
    from synthgen.config import load_config
    from synthgen.streaming import stream_source

    zips = ["02134", "10001", "00501", "94105", "60614"]
    rows = [f"{zips[i % 5]},{i % 11},{(i * 7) % 13:03d}" for i in range(120)]  # "000", "007", "012"
    path = tmp_path / "codes.csv"
    path.write_text("zip,n,code\n" + "\n".join(rows) + "\n")
    t = read_table(path)
    assert t.schema.field("zip").type == pa.string() and t.schema.field("code").type == pa.string()
    assert pa.types.is_integer(t.schema.field("n").type)
    assert set(t.column("zip").to_pylist()) == set(zips)
    streamed = next(stream_source(load_config(["data=file", f"data.path={path}"])).batches(100))
    assert streamed.schema.field("zip").type == pa.string() and streamed.column("code")[7].as_py() == "010"  # 49 % 13
    schema, _, out = round_trip(t)
    assert schema.column("zip").kind == "categorical" and set(out.column("zip").to_pylist()) <= set(zips)
    assert out.schema == t.schema


def test_times_of_day_in_csv_come_back_in_their_spelling_read_whole_or_streamed(tmp_path):
    """ "16:37" is read by the CSV reader as time32, which synthgen refused ("unsupported type
    time32[s]"); it stays text with a time codec, so it comes back "09:23", not "09:23:00"."""
    from synthgen.config import load_config
    from synthgen.streaming import stream_source

    rng = np.random.default_rng(5)
    hours, minutes = rng.integers(8, 18, 200), rng.integers(0, 60, 200)
    path = tmp_path / "times.csv"
    pd.DataFrame({"at": [f"{h:02d}:{m:02d}" for h, m in zip(hours, minutes)], "n": rng.integers(0, 9, 200)}).to_csv(
        path, index=False
    )
    t = read_table(path)
    assert t.schema.field("at").type == pa.string()
    streamed = next(stream_source(load_config(["data=file", f"data.path={path}"])).batches(100))
    assert streamed.schema.field("at").type == pa.string()
    schema, _, out = round_trip(t)
    assert schema.column("at").kind == "datetime" and schema.column("at").codec["format"] == "%H:%M"
    assert out.schema == t.schema
    written = out.column("at").to_pylist()
    assert all(re.fullmatch(r"\d\d:\d\d", x) for x in written) and "08:00" <= min(written) <= max(written) <= "17:59"


@pytest.mark.parametrize(
    "spell",
    [
        lambda x: f"{x // 60}:{x % 60:02d}",  # call lengths "4:24", "31:05"
        lambda x: f"{x // 3600}:{x // 60 % 60:02d}:{x % 60:02d}" if x >= 3600 else f"{x // 60}:{x % 60:02d}",  # race
        lambda x: f"{x // 60:02d}:{x % 60:02d}",  # "04:24", padded
    ],
)
def test_elapsed_times_written_like_a_clock_are_counts_in_their_spelling(spell):
    """Minutes past 23 are no time of day: 1.5 % of such values became nulls (read as "%H:%M"), 4 %
    made the column a category of every value. They are whole counts, written back the same way."""
    rng = np.random.default_rng(11)
    seconds = np.concatenate([rng.integers(30, 1400, 985), rng.integers(1440, 7000, 15)])  # 1.5 % past 24 min
    t = pa.table({"length": [spell(int(x)) for x in seconds]})
    schema, _, out = round_trip(t)
    col = schema.column("length")
    assert col.kind == "integer" and col.codec["type"] == "duration" and col.null_share == 0
    assert (col.min, col.max) == (int(seconds.min()), int(seconds.max()))
    from synthgen.codecs import parse

    np.testing.assert_array_equal(parse(col.codec, t.column("length")).to_numpy(), seconds)
    assert out.schema == t.schema and out.column("length").null_count == 0
    back = parse(col.codec, out.column("length")).to_numpy()
    assert seconds.min() <= back.min() and back.max() <= seconds.max()
    assert [spell(int(x)) for x in back] == out.column("length").to_pylist()  # the same fields and padding
    assert infer_schema(pa.table({"at": [spell(int(x)) for x in seconds[:985] // 60]})).column("at").kind == "datetime"


@pytest.mark.parametrize("typ", [pa.time32("s"), pa.time32("ms"), pa.time64("us"), pa.time64("ns")])
def test_arrow_times_of_day_are_modelled_and_keep_their_type(tmp_path, typ):
    """A Parquet time-of-day column (a database's TIME) is a datetime to the model and comes back as
    the same Arrow time type, within the real range, nulls kept."""
    rng = np.random.default_rng(6)
    seconds = rng.integers(6 * 3600, 22 * 3600, 300)
    per = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[typ.unit]
    values = pa.array(seconds * per, pa.int32() if pa.types.is_time32(typ) else pa.int64()).cast(typ)
    values = pc.if_else(pa.array(np.arange(300) % 10 == 0), pa.scalar(None, typ), values)
    path = tmp_path / "times.parquet"
    pq.write_table(pa.table({"opens": values, "k": rng.integers(0, 4, 300)}), path)
    t = read_table(path)
    schema, _, out = round_trip(t)
    col = schema.column("opens")
    assert col.kind == "datetime" and col.codec["arrow_time"] and col.resolution == "s"
    assert out.schema == t.schema and out.column("opens").null_count > 0
    back = out.column("opens").drop_null().cast(pa.time64("ns")).cast(pa.int64()).to_numpy() // 1_000_000_000
    assert seconds.min() <= back.min() and back.max() <= seconds.max() and len(np.unique(back)) > 50


def test_a_closing_time_never_before_its_opening_time_stays_so_and_no_date_leans_on_a_time():
    """Times of day ordered in every real row are kept ordered (a 600-row table: 85 % of rows before); a date is
    never tied to a time of day (every date is "after" 1900-01-01 16:37, which says nothing)."""
    rng = np.random.default_rng(9)
    opens = rng.integers(6 * 3600, 20 * 3600, 400)
    closes = np.minimum(opens + rng.gamma(2, 1200, 400).astype(int), 86_399)
    days = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 365, 400), unit="D")
    t = pa.table(
        {
            "opens": pa.array(opens, pa.int32()).cast(pa.time32("s")),
            "closes": pa.array(closes, pa.int32()).cast(pa.time32("s")),
            "day": pa.array(days.date, pa.date32()),
        }
    )
    schema, _, out = round_trip(t)
    assert [(r["column"], r["base"]) for r in schema.relations] == [("closes", "opens")]
    o, c = (out.column(k).cast(pa.int32()).to_numpy(zero_copy_only=False) for k in ("opens", "closes"))
    assert (c >= o).all() and len(np.unique(c - o)) > 50


def test_csv_missing_value_markers_are_nulls_and_none_is_a_level(tmp_path):
    """pandas' missing-value spellings ("N/A", "#N/A", "NULL", ...) are nulls, so a numeric column
    with them stays numeric (it was a category of 600 number labels); "None" is a level."""
    rng = np.random.default_rng(4)
    score = np.round(rng.normal(50, 10, 300), 1).astype(str).astype(object)
    score[::10], score[5::40], score[7::40] = "N/A", "#N/A", "NULL"
    alley = np.where(np.arange(300) % 3 == 0, "None", np.where(np.arange(300) % 3 == 1, "Grvl", "Pave"))
    path = tmp_path / "markers.csv"
    pd.DataFrame({"score": score, "alley": alley}).to_csv(path, index=False)
    t = read_table(path)
    assert pa.types.is_floating(t.schema.field("score").type)
    assert t.column("score").null_count == 30 + 8 + 8
    assert t.column("alley").null_count == 0 and "None" in set(t.column("alley").to_pylist())
    assert infer_schema(t, {}).column("score").kind == "continuous"


# ---- types from text ----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"])
def test_date_strings_come_back_as_new_dates_in_their_format(fmt):
    rng = np.random.default_rng(2)
    days = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3000, 400), "D")
    t = pa.table({"d": days.strftime(fmt), "x": rng.integers(0, 5, 400)})
    schema, enc, _ = round_trip(t)
    col = schema.column("d")
    assert (col.kind, col.codec["format"], col.codec["parse_rate"]) == ("datetime", fmt, 1.0)
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(4))
    assert out.schema == t.schema
    got = pd.to_datetime(pd.Series(out.column("d").to_pylist()), format=fmt)  # raises on another spelling
    assert got.min() >= days.min() and got.max() <= days.max()
    assert (~got.isin(days)).mean() > 0.2  # dates inside the real range that the real rows never had


@pytest.mark.parametrize("fmt", ["%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S"])
def test_rfc_2822_timestamps_are_datetimes_in_their_spelling(fmt):
    """E-mail and HTTP headers, RSS feeds: "Mon, 08 Apr 2024 10:50:42 +0000" was a category of every value."""
    rng = np.random.default_rng(6)
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 10**7, 300), "s")
    t = pa.table({"sent": ts.strftime(fmt), "x": rng.integers(0, 5, 300)})
    schema, enc, out = round_trip(t)
    assert (schema.column("sent").kind, schema.column("sent").codec["format"]) == ("datetime", fmt)
    got = pd.to_datetime(pd.Series(out.column("sent").to_pylist()), format=fmt, utc=True)  # raises on another spelling
    assert out.schema == t.schema and got.min() >= ts.min() - pd.Timedelta("1D") and got.nunique() > 100


@pytest.mark.parametrize(
    "written,fmt",
    [("%b %-d %Y", "%b %d %Y"), ("%-m/%-d/%Y", "%m/%d/%Y"), ("%B %-d, %Y", "%B %d, %Y"), ("%-d %B %Y", "%d %B %Y")],
)
def test_dates_without_leading_zeros_come_back_without_them(written, fmt):
    """Vega's stocks ('Jan 1 2000') was a category of 123 labels; '1/5/2020' came back '01/05/2020'."""
    rng = np.random.default_rng(5)
    days = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3000, 400), "D")
    t = pa.table({"d": days.strftime(written), "x": rng.integers(0, 5, 400)})
    schema, enc, _ = round_trip(t)
    codec = schema.column("d").codec
    assert (schema.column("d").kind, codec["format"], codec["write_format"]) == ("datetime", fmt, written)
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    text = pd.Series(enc.decode(tokens, np.random.default_rng(4)).column("d").to_pylist())
    assert (pd.to_datetime(text, format=fmt).dt.strftime(written) == text).all()  # the input's spelling
    assert text.str.contains(r"(?:^|\D)\d(?:\D|$)").mean() > 0.2  # single-digit days or months, unpadded


@pytest.mark.parametrize(
    "written,fmt",
    [
        ("%b-%-d-%Y", "%b-%d-%Y"),
        ("%d.%b.%Y", "%d.%b.%Y"),
        ("%a %b %d %Y", "%a %b %d %Y"),
        ("%Y-%b-%d %H:%M", "%Y-%b-%d %H:%M"),
    ],
)
def test_dates_in_a_format_outside_the_list_are_dates_in_their_spelling(written, fmt):
    """statsmodels' elec_equip (`Jan-1-1995`, a month per row) matched no listed format: every value
    was unique, so it became an identifier and came back as `Mab-1-1991`, `Aav-1-1014`."""
    rng = np.random.default_rng(6)
    days = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 5000, 300), "D")
    t = pa.table({"d": days.strftime(written), "x": rng.normal(size=300)})
    schema, enc, _ = round_trip(t)
    codec = schema.column("d").codec
    assert (schema.column("d").kind, codec["format"], codec.get("write_format", fmt)) == ("datetime", fmt, written)
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    text = pd.Series(enc.decode(tokens, np.random.default_rng(4)).column("d").to_pylist())
    dates = pd.to_datetime(text, format=fmt)  # raises on another spelling
    assert (dates.dt.strftime(written) == text).all() and dates.between(days.min(), days.max()).all()


def test_a_date_column_in_two_formats_is_dates_written_in_both():
    """Two systems' exports merged: `2024-01-05` beside `01/06/2024` (a third of the rows). No one
    format read 98 % of them, so the column was a category of its 700 date strings."""
    rng = np.random.default_rng(8)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, 600), "D")
    us = rng.random(600) < 1 / 3
    text = np.where(us, days.strftime("%m/%d/%Y"), days.strftime("%Y-%m-%d"))
    t = pa.table({"opened": text, "x": rng.normal(size=600)})
    schema, enc, _ = round_trip(t)
    codec = schema.column("opened").codec
    assert schema.column("opened").kind == "datetime" and codec["formats"] == ["%Y-%m-%d", "%m/%d/%Y"]
    assert codec["shares"][1] == pytest.approx(us.mean(), abs=0.01)
    from synthgen.codecs import parse

    parsed = parse(codec, pa.array(text)).to_pandas(date_as_object=False)
    assert (parsed == days).all()  # each value read by the format that reads it
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = pd.Series(enc.decode(tokens, np.random.default_rng(4)).column("opened").to_pylist())
    iso = pd.to_datetime(out, format="%Y-%m-%d", errors="coerce")
    slash = pd.to_datetime(out, format="%m/%d/%Y", errors="coerce")
    assert (iso.notna() | slash.notna()).all() and 0.25 < slash.notna().mean() < 0.42
    assert iso.fillna(slash).between(days.min(), days.max()).all()


@pytest.mark.parametrize(
    "values", [["A-12-2000", "B-13-2001"], ["1974Q1", "1975Q3"], ["3-4", "10-12"], ["1995", "2001"]]
)
def test_codes_a_date_guesser_could_misread_stay_what_they_are(values):
    codec = detect(pa.chunked_array([pa.array(values * 50)])) or {}
    assert codec.get("type") != "datetime"


def test_numbers_and_dates_with_a_missing_value_word_are_typed_and_keep_the_word():
    """A column of numbers with '-' (or 'unknown', 'n/a') for a missing value was a category of
    every distinct number; now the numbers are numbers and the word comes back where they are missing."""
    rng = np.random.default_rng(11)
    n = 400
    score = np.round(rng.normal(50, 10, n), 1).astype(str).astype(object)
    score[rng.random(n) < 0.1] = "-"
    visits = rng.integers(0, 40, n).astype(str).astype(object)
    visits[rng.random(n) < 0.05] = "unknown"
    day = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    seen = np.where(rng.random(n) < 0.08, "n/a", day.strftime("%Y-%m-%d"))
    level = rng.choice(["None", "Low", "High"], n)  # words only: a category, None a level
    t = pa.table({"score": score, "visits": visits, "seen": seen, "level": level})
    schema, enc, out = round_trip(t)
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"score": "continuous", "visits": "integer", "seen": "datetime", "level": "categorical"}
    assert [schema.column(c).codec["null_text"] for c in ("score", "visits", "seen")] == ["-", "unknown", "n/a"]
    assert schema.column("score").null_share == pytest.approx((score == "-").mean())
    assert out.schema == t.schema
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    text = enc.decode(tokens, np.random.default_rng(4)).to_pandas()
    assert text["score"].isna().sum() == 0 and (text["score"] == "-").mean() > 0.02  # the word, not a null
    assert pd.to_numeric(text["score"][text["score"] != "-"]).between(score_min(score), score_max(score)).all()
    assert set(text["visits"]) - {str(i) for i in range(40)} == {"unknown"}
    assert pd.to_datetime(text["seen"][text["seen"] != "n/a"], format="%Y-%m-%d").notna().all()
    # a column that also has real nulls keeps nulls for both (one token cannot tell them apart)
    both = pa.table({"score": pa.array(list(score[:-5]) + [None] * 5, type=pa.string())})
    assert "null_text" not in infer_schema(both).column("score").codec


def score_min(values) -> float:
    return min(float(v) for v in values if v != "-")


def score_max(values) -> float:
    return max(float(v) for v in values if v != "-")


@pytest.mark.parametrize(
    "written,fmt",
    [
        ("%-m/%-d/%Y %-H:%M", "%m/%d/%Y %H:%M"),  # a US spreadsheet's timestamp, "1/5/2020 9:05"
        ("%-m/%-d/%Y %-I:%M %p", "%m/%d/%Y %I:%M %p"),  # "1/5/2020 9:05 AM"
        ("%m/%d/%Y %-H:%M", "%m/%d/%Y %H:%M"),  # padded date, unpadded hour
        ("%m/%d/%y", "%m/%d/%y"),  # two-digit years
        ("%-m/%-d/%y", "%m/%d/%y"),
        ("%d-%b-%y", "%d-%b-%y"),  # Oracle's "05-Jan-20"
    ],
)
def test_spreadsheet_timestamps_and_short_years_come_back_in_their_spelling(written, fmt):
    """Such columns were text labels: each distinct timestamp a category."""
    rng = np.random.default_rng(8)
    minutes = pd.Timestamp("2012-01-01") + pd.to_timedelta(rng.integers(0, 3000 * 1440, 400), "min")
    t = pa.table({"d": minutes.strftime(written), "x": rng.integers(0, 5, 400)})
    schema, enc, _ = round_trip(t)
    codec = schema.column("d").codec
    assert (schema.column("d").kind, codec["format"], codec.get("write_format", fmt)) == ("datetime", fmt, written)
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    text = pd.Series(enc.decode(tokens, np.random.default_rng(4)).column("d").to_pylist())
    parsed = pd.to_datetime(text, format=fmt)
    assert (parsed.dt.strftime(written) == text).all()  # the input's spelling
    assert parsed.min() >= minutes.min().floor("D") and parsed.max() <= minutes.max().ceil("D")


@pytest.mark.parametrize("fmt", ["%Y-%m", "%b %Y", "%m/%Y", "%b-%y"])
def test_month_strings_are_monthly_dates(fmt):
    rng = np.random.default_rng(6)
    months = _month_starts(rng, 300, months=120)
    t = pa.table({"m": months.strftime(fmt), "x": rng.integers(0, 5, 300)})
    schema, enc, _ = round_trip(t)
    col = schema.column("m")
    assert (col.kind, col.codec["format"], col.calendar) == ("datetime", fmt, "M")
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    got = pd.to_datetime(pd.Series(enc.decode(tokens, np.random.default_rng(4)).column("m").to_pylist()), format=fmt)
    assert got.min() >= months.min() and got.max() <= months.max() and got.nunique() > 60


def _month_starts(rng, n, first="2000-01-01", months=240):
    """n month starts drawn from `months` consecutive months (some never drawn)."""
    return pd.DatetimeIndex([pd.Timestamp(first) + pd.DateOffset(months=int(k)) for k in rng.integers(0, months, n)])


def test_monthly_and_yearly_dates_stay_on_their_calendar_grid():
    """A column whose every value is a month's first day (a monthly panel) or a year's (a model
    year) decodes to month (year) starts only, including months between the real ones; a column
    with one day off the grid, and plain days, keep day resolution."""
    rng = np.random.default_rng(11)
    n = 400
    monthly = _month_starts(rng, n, months=600)  # 600 months, half never drawn, 20 bins: draws between them
    yearly = pd.DatetimeIndex([pd.Timestamp(f"{y}-01-01") for y in rng.integers(1960, 2000, n)])
    off = monthly.strftime("%Y-%m-%d").tolist()
    off[7] = "2005-06-15"
    days = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3000, n), "D")
    t = pa.table(
        {
            "month": monthly.strftime("%Y-%m-%d"),  # text, as a CSV has it
            "year": pa.array(yearly.date, pa.date32()),
            "off": off,
            "day": days.strftime("%Y-%m-%d"),
        }
    )
    schema, enc, _ = round_trip(t)
    assert {c: schema.column(c).calendar for c in t.column_names} == {
        "month": "M",
        "year": "Y",
        "off": None,
        "day": None,
    }
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(4))
    assert out.schema == t.schema
    month = pd.to_datetime(pd.Series(out.column("month").to_pylist()), format="%Y-%m-%d")
    assert (month.dt.day == 1).all() and month.min() >= monthly.min() and month.max() <= monthly.max()
    assert (~month.isin(monthly)).mean() > 0.05  # months inside the real range the real rows never had
    year = pd.to_datetime(pd.Series(out.column("year").to_pylist()))
    assert ((year.dt.month == 1) & (year.dt.day == 1)).all() and year.dt.year.nunique() > 20
    day = pd.to_datetime(pd.Series(out.column("day").to_pylist()), format="%Y-%m-%d")
    assert (day.dt.day != 1).mean() > 0.5  # day resolution as before
    # conditioning on a monthly value reads it in months: any day of March 2005 is March 2005's token
    codec = enc.codecs["month"]
    assert codec.token_of("2005-03-01") == codec.token_of("2005-03-17")


def test_a_monthly_end_never_before_its_monthly_start_stays_on_the_grid():
    """end = start + 0..23 months (an ordering, modelled as an offset in days from start): every
    decoded end is a month start again and never before start."""
    rng = np.random.default_rng(12)
    start = _month_starts(rng, 300)
    end = pd.DatetimeIndex([s + pd.DateOffset(months=int(k)) for s, k in zip(start, rng.integers(0, 24, 300))])
    t = pa.table({"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")})
    schema, enc, _ = round_trip(t)
    assert [(r["column"], r["base"]) for r in schema.relations] == [("end", "start")]
    assert schema.column("end").calendar == "M"
    tokens = np.stack([np.random.default_rng(5).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(6)).to_pandas().apply(pd.to_datetime)
    assert (out["end"].dt.day == 1).all() and (out["end"] >= out["start"]).all()


def test_timestamps_with_and_without_zone():
    rng = np.random.default_rng(5)
    ts = pd.Timestamp("2013-02-20") + pd.to_timedelta(rng.integers(0, 10**8, 300), "s")
    t = pa.table(
        {
            "plain": ts.strftime("%Y-%m-%d %H:%M:%S"),
            "iso_z": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "offset": ts.strftime("%Y-%m-%d %H:%M:%S+01:00"),
            "k": rng.integers(0, 3, 300),
        }
    )
    schema, _, out = round_trip(t)
    assert schema.kinds()["plain"] == schema.kinds()["iso_z"] == schema.kinds()["offset"] == "datetime"
    assert schema.column("iso_z").codec["native"].endswith("tz=UTC]")
    assert out.schema == t.schema
    for name, pattern in (
        ("plain", r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"),
        ("iso_z", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        ("offset", r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+\d\d:\d\d"),
    ):
        assert all(re.fullmatch(pattern, v) for v in out.column(name).to_pylist()), name
    # written at the input's offset (its most common one), the same instants as the decoded ones
    assert schema.column("offset").codec["offset_minutes"] == 60
    assert all(v.endswith("+01:00") for v in out.column("offset").to_pylist())
    instants = pd.to_datetime(pd.Series(out.column("offset").to_pylist()), utc=True)
    assert instants.min() >= ts.min().tz_localize("+01:00") and instants.max() <= ts.max().tz_localize("+01:00")
    new_york = pa.table(
        {"t": [x.strftime("%Y-%m-%d %H:%M:%S") + ("-04:00" if i % 3 else "-05:00") for i, x in enumerate(ts)]}
    )
    ny_schema, _, ny_out = round_trip(new_york)
    assert ny_schema.column("t").codec["offset_minutes"] == -240
    assert all(v.endswith("-04:00") for v in ny_out.column("t").to_pylist())


def test_formatted_numbers_and_yes_no_words():
    rng = np.random.default_rng(6)
    v = rng.uniform(0, 1e6, 300).round(1)
    t = pa.table(
        {
            "amount": [f"{x:,.1f}" for x in v],
            "price": [f"${x:,.2f}" for x in v / 100],
            "share": [f"{x:.1f}%" for x in v / 1e4],
            "ok": rng.choice(["Yes", "No"], 300),
        }
    )
    schema, _, out = round_trip(t)
    assert schema.kinds() == {"amount": "continuous", "price": "continuous", "share": "continuous", "ok": "boolean"}
    assert schema.column("amount").codec["parse_rate"] == 1.0
    assert out.schema == t.schema
    amounts = [float(s.replace(",", "")) for s in out.column("amount").to_pylist()]
    assert min(amounts) >= v.min() and max(amounts) <= v.max()
    assert all(re.fullmatch(r"\$\d{1,3}(,\d{3})*\.\d\d", s) for s in out.column("price").to_pylist())
    assert set(out.column("ok").to_pylist()) <= {"Yes", "No"}


def test_negative_amounts_keep_their_spelling():
    rng = np.random.default_rng(8)
    v = rng.normal(0, 5000, 300).round(2)

    def acct(x):
        return f"({abs(x):,.2f})" if x < 0 else f"{x:,.2f}"

    def lead(x):
        return f"-${abs(x):,.2f}" if x < 0 else f"${x:,.2f}"

    t = pa.table({"ledger": [acct(x) for x in v], "refund": [lead(x) for x in v], "plain": [f"{x:,.2f}" for x in v]})
    schema, _, out = round_trip(t)
    assert {c: schema.column(c).codec["negative"] for c in t.column_names} == {
        "ledger": "parentheses",
        "refund": "before prefix",
        "plain": "sign",
    }
    from synthgen.codecs import parse

    np.testing.assert_allclose(parse(schema.column("ledger").codec, t.column("ledger")).to_numpy(), v)
    np.testing.assert_allclose(parse(schema.column("refund").codec, t.column("refund")).to_numpy(), v)
    assert out.schema == t.schema
    ledger, refund = out.column("ledger").to_pylist(), out.column("refund").to_pylist()
    assert any(x.startswith("(") for x in ledger) and all(re.fullmatch(r"\(?[\d,]+\.\d\d\)?", x) for x in ledger)
    assert any(x.startswith("-$") for x in refund) and all(re.fullmatch(r"-?\$[\d,]+\.\d\d", x) for x in refund)
    assert (
        parse(
            {"type": "number", "thousands": ",", "decimal": "."} | schema.column("plain").codec,
            pa.array(["(12", "12)", "(-12)", "-$-3"]),
        ).null_count
        == 4
    )  # unpaired or doubly negative


def test_whole_numbers_with_thousands_separators_are_integers_in_their_spelling():
    """ "1,234"-style counts with no decimal mark anywhere (the decimals count used to read no strings
    and fail inside pandas)."""
    rng = np.random.default_rng(3)
    t = pa.table({"n": [f"{x:,}" for x in rng.integers(1_000, 5_000_000, 300)]})
    schema, _, out = round_trip(t)
    col = schema.column("n")
    assert col.kind == "integer" and col.codec["thousands"] == "," and col.codec["decimals"] == 0
    assert out.schema == t.schema and all(re.fullmatch(r"\d{1,3}(,\d{3})*", x) for x in out.column("n").to_pylist())


def test_decimal_commas_without_groups_are_numbers_in_their_spelling():
    """A European export's "80,7" and "0,25" (no thousands group anywhere) are numbers, not a category
    of every value; "1,234" alone stays a thousands group and a plain code stays text."""
    rng = np.random.default_rng(4)
    v = rng.uniform(0, 100, 300).round(1)
    t = pa.table(
        {
            "rate": [f"{x:.1f}".replace(".", ",") for x in v],
            "share": [f"{x / 100:.2f}".replace(".", ",") for x in v],
            "count": [f"{x:,}" for x in rng.integers(1_000, 9_999, 300)],
            "code": [str(x) for x in rng.integers(100, 999, 300)],
        }
    )
    schema, _, out = round_trip(t)
    assert schema.kinds() == {"rate": "continuous", "share": "continuous", "count": "integer", "code": "categorical"}
    assert {c: schema.column(c).codec["decimal"] for c in ("rate", "share")} == {"rate": ",", "share": ","}
    assert schema.column("count").codec["decimal"] == "."
    assert out.schema == t.schema
    rates = [float(x.replace(",", ".")) for x in out.column("rate").to_pylist()]
    assert all(re.fullmatch(r"\d+,\d", x) for x in out.column("rate").to_pylist())
    assert all(re.fullmatch(r"\d,\d\d", x) for x in out.column("share").to_pylist())
    assert v.min() <= min(rates) and max(rates) <= v.max()


def test_numbers_with_a_unit_or_currency_code_are_numbers_written_with_it(tmp_path):
    """ "12.3 kg", "120 km/h", "37.5 °C", "USD 1,234.00", "12,50 €" (a spreadsheet's units and a
    finance export's codes) are numbers written back with their unit and spacing ("1 year" beside
    "3 years" too), read from a CSV as a user has it; two units in one column, ordinals and labels
    stay text."""
    rng = np.random.default_rng(5)
    v = rng.gamma(3, 2, 300).round(1)
    df = pd.DataFrame(
        {
            "weight": [f"{x:.1f} kg" if i % 5 else f"{x:.1f}kg" for i, x in enumerate(v)],
            "speed": [f"{x * 10:.0f} km/h" for x in v],
            "temp": [f"{x + 30:.1f} °C" for x in v],
            "amount": [f"USD {x * 1003.17:,.2f}" for x in v],
            "price": [f"{x:.2f} €".replace(".", ",") for x in v],
            "tenure": [f"{int(x) % 6} year" + ("" if int(x) % 6 == 1 else "s") for x in v],  # "1 year", "3 years"
            "mixed_units": [f"{x:.1f} kg" if i % 2 else f"{x:.1f} lb" for i, x in enumerate(v)],
            "ordinal": [["1st", "2nd", "3rd", "4th"][i % 4] for i in range(300)],
            "room": [f"Apt {int(x)}" for x in v],
        }
    )
    df.to_csv(tmp_path / "units.csv", index=False)
    t = read_table(tmp_path / "units.csv")
    schema, _, out = round_trip(t)
    kinds = schema.kinds()
    assert {c: kinds[c] for c in ("weight", "speed", "temp", "amount", "price")} == {
        "weight": "continuous",
        "speed": "integer",
        "temp": "continuous",
        "amount": "continuous",
        "price": "continuous",
    }
    assert {c: kinds[c] for c in ("mixed_units", "ordinal", "room")} == dict.fromkeys(
        ("mixed_units", "ordinal", "room"), "categorical"
    )
    codecs = {c: schema.column(c).codec for c in ("weight", "speed", "temp", "amount", "price")}
    assert [codecs[c]["suffix"] for c in ("weight", "speed", "temp", "price")] == [" kg", " km/h", " °C", " €"]
    assert codecs["amount"]["prefix"] == "USD " and codecs["price"]["decimal"] == ","
    tenure = schema.column("tenure").codec
    assert (schema.column("tenure").kind, tenure["suffix"], tenure["suffix_one"]) == ("integer", " years", " year")
    assert all(re.fullmatch(r"1 year|[02-9]\d* years", x) for x in out.column("tenure").to_pylist())
    assert out.schema == t.schema
    spelled = {
        "weight": r"\d+\.\d kg",
        "speed": r"\d+ km/h",
        "temp": r"\d+\.\d °C",
        "amount": r"USD \d{1,3}(,\d{3})*\.\d\d",
        "price": r"\d+,\d\d €",
    }
    for column, pattern in spelled.items():
        assert all(re.fullmatch(pattern, x) for x in out.column(column).to_pylist()), column
    weights = [float(x[:-3]) for x in out.column("weight").to_pylist()]
    assert v.min() <= min(weights) and max(weights) <= v.max()


def test_integer_dates_written_yyyymmdd_are_dates_written_back_as_integers(tmp_path):
    """A warehouse export's date keys (20190131, read from a CSV as int64) are dates: modelled as a
    number, 20190131 drew 20190150. They come back as int64 yyyymmdd, every one a real calendar day
    within the real range, and keep their ordering; 8-digit numbers that are no dates stay numbers."""
    rng = np.random.default_rng(9)
    n = 400
    order = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 900, n), "D")
    ship = order + pd.to_timedelta(rng.integers(0, 10, n), "D")
    df = pd.DataFrame(
        {
            "order_date": order.strftime("%Y%m%d").astype(int),
            "ship_date": ship.strftime("%Y%m%d").astype(int),
            "account": rng.integers(10_000_000, 99_999_999, n),  # 8 digits, ~4 % of them dates
            "qty": rng.integers(1, 500, n),
        }
    )
    df.to_csv(tmp_path / "orders.csv", index=False)
    t = read_table(tmp_path / "orders.csv")
    assert t.schema.field("order_date").type == pa.int64()
    schema, enc, _ = round_trip(t)
    assert schema.kinds() == {"order_date": "datetime", "ship_date": "datetime", "account": "integer", "qty": "integer"}
    assert schema.column("order_date").codec["int_date"]
    assert [(r["column"], r["base"]) for r in schema.relations] == [("ship_date", "order_date")]
    tokens = np.stack([np.random.default_rng(1).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(2))
    assert out.schema == t.schema
    got = out.to_pandas()
    days = {
        c: pd.to_datetime(got[c].astype(str), format="%Y%m%d", errors="coerce") for c in ("order_date", "ship_date")
    }
    assert all(d.notna().all() for d in days.values())
    assert (days["ship_date"] >= days["order_date"]).all()
    assert days["order_date"].min() >= order.min() and days["order_date"].max() <= order.max()


def test_kind_and_format_overrides():
    t = pa.table({"d": ["01/02/2013", "03/04/2014", "05/06/2015"] * 20, "n": list(range(60))})
    schema, _, out = round_trip(t, {"d": {"kind": "datetime", "format": "%d/%m/%Y"}})
    assert schema.column("d").codec["format"] == "%d/%m/%Y"
    assert out.schema == t.schema
    assert infer_schema(t, {"d": "categorical"}).column("d").kind == "categorical"
    with pytest.raises(SynthgenError) as e:
        infer_schema(t, {"d": {"kind": "datetime", "format": "%Y-%m-%d"}})
    assert "data.columns.d.format" in one_line(e)


def test_loose_date_orderings_are_clamped_tight_ones_offset():
    rng = np.random.default_rng(7)
    dob = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 16000, 300), "D")
    screen = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 700, 300), "D")
    t = pa.table(
        {
            "dob": dob.strftime("%Y-%m-%d"),
            "screening": screen.strftime("%Y-%m-%d"),
            "decision": (screen + pd.to_timedelta(rng.integers(0, 5, 300), "D")).strftime("%Y-%m-%d"),
        }
    )
    schema, enc, _ = round_trip(t)
    rel = {r["column"]: (r["base"], r["encoding"]) for r in schema.relations}
    # screening is never before the birth date, but an offset from it would smear the screening date
    assert rel == {"screening": ("dob", "clamp"), "decision": ("screening", "offset")}
    tokens = np.stack([np.random.default_rng(8).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(9)).to_pandas().apply(pd.to_datetime)
    assert (out["screening"] >= out["dob"]).all() and (out["decision"] >= out["screening"]).all()
    assert out["screening"].min() >= screen.min() and out["screening"].max() <= screen.max()


def _price_table(n: int = 400, seed: int = 13) -> pa.Table:
    """Daily prices (2 decimals) with low <= open, close <= high, an integer floor never above the
    low (and not a function of it), a weight that is above an age only because of their scales, and
    a copy of close (a conversion: synthgen/conversions.py)."""
    rng = np.random.default_rng(seed)
    mid = 50 + np.cumsum(rng.normal(0, 1, n))
    open_, close = mid + rng.normal(0, 1, n), mid + rng.normal(0, 1, n)
    low = np.minimum(open_, close) - rng.exponential(0.5, n)
    high = np.maximum(open_, close) + rng.exponential(0.5, n)
    return pa.table(
        {
            "open": np.round(open_, 2),
            "high": np.round(high, 2),
            "low": np.round(low, 2),
            "close": np.round(close, 2),
            "floor": np.floor(low - 3 - rng.integers(0, 3, n)).astype(np.int64),
            "age": rng.integers(18, 40, n),
            "weight": np.round(rng.normal(75, 8, n).clip(50, 120), 1),
            "close_again": np.round(close, 2),
            # seats span 2-450 and speeds 90-430, but only planes of under 30 seats have a speed
            "seats": (seats := rng.integers(2, 450, n)),
            "speed": np.where(seats < 30, rng.uniform(90, 430, n), np.nan),
        }
    )


def test_number_orderings_are_found_and_kept_in_every_row():
    """high >= open, close >= low >= floor hold in the real rows and in every decoded row; weight
    >= age and speed >= seats (scales apart where both are set) are no orderings, and close_again
    (a copy of close) is written from close, not ordered."""
    from synthgen.evaluate.orderings import value_orderings

    t = _price_table()
    schema, enc, _ = round_trip(t)
    bounds = {o["column"]: set(o["at_least"]) for o in schema.orders}
    assert bounds == {
        "low": {"floor"},
        "open": {"low", "floor"},
        "close": {"low", "floor"},
        "high": {"open", "low", "close", "floor"},
    }
    assert [(cv["column"], cv["from"]) for cv in schema.conversions] == [("close_again", "close")]
    placed = [o["column"] for o in schema.orders]
    assert all(placed.index(b) < placed.index(o["column"]) for o in schema.orders for b in o["at_least"] if b in placed)
    assert set(bounds) <= enc.derived
    tokens = np.stack([np.random.default_rng(5).integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(6)).to_pandas()
    assert (out["high"] >= out[["open", "close", "low"]].max(axis=1)).all()
    assert (out[["open", "close"]].min(axis=1) >= out["low"]).all() and (out["low"] >= out["floor"]).all()
    assert (out["high"].round(2) == out["high"]).all()  # still on the 2-decimal grid
    assert (out["close_again"] == out["close"]).all()
    real = t.to_pandas()
    scores = value_orderings(real, out, {c: "continuous" for c in real.columns})
    assert scores["fidelity.value_orderings"] == 1.0 and "fidelity.value_order.low.high" in scores
    assert not any("weight" in k or ("close." in k and "close_again" in k) for k in scores)
    broken = out.assign(high=out["low"] - 1)  # every row breaks low <= high
    assert value_orderings(real, broken, {c: "continuous" for c in real.columns})["fidelity.value_orderings"] == 0.0


def test_an_ordering_with_a_few_slips_is_kept_and_one_with_many_is_not():
    rng = np.random.default_rng(4)
    offense = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 700, 400), "D")
    jail_in = offense + pd.to_timedelta(rng.integers(0, 30, 400), "D")
    slips = jail_in.to_numpy().copy()
    slips[:3] = offense[:3] - pd.Timedelta(days=2)  # 3 data-entry slips in 400 rows (0.75 %)
    offense_with_nulls = offense.strftime("%Y-%m-%d").to_numpy(dtype=object)
    offense_with_nulls[10:20] = None  # the offense date is missing in some rows where jail-in is set
    t = pa.table({"offense": offense_with_nulls, "jail_in": pd.DatetimeIndex(slips).strftime("%Y-%m-%d")})
    schema, enc, _ = round_trip(t)
    assert [(r["column"], r["base"], r["encoding"]) for r in schema.relations] == [("jail_in", "offense", "clamp")]
    tokens = np.stack([np.random.default_rng(5).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(6)).to_pandas().apply(pd.to_datetime)
    both = out.notna().all(axis=1)
    assert (out["jail_in"][both] >= out["offense"][both]).all()
    many = pa.table(
        {
            "offense": offense.strftime("%Y-%m-%d"),
            "jail_in": (offense + pd.to_timedelta(rng.integers(-3, 30, 400), "D")).strftime("%Y-%m-%d"),
        }
    )
    assert infer_schema(many).relations == []  # ~9 % of rows before: not an ordering


def test_date_orderings_read_nanoseconds_and_never_tie_two_zones():
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, 200), "D")
    end = start + pd.to_timedelta(rng.integers(0, 5, 200), "D")
    ns = pa.table(
        {"start": pa.array(start.values.astype("datetime64[ns]")), "end": pa.array(end.values.astype("datetime64[ns]"))}
    )
    # nanosecond counts once all read as 0 microseconds: a tie everywhere, "end == start"
    assert [(r["column"], r["base"], r["op"]) for r in infer_schema(ns).relations] == [("end", "start", ">=")]
    zoned = pa.table(
        {
            "paris": pa.array(start).cast(pa.timestamp("us", tz="Europe/Paris")),
            "utc": pa.array(end).cast(pa.timestamp("ns", tz="UTC")),
        }
    )
    # utc's instant is never before paris', but decoding would raise utc's wall clock to paris'
    assert infer_schema(zoned).relations == []


# ---- nothing refused that should go through ----------------------------------------------------
def test_all_null_and_constant_columns_are_carried_through(tmp_path):
    df = pd.DataFrame({"x": np.arange(50) % 7, "nothing": [None] * 50, "nan": [np.nan] * 50, "same": ["a"] * 50})
    path = tmp_path / "nulls.csv"
    df.to_csv(path, index=False)
    t = read_table(path)
    with pytest.warns(UserWarning, match="entirely null"):
        schema = infer_schema(t)
    assert schema.kinds() == {"x": "integer", "nothing": "empty", "nan": "empty", "same": "categorical"}
    _, _, out = round_trip(t)
    assert out.schema == t.schema
    assert out.column("nothing").null_count == 50 and set(out.column("same").to_pylist()) == {"a"}


def test_category_columns_work_in_every_stage(tmp_path):
    from synthgen.copies import CopyGuard

    df = pd.DataFrame(
        {"c": pd.Categorical(np.random.default_rng(0).choice(["x", "y", "z"], 80)), "n": np.arange(80) % 9}
    )
    path = tmp_path / "cat.parquet"
    df.to_parquet(path)
    t = read_table(path)
    assert pa.types.is_dictionary(t.schema.field("c").type)
    schema, enc, out = round_trip(t)
    assert out.schema == t.schema
    tokens = enc.encode(t)
    guard = CopyGuard(t, tokens, enc.layout.columns, t)  # crashed: ChunkedArray has no dictionary_decode
    assert len(guard.copies(tokens, out)) == len(t)  # the real rows, decoded back, are copies


def test_nothing_left_to_model_is_one_line(tmp_path):
    from synthgen.config import load_config
    from synthgen.pipeline import prepare

    df = messy_frame()[["id", "first", "last", "email", "notes"]]
    path = tmp_path / "people.parquet"
    df.to_parquet(path)
    with pytest.raises(SynthgenError) as e:
        prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}")))
    assert "nothing is left to model" in one_line(e)
    assert not (tmp_path / "out" / "prepared").exists()


# ---- personal data --------------------------------------------------------------------------------
def test_personal_data_is_fake_consistent_and_never_real():
    t = pa.Table.from_pandas(messy_frame(), preserve_index=False)
    schema, enc, out = round_trip(t)
    assert {c.name: c.pii for c in schema.columns if c.kind == "pii"} == {
        "first": "first_name",
        "last": "last_name",
        "name": "full_name",
        "email": "email",
    }
    assert schema.column("case_number").kind == "identifier"  # repeats do not make it safe
    assert out.schema == t.schema
    d, real = out.to_pandas(), t.to_pandas()
    assert (d["name"] == d["first"] + " " + d["last"]).all()  # one fake person per row
    assert d.apply(lambda r: r["email"].startswith(f"{r['first']}.{r['last']}"), axis=1).all()
    real_pairs = set(zip(real["first"], real["last"]))
    assert not set(zip(d["first"], d["last"])) & real_pairs
    assert not set(d["name"]) & set(real["name"]) and not set(d["email"]) & set(real["email"])
    assert not set(d["case_number"]) & set(real["case_number"])
    assert not set(d["notes"]) & set(real["notes"])
    state = json.dumps(enc.to_dict())
    assert "miguel" not in state and "@mail.com" not in state  # only hashes of real identifying values


def test_fake_emails_are_unique_where_the_real_ones_are_across_chunks_and_repeat_where_they_repeat():
    from synthgen import pii

    f, l_ = pii.fake_people(600, np.random.default_rng(2))
    t = pa.table(
        {
            "email": [f"{a}.{b}{i}@mail.com" for i, (a, b) in enumerate(zip(f, l_))],  # one per person
            "k": np.arange(600) % 7,
        }
    )
    schema, enc, _ = round_trip(t)
    assert schema.column("email").pii == "email" and schema.column("email").style["unique"]
    tokens = enc.encode(t)
    rng = np.random.default_rng(0)
    # three chunks decoded apart, numbered as generate numbers them (row_offset)
    chunks = [enc.decode(np.tile(tokens, (4, 1))[i : i + 800], rng, row_offset=i) for i in (0, 800, 1600)]
    emails = [e for c in chunks for e in c.column("email").to_pylist()]
    assert len(set(emails)) == len(emails) == 2400
    assert not set(emails) & set(t.column("email").to_pylist())
    # an e-mail on two rows each (messy_frame): not unique, so no row numbers either
    assert not infer_schema(pa.Table.from_pandas(messy_frame(), preserve_index=False)).column("email").style["unique"]


def test_fake_phones_keep_the_country_code_every_real_phone_shares():
    """ "+1 (920) 723-1676" came back as "+3 (414) 058-0702": the shape was kept, the "+1" every real
    number shares was not. The shared start is kept, up to half the digits, and no fake is real."""
    rng = np.random.default_rng(7)
    phones = [f"+1 ({rng.integers(200, 999)}) {rng.integers(200, 999)}-{rng.integers(1000, 9999)}" for _ in range(300)]
    same_area = [f"+44 20 7946 {rng.integers(1000, 9999)}" for _ in range(300)]  # 4 of 12 digits differ
    t = pa.table({"phone": phones, "office": same_area, "n": rng.integers(0, 5, 300)})
    schema, _, out = round_trip(t)
    assert schema.column("phone").pii == "phone" and schema.column("phone").style["prefix"] == "+1 ("
    assert schema.column("office").style["prefix"] == "+44 20 79"  # 6 of the 12 digits at most
    fake, office = out.column("phone").to_pylist(), out.column("office").to_pylist()
    assert all(re.fullmatch(r"\+1 \(\d{3}\) \d{3}-\d{4}", x) for x in fake)
    assert all(re.fullmatch(r"\+44 20 79\d\d \d{4}", x) for x in office)
    assert not set(fake) & set(phones) and not set(office) & set(same_area)
    assert len({x[:8] for x in fake}) > 100  # the area codes still vary


def test_fake_values_equal_to_real_ones_are_redrawn():
    from synthgen import pii

    # Real people drawn from the same name lists as the fakes: many fake pairs collide at first.
    f, l_ = pii.fake_people(3000, np.random.default_rng(0))
    t = pa.table({"first_name": f, "last_name": l_, "k": np.arange(3000) % 5})
    schema, enc, out = round_trip(t)
    assert schema.column("first_name").pii == "first_name"
    fake = set(zip(out.column("first_name").to_pylist(), out.column("last_name").to_pylist()))
    assert not fake & set(zip(f, l_))


@pytest.mark.parametrize("locale", ["de_DE", "fr_FR", "es_ES", "tr_TR", "cs_CZ"])
def test_names_in_any_latin_locale_are_found_by_their_values(locale):
    from faker import Faker

    from synthgen import pii

    fake = Faker(locale)
    fake.seed_instance(3)
    full = [fake.name() for _ in range(300)]  # "Dipl.-Ing. Trudel Ziegert", "Şenkal Tarhan"
    firsts = [fake.first_name() for _ in range(300)]
    lasts = [fake.last_name() for _ in range(300)]

    def detect(header, values):
        return pii.detect(header, pa.chunked_array([pa.array(values)]), len(set(values)))

    # a header that says nothing (another language's word), and the bare "name"
    assert detect("kunde", full) == "full_name" and detect("name", full) == "full_name"
    assert detect("col_a", firsts) == "first_name" and detect("col_b", lasts) == "last_name"


def test_first_and_last_name_headers_in_other_languages():
    from synthgen import pii

    firsts, lasts = ["Amélie", "Jürgen", "Søren", "Zoë"] * 5, ["Dupont", "Müller", "Nørgaard", "de Vries"] * 5
    for header, values, kind in (
        ("Prénom", firsts, "first_name"),
        ("Vorname", firsts, "first_name"),
        ("Nachname", lasts, "last_name"),
        ("apellidos", lasts, "last_name"),
        ("cognome", lasts, "last_name"),
    ):  # 4 distinct values each: too few to judge by the values alone
        assert pii.detect(header, pa.chunked_array([pa.array(values)]), 4) == kind, header
    assert pii.detect("nom_produit", pa.chunked_array([pa.array(lasts)]), 4) is None  # "nom" decides nothing


def test_a_name_column_of_places_or_companies_is_not_people():
    from faker import Faker

    from synthgen import pii

    towns = ("Lehigh Valley", "Moton", "Wiley Post", "Lansdowne", "Jackson")
    kinds = ("Airport", "Field", "Municipal Airport", "Intl", "Regional", "County Airport", "Memorial Field")
    places = [f"{town} {kind}" for town in towns for kind in kinds]
    fake = Faker("en_US")
    fake.seed_instance(0)
    companies = [fake.company() for _ in range(300)]
    for values in (places, companies):
        assert pii.detect("name", pa.chunked_array([pa.array(values)]), len(set(values))) is None
    people = [fake.name() for _ in range(300)]  # surnames such as Park or Field stay people's
    assert pii.detect("name", pa.chunked_array([pa.array(people)]), len(set(people))) == "full_name"


# ---- end to end -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def messy_run(tmp_path_factory):
    from synthgen.config import load_config
    from synthgen.pipeline import run_all

    tmp = tmp_path_factory.mktemp("messy")
    df = messy_frame(400)
    df["group"] = pd.Categorical(np.random.default_rng(9).choice(["p", "q", "r"], len(df)))
    path = tmp / "messy.parquet"
    df.to_parquet(path)
    cfg = load_config(
        tiny_overrides(
            tmp, "data=file", f"data.path={path}", "data.target=label", "data.columns.my col.x.kind=continuous"
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_all(cfg)
    return tmp, read_table(path), result


def test_messy_table_end_to_end(messy_run):
    tmp, real, result = messy_run
    out = pq.read_table(tmp / "out" / "synthetic")
    assert out.schema.remove_metadata() == real.schema.remove_metadata()
    assert result["privacy.pii_copies"] == 0 and result["privacy.identifier_copies"] == 0
    assert result["gate.passed"] == 1
    assert result["fidelity.date_orderings"] == 1.0  # in_date <= out_date, screening == in_date, ...
    assert result["fidelity.date_equal.in_date.screening"] == 1.0
    d = out.to_pandas()
    assert (pd.to_datetime(d["screening"], format="%m/%d/%Y") == pd.to_datetime(d["in_date"])).all()
    schema = json.loads((tmp / "out" / "prepared" / "schema.json").read_text())
    cols = {c["name"]: c for c in schema["columns"]}
    assert cols["in_date"]["codec"] == {
        "type": "datetime",
        "format": "%Y-%m-%d",
        "native": "date32[day]",
        "parse_rate": 1.0,
    }
    relations = {r["column"]: r for r in schema["relations"]}
    assert relations["screening"] == {
        "column": "screening",
        "base": "in_date",
        "op": "==",
        "encoding": "offset",
        "also": [],
    }
    assert relations["out_date"]["encoding"] == "offset"  # within 40 days of in_date
    report = (tmp / "out" / "evaluation" / "report.html").read_text()
    assert "personal data (email)" in report and "entirely null" in report


def test_overrides_for_any_column_name(tmp_path):
    from omegaconf import OmegaConf

    from synthgen.config import composed_yaml, load_config
    from synthgen.modalities import plain

    names = ["my col.x", "a=b", "Größe"]
    t = pa.table({n: [str(i % 4) for i in range(40)] for n in names} | {"v": np.arange(40) % 3})
    # command line: everything between "data.columns." and ".kind=" is the column's name
    cfg = load_config(
        ["data=file", *(f"data.columns.{n}.kind=categorical" for n in names), "data.columns.v.kind=categorical"]
    )
    assert plain(cfg.data.columns) == {n: {"kind": "categorical"} for n in names + ["v"]}
    assert set(infer_schema(t, plain(cfg.data.columns)).kinds().values()) == {"categorical"}
    # config file: column names are plain YAML keys (quoted when they hold ':' or start oddly)
    params = tmp_path / "params.yaml"
    raw = OmegaConf.create(composed_yaml(["data=file"]))
    raw.data.columns = {n: {"kind": "integer"} for n in names}
    OmegaConf.save(raw, params)
    cfg = load_config(["data.columns.a=b.kind=categorical"], params_file=params)
    assert plain(cfg.data.columns) == {
        "my col.x": {"kind": "integer"},
        "a=b": {"kind": "categorical"},
        "Größe": {"kind": "integer"},
    }


def test_a_header_naming_a_column_twice_is_read_as_pandas_reads_it(tmp_path):
    """COMPAS' two-year file names decile_score and priors_count twice: synthgen refused it
    ("duplicate column names"), pandas reads the repeats as decile_score.1, priors_count.1; an
    Excel sheet's repeated header failed with a traceback. Both now read as pandas does, whole or
    streamed, with a warning."""
    import openpyxl

    from synthgen.config import load_config
    from synthgen.streaming import stream_source

    rows = [[i, i % 7, f"c{i % 3}", i % 5, i % 7 + 1] for i in range(60)]
    path = tmp_path / "twice.csv"
    path.write_text("id,score,case,priors,score\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    want = list(pd.read_csv(path).columns)
    assert want == ["id", "score", "case", "priors", "score.1"]
    with pytest.warns(UserWarning, match=r"columns named twice are read as score\.1, as pandas reads them"):
        t = read_table(path)
    assert t.column_names == want and t.column("score.1").to_pylist()[:3] == [1, 2, 3] and t.num_rows == 60
    with pytest.warns(UserWarning, match="named twice"):
        streamed = next(stream_source(load_config(["data=file", f"data.path={path}"])).batches(100))
    assert streamed.schema.names == want
    book = openpyxl.Workbook()
    for r in [["id", "score", "case", "priors", "score"], *rows]:
        book.active.append(r)
    book.save(tmp_path / "twice.xlsx")
    with pytest.warns(UserWarning, match="named twice"):
        sheet = read_table(tmp_path / "twice.xlsx")
    assert sheet.column_names == want and sheet.column("score.1").to_pylist() == [r[4] for r in rows]


def test_note_lines_below_the_records_are_left_out_whole_streamed_and_gzipped(tmp_path):
    """A statistics office's CSV ends in "Source: ..." and "Note: ..." lines: Arrow's reader stopped
    on them ("Expected 3 columns, got 1"), pandas reads them as records of nulls. They are left
    out with a warning; a short line among the records is still an error, and a quoted text over
    two lines ending the file is a record."""
    import gzip

    from synthgen.config import load_config
    from synthgen.streaming import stream_source

    body = "region,year,value\n" + "".join(f"{['North', 'South'][i % 2]},{2000 + i},{i}.5\n" for i in range(40))
    notes = "\nSource: Office for National Statistics\nNote: figures for 2039 are provisional\n"
    (tmp_path / "stats.csv").write_text(body + notes)
    (tmp_path / "stats.csv.gz").write_bytes(gzip.compress((body + notes).encode()))
    for name in ("stats.csv", "stats.csv.gz"):
        with pytest.warns(UserWarning, match=r"2 note line\(s\) below the records are left out: 'Source: Office"):
            t = read_table(tmp_path / name)
        assert t.num_rows == 40 and t.column("region").to_pylist()[-1] == "South"
    with pytest.warns(UserWarning, match="note line"):
        batch = next(stream_source(load_config(["data=file", f"data.path={tmp_path / 'stats.csv'}"])).batches(100))
    assert batch.num_rows == 40
    lines = body.splitlines(keepends=True)
    (tmp_path / "broken.csv").write_text("".join(lines[:5] + ["a line of its own\n"] + lines[5:]))
    with pytest.raises(SynthgenError, match="Expected 3 columns, got 1: a line of its own"):
        read_table(tmp_path / "broken.csv")
    (tmp_path / "quoted.csv").write_text('id,text\n1,plain\n2,"first line\nsecond line"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note warning
        assert read_table(tmp_path / "quoted.csv").column("text").to_pylist() == ["plain", "first line\nsecond line"]
