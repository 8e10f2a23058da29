"""A table of a SQLite database file (.sqlite, .sqlite3, .db: an app's export, a Kaggle dataset's
`database.sqlite`) as input, read with Python's own sqlite3 module (DuckDB's SQLite reader is an
extension it would download).

The file is opened read-only (a `mode=ro` URI): nothing is written beside it, not even a journal.
`data.sheet` names the table (or view); a file of one table needs none. SQLite stores each value
with its own type whatever the column declares, so a column is typed from its values as an Excel
column is from its cells (synthgen/excel.py): whole numbers int64, numbers float64, else text (a
column mixing numbers and words reads as text, typed by the schema as a CSV would be); dates are
text in SQLite and read as such, then typed by the schema's codecs. BLOB columns are refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow as pa

from synthgen.errors import SynthgenError

SUFFIXES = (".sqlite", ".sqlite3", ".db")


def read_sqlite_table(path: Path, table: str | int | None = None, max_rows: int | None = None) -> pa.Table:
    """The table (or view) `table` of the database, its only one when None, its first `max_rows` rows."""
    from synthgen.excel import cells_to_array

    try:
        con = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise SynthgenError(f"{path}: cannot open it as a SQLite database ({e})") from None
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' "
                "ORDER BY type, name"
            )
        ]
        name = _chosen(path, names, table)
        limit = f" LIMIT {int(max_rows)}" if max_rows else ""
        cursor = con.execute(f'SELECT * FROM "{name.replace(chr(34), chr(34) * 2)}"{limit}')
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except sqlite3.DatabaseError as e:  # "file is not a database", a damaged page
        raise SynthgenError(f"{path}: cannot read it as a SQLite database ({e})") from None
    finally:
        con.close()
    values = list(zip(*rows)) if rows else [() for _ in columns]
    arrays = []
    for col, vals in zip(columns, values):
        if any(isinstance(v, bytes) for v in vals):
            arrays.append(pa.array(vals, type=pa.binary()))  # refused by validate_table, by name
        else:
            arrays.append(cells_to_array(pd.Series(list(vals), dtype=object)))
    return pa.Table.from_arrays(arrays, names=columns)


def _chosen(path: Path, names: list[str], table: str | int | None) -> str:
    if not names:
        raise SynthgenError(f"{path}: the database holds no table")
    if table is None and len(names) == 1:
        return names[0]
    if table is not None and str(table) in names:
        return str(table)
    shown = ", ".join(map(repr, names[:10])) + (", ..." if len(names) > 10 else "")
    what = f"holds {len(names)} tables" if table is None else f"has no table {str(table)!r}"
    raise SynthgenError(f"{path}: the database {what}; set data.sheet to one of {shown}")
