"""One more copy of a synthetic table as a single CSV, Excel, Stata or SPSS file (`generate.export`),
for the people who brought a spreadsheet or a statistics package's file and open the result there
(Stata and SPSS: synthgen/stats_export.py).

The Parquet shards and their manifest stay the output (typed, hashed, what evaluate reads); the
export is written beside the folder, `<folder>.csv` or `<folder>.xlsx`, from the shards in the
manifest's order, atomically (a temporary file renamed into place), after the folder is complete.
Values are written as the shards hold them: text columns in the input's spelling (dates, amounts,
units), numbers and timestamps as CSV writers and Excel store them. An Excel sheet holds at most
1,048,575 rows under its header; a larger table is refused in one line before the file is begun
(the Parquet folder is complete by then).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgen.errors import SynthgenError

FORMATS = ("csv", "xlsx", "dta", "sav")
EXCEL_MAX_ROWS = 1_048_575  # a sheet's 1,048,576 rows, one of them the header


def check_format(fmt) -> str | None:
    """generate.export: null, csv or xlsx (a one-line error for anything else)."""
    if fmt in (None, "", False):
        return None
    if fmt not in FORMATS:
        raise SynthgenError(f"generate.export={fmt!r} is not a format; use csv, xlsx, dta, sav or null (Parquet only)")
    return fmt


def export_table(folder: Path, fmt: str) -> Path:
    """<folder>.<fmt> holding every row of the synthetic Parquet folder, in the manifest's order."""
    folder = Path(folder)
    manifest = json.loads((folder / "_manifest.json").read_text())
    shards = [folder / f["path"] for f in manifest["files"]]
    rows = int(manifest["rows"])
    if fmt == "xlsx" and rows > EXCEL_MAX_ROWS:
        raise SynthgenError(
            f"generate.export=xlsx: {rows:,} rows do not fit one Excel sheet ({EXCEL_MAX_ROWS:,}); "
            f"use generate.export=csv or fewer generate.n_rows"
        )
    final = folder.with_name(f"{folder.name}.{fmt}")
    partial = final.with_name(f".{final.name}.partial")
    try:
        if fmt == "csv":
            _write_csv(shards, partial)
        elif fmt == "xlsx":
            _write_xlsx(shards, partial)
        else:
            from synthgen.stats_export import write_stats_file

            write_stats_file(shards, partial, fmt)
        os.replace(partial, final)
    finally:
        partial.unlink(missing_ok=True)
    return final


def plain_columns(table: pa.Table) -> pa.Table:
    """Dictionary columns as their values, field metadata kept (the CSV, Stata and SPSS writers take no
    dictionaries)."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(
                i, field.with_type(field.type.value_type), pc.cast(table.column(i), field.type.value_type)
            )
    return table


def _write_csv(shards: list[Path], path: Path) -> None:
    writer = None
    try:
        for shard in shards:
            table = plain_columns(pq.read_table(shard))
            if writer is None:
                writer = pacsv.CSVWriter(str(path), table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _write_xlsx(shards: list[Path], path: Path) -> None:
    import pandas as pd

    frame = pd.concat([pq.read_table(s).to_pandas() for s in shards], ignore_index=True)
    for name in frame.columns:  # Excel stores no time zone: wall-clock time at the written offset
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_localize(None)
    frame.to_excel(path, index=False, engine="openpyxl")
