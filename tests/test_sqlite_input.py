"""A SQLite database file's table as input (synthgen/sqlite_files.py): read-only, typed from its
values, chosen by data.sheet when the file holds several; a damaged file, a missing table or a
BLOB column is refused in one line."""

from __future__ import annotations

import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.io import read_table
from synthgen.pipeline import prepare
from synthgen.schema import infer_schema
from tests.conftest import tiny_overrides

N = 120


def database(path, *, second_table: bool = True) -> None:
    """An app's export: orders (ids, declared and undeclared types, dates as text, a score mixing
    numbers and "-", nulls and empty strings) and a customers table beside it."""
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount REAL, placed DATE, score, note TEXT)"
    )
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                i,
                ["Ana", "Bo", "Cy"][i % 3],
                round(10 + 7.25 * (i % 9), 2) if i % 11 else None,
                f"2024-01-{1 + i % 28:02d}",
                "-" if i % 10 == 0 else 50 + i % 37,
                "" if i % 4 else "gift",
            )
            for i in range(N)
        ],
    )
    if second_table:
        con.execute("CREATE TABLE customers (name TEXT, since INTEGER)")
        con.execute("INSERT INTO customers VALUES ('Ana', 2019), ('Bo', 2020)")
    con.commit()
    con.close()


def test_a_database_table_is_read_typed_from_its_values(tmp_path):
    path = tmp_path / "shop.sqlite"
    database(path)
    before = sorted(p.name for p in tmp_path.iterdir())
    t = read_table(path, sheet="orders")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # read-only: no journal beside it
    types = {f.name: f.type for f in t.schema}
    assert types["id"] == pa.int64() and types["amount"] == pa.float64() and types["customer"] == pa.string()
    assert t.column("amount").null_count == len(range(0, N, 11)) and t.column("note").null_count == N * 3 // 4
    assert types["score"] == pa.string() and t.column("score").to_pylist()[:2] == ["-", "51"]  # mixed: text
    kinds = infer_schema(t).kinds()
    assert kinds["placed"] == "datetime" and kinds["score"] == "integer"  # typed as the CSV would be
    assert read_table(path, sheet="customers").num_rows == 2


def test_a_database_of_one_table_is_prepared_without_naming_it(tmp_path):
    path = tmp_path / "orders.db"
    database(path, second_table=False)
    paths = prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}")))
    assert pq.read_table(paths.train_table).num_rows + pq.read_table(paths.holdout_table).num_rows == N


@pytest.mark.parametrize(
    "build, sheet, words",
    [
        (lambda p: database(p), None, "holds 2 tables; set data.sheet to one of 'customers', 'orders'"),
        (lambda p: database(p), "order", "no table 'order'; set data.sheet to one of"),
        (lambda p: p.write_bytes(b"not a database" * 100), None, "cannot read it as a SQLite database"),
        (lambda p: sqlite3.connect(p).close(), None, "the database holds no table"),
        (lambda p: _blob(p), None, "column 'image' has unsupported type binary"),
    ],
)
def test_a_database_that_cannot_be_read_is_refused_in_one_line(tmp_path, build, sheet, words):
    path = tmp_path / "app.sqlite"
    build(path)
    with pytest.raises(SynthgenError) as e:
        read_table(path, sheet=sheet)
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def _blob(path) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE pics (id INTEGER, image BLOB)")
    con.executemany("INSERT INTO pics VALUES (?, ?)", [(1, b"\x89PNG"), (2, b"\x89PNG")])
    con.commit()
    con.close()
