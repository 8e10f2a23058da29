"""A workbook's sheet (Excel's .xlsx, .xlsm, .xls, .xlsb; OpenDocument's .ods) as an Arrow table,
typed as its cells are.

Cells holding a CSV's missing-value spellings (io.CSV_NULLS) and blank cells are nulls.
openpyxl (.xlsx, .xlsm) or calamine (the others) reads the cells' own types (pandas.read_excel,
dtype=object, keeps them and the header row); each column becomes the Arrow type all its non-empty
cells share:

    numbers          -> int64 when every one is whole and written without a decimal, else float64
    dates            -> date32 when every one is at midnight (a date cell), else timestamp[us]
    times of day     -> time64[us]
    TRUE / FALSE     -> bool
    text             -> string, and a column mixing kinds (numbers with "-", dates with "unknown")
                        is text too, each cell written as a CSV export would: the schema's codecs then
                        read it as the CSV it stands for ("n/a" a missing-value word, dates as dates).

Formulas are read as the values Excel last computed (data_only), as a CSV export holds them; a
workbook saved by a tool that never computed them has empty cells there. A report's title rows
above the header (a title, the run's date, blank rows) are skipped as a CSV file's are
(io.title_lines).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from synthgen.errors import SynthgenError

# pandas' reader per file type (engine, its module, its package): openpyxl for today's workbooks;
# calamine (Rust) for Excel 97-2003's .xls, binary .xlsb and OpenDocument's .ods (LibreOffice's)
OPENPYXL, CALAMINE = ("openpyxl", "openpyxl", "openpyxl"), ("calamine", "python_calamine", "python-calamine")
ENGINES = {".xlsx": OPENPYXL, ".xlsm": OPENPYXL, ".xls": CALAMINE, ".xlsb": CALAMINE, ".ods": CALAMINE}
SUFFIXES = tuple(ENGINES)


def read_sheet(path: Path, sheet: str | int | None = None) -> pa.Table:
    """The sheet `sheet` (its name, or its 0-based position; None: the first) of the workbook."""
    engine, module, package = ENGINES[path.suffix.lower()]
    try:
        __import__(module)  # pandas' engine; a clear message where it is missing
    except ImportError:
        raise SynthgenError(f"{path}: reading {path.suffix} files needs {package}; pip install {package}") from None
    try:
        book = pd.ExcelFile(path, engine=engine)
    except Exception as e:  # a corrupt or password-protected file: zipfile, KeyError, InvalidFileException
        what = "an OpenDocument spreadsheet" if path.suffix.lower() == ".ods" else "an Excel workbook"
        raise SynthgenError(f"{path}: cannot read it as {what} ({type(e).__name__}: {e})") from None
    sheets, first = book.sheet_names, sheet is None
    if sheet is None:
        sheet = 0
    if isinstance(sheet, int) and str(sheet) in sheets:  # a sheet named "2023" (the command line reads a number)
        sheet = str(sheet)
    if isinstance(sheet, int) and not 0 <= sheet < len(sheets) or isinstance(sheet, str) and sheet not in sheets:
        raise SynthgenError(f"{path}: no sheet {sheet!r}; set data.sheet to one of {', '.join(map(repr, sheets))}")
    from synthgen.io import CSV_NULLS, title_lines

    # the missing-value spellings of a CSV (io.CSV_NULLS: "n/a", "NULL", "?"; "None" stays a level)
    frame = book.parse(sheet, dtype=object, na_values=CSV_NULLS, keep_default_na=False, header=None)
    if frame.empty:
        return pa.table({})
    # a report's title rows above the header are skipped, as a CSV export's are (io.title_lines)
    rows = [["" if _empty(v) else _text(v) for v in r] for r in frame.head(200).itertuples(index=False)]
    top = title_lines(rows)
    from synthgen.io import unique_names

    names = [f"Unnamed: {i}" if _empty(v) else _text(v) for i, v in enumerate(frame.iloc[top])]
    names = unique_names(names, str(path))  # a header naming a column twice: named as pandas does
    frame = frame.iloc[top + 1 :].reset_index(drop=True)
    frame.columns = names
    if first and len(names) <= 1 and len(sheets) > 1:  # a FRED download's README sheet before its data
        import warnings

        others = ", ".join(map(repr, sheets[1:6])) + (", ..." if len(sheets) > 6 else "")
        warnings.warn(
            f"{path}: its first sheet {sheets[0]!r} holds one column; the workbook's other sheets are "
            f"{others}: set data.sheet to read one of them",
            UserWarning,
            stacklevel=3,
        )
    return pa.table({name: cells_to_array(frame[name]) for name in frame.columns})


def cells_to_array(s: pd.Series) -> pa.Array:
    """Cells (Python values: numbers, datetimes, times, booleans, text; None or blank empty) as the Arrow
    array of the type they share (the module docstring's table); also SQLite's values (sqlite_files.py)."""
    values = [None if _empty(v) else _datetime(v) for v in s.tolist()]
    present = [v for v in values if v is not None]
    kinds = {_kind(v) for v in present}
    if kinds == {"bool"}:
        return pa.array(values, type=pa.bool_())
    if kinds == {"int"}:
        return pa.array(values, type=pa.int64())
    if kinds <= {"int", "float"} and kinds:
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())
    if kinds == {"datetime"}:
        if all(v.time() == datetime.time(0) for v in present):
            return pa.array([None if v is None else v.date() for v in values], type=pa.date32())
        return pa.array(values, type=pa.timestamp("us"))
    if kinds == {"time"}:
        return pa.array(values, type=pa.time64("us"))
    return pa.array([None if v is None else _text(v) for v in values], type=pa.string())


def _datetime(v):
    """A date cell as calamine reads it from .ods (a datetime.date) as openpyxl's midnight datetime."""
    if isinstance(v, datetime.date) and not isinstance(v, datetime.datetime):
        return datetime.datetime.combine(v, datetime.time(0))
    return v


def _empty(v) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NaT or (isinstance(v, str) and not v.strip())


def _kind(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, datetime.datetime):
        return "datetime"
    if isinstance(v, datetime.time):
        return "time"
    return "text"


def _text(v) -> str:
    """A cell as a CSV export writes it: dates ISO, whole numbers without ".0"."""
    if isinstance(v, datetime.datetime):
        return v.date().isoformat() if v.time() == datetime.time(0) else v.isoformat(sep=" ")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)
