"""Excel workbooks (synthgen/excel.py): a sheet as a user keeps it is read with its cells' types,
typed by the schema like the CSV it stands for, and prepared; a missing sheet or a file that is no
workbook is refused in one line."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.io import read_table
from synthgen.pipeline import prepare
from synthgen.schema import infer_schema
from tests.conftest import tiny_overrides

openpyxl = pytest.importorskip("openpyxl")

N = 60


def workbook(path) -> None:
    """A sheet of orders (ids, names, dates, amounts, flags, times, a score with "-", a date column
    with one "unknown", a formula) and a second sheet."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "orders"
    ws.append(["order_id", "customer", "ordered", "amount", "paid", "at", "score", "shipped", "total"])
    for i in range(N):
        day = datetime.datetime(2023, 1, 1) + datetime.timedelta(days=3 * i)
        ws.append(
            [
                1000 + i,
                ["Ana Lima", "Bo Chen", "Cy Diaz"][i % 3],
                day,
                round(10 + 7.25 * (i % 9), 2),
                i % 4 != 0,
                datetime.time(8 + i % 10, (7 * i) % 60),
                "-" if i % 10 == 0 else 50 + i % 37,
                "unknown" if i == 5 else day + datetime.timedelta(days=2, hours=3),
                f"=D{i + 2}*2",
            ]
        )
    book.create_sheet("2023").append(["year", "n"])  # a sheet named like a number
    other = book.create_sheet("notes")
    other.append(["a", "b"])
    other.append([1, "x"])
    other.append([2, "y"])
    book.save(path)


def test_a_sheet_is_read_with_its_cells_types_and_typed_like_a_csv(tmp_path):
    path = tmp_path / "orders.xlsx"
    workbook(path)
    t = read_table(path)
    types = {f.name: f.type for f in t.schema}
    assert types["order_id"] == pa.int64() and types["amount"] == pa.float64() and types["paid"] == pa.bool_()
    assert types["ordered"] == pa.date32()  # Excel dates at midnight: days
    assert types["at"] == pa.time64("us")
    assert types["score"] == types["shipped"] == pa.string()  # mixed cells: text, as a CSV export
    assert t.column("score").to_pylist()[:2] == ["-", "51"]
    assert t.column("shipped").to_pylist()[5] == "unknown"
    assert t.column("ordered").to_pylist()[1] == datetime.date(2023, 1, 4)
    # openpyxl keeps a formula's last computed value only where Excel saved one: none here
    assert t.column("total").null_count == N
    schema = infer_schema(t)
    kinds = schema.kinds()
    assert kinds["score"] == "integer" and schema.column("score").codec["null_text"] == "-"
    assert kinds["shipped"] == "datetime" and kinds["ordered"] == "datetime" and kinds["at"] == "datetime"
    assert read_table(path, sheet="notes").column_names == ["a", "b"]
    assert read_table(path, sheet=2).num_rows == 2  # by position: orders, 2023, notes
    with pytest.raises(SynthgenError, match="the table has 0 row"):
        read_table(path, sheet=2023)  # data.sheet=2023 on the command line: the sheet of that name


def test_an_excel_table_is_prepared_and_bad_workbooks_are_refused_in_one_line(tmp_path):
    path = tmp_path / "orders.xlsx"
    workbook(path)
    paths = prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}")))
    train = pq.read_table(paths.train_table)
    assert train.num_rows + pq.read_table(paths.holdout_table).num_rows == N
    assert train.schema.field("ordered").type == pa.date32()
    with pytest.raises(SynthgenError) as e:
        read_table(path, sheet="customers")
    assert "no sheet 'customers'" in str(e.value) and "'orders', '2023', 'notes'" in str(e.value)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(SynthgenError) as e:
        read_table(broken)
    assert "cannot read it as an Excel workbook" in str(e.value) and "\n" not in str(e.value)


def test_a_reports_title_rows_above_the_header_are_skipped(tmp_path):
    """A sheet as a finance export writes it: a title, the run's date and a blank row, then the header;
    the title row was read as the names (`Quarterly sales`, `Unnamed: 1`, ...)."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["Quarterly sales"])
    ws.append(["Exported", datetime.datetime(2026, 1, 5)])  # two of three fields: still no header
    ws.append([])
    ws.append(["region", "month", "amount"])
    for i in range(30):
        ws.append([["North", "South"][i % 2], datetime.datetime(2025, 1 + i % 12, 1), 100.5 + i])
    book.save(tmp_path / "report.xlsx")
    t = read_table(tmp_path / "report.xlsx")
    assert t.column_names == ["region", "month", "amount"] and t.num_rows == 30
    assert t.column("amount").type == pa.float64() and t.column("month").type == pa.date32()


FRED_XLS = Path(__file__).parent / "data" / "fred_macrodata.xls"  # tests/data/README.md


def test_an_excel_97_download_is_read_and_its_notes_sheet_named_in_a_warning(tmp_path):
    """A FRED download in .xls: a README sheet of notes first, then the data sheets. Read by default,
    the notes sheet is one column and a warning names the others; data.sheet reads a data sheet with
    its dates and numbers typed, and it prepares like an .xlsx sheet."""
    with pytest.warns(UserWarning, match=r"first sheet 'README' holds one column.*'Monthly', 'Quarterly'"):
        notes = read_table(FRED_XLS)
    assert notes.num_columns == 1
    t = read_table(FRED_XLS, sheet="Quarterly")
    assert t.num_rows == 251 and t.column_names[:3] == ["DATE", "DPIC96", "FGCEC96"]
    assert t.schema.field("DATE").type == pa.date32() and t.column("DATE").to_pylist()[1] == datetime.date(1947, 4, 1)
    assert t.schema.field("GDPC96").type == pa.float64() and t.column("GDPC96").to_pylist()[0] == 1772.204
    cfg = load_config(tiny_overrides(tmp_path, "data=file", f"data.path={FRED_XLS}", "data.sheet=Quarterly"))
    paths = prepare(cfg)
    assert pq.read_table(paths.train_table).num_rows + pq.read_table(paths.holdout_table).num_rows == 251


def test_an_opendocument_sheet_reads_as_the_same_excel_sheet_does(tmp_path):
    pytest.importorskip("odf")  # odfpy writes the .ods here (dev extra); reading needs python-calamine only
    import pandas as pd

    rows = [
        {
            "order_id": 1000 + i,
            "customer": ["Ana Lima", "Bo Chen", None][i % 3],
            "ordered": datetime.date(2023, 1, 1) + datetime.timedelta(days=3 * i),
            "amount": round(10 + 7.25 * (i % 9), 2),
            "paid": i % 4 != 0,
            "score": "-" if i % 10 == 0 else 50 + i % 37,
        }
        for i in range(N)
    ]
    frame = pd.DataFrame(rows)
    frame.to_excel(tmp_path / "orders.ods", index=False, engine="odf")
    frame.to_excel(tmp_path / "orders.xlsx", index=False, engine="openpyxl")
    ods, xlsx = read_table(tmp_path / "orders.ods"), read_table(tmp_path / "orders.xlsx")
    assert ods.equals(xlsx)
    assert ods.schema.field("ordered").type == pa.date32() and ods.schema.field("paid").type == pa.bool_()
    assert ods.schema.field("score").type == pa.string() and ods.column("customer").null_count == N // 3
    broken = tmp_path / "broken.ods"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(SynthgenError) as e:
        read_table(broken)
    assert "cannot read it as an OpenDocument spreadsheet" in str(e.value) and "\n" not in str(e.value)
