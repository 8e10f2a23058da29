"""Statistics packages' data files as input: Stata (.dta), SPSS (.sav, .zsav, .por) and SAS
(.sas7bdat, .xpt), read with pyreadstat (the ReadStat library) into an Arrow table.

What the packages store beside the numbers is kept where it says what a value is:
- value labels: a coded column whose every value has a label (sex 1 = "male", 2 = "female") is read
  as its labels, a categorical column; a column with labels on a few codes only (age, with 99 =
  "refused") keeps its numbers, codes included, so the ages stay numbers and 99 a value among them;
- dates and timestamps (Stata %td / %tc, SPSS DATE / DATETIME, SAS date formats) as dates and
  timestamps;
- a number stored in 32 bits (Stata's `float`) as float32, whose decimals the schema reads as
  written (5.8, not 5.800000190734863);
- the packages' missing values (Stata's . and .a-.z, SPSS's user-defined missing codes, SAS's .)
  and Stata's and SPSS's empty strings as nulls.
The output is Parquet like every other input's; a labelled column keeps its labels in its field
metadata (VALUE_LABELS, the numbers' labels too), and `generate.export=dta` or `sav` writes the table back as a Stata or
SPSS file with them (synthgen/export.py). Variable labels and display formats are not carried.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa

from synthgen.errors import SynthgenError

READERS = {  # suffix -> (pyreadstat reader, the package that writes it)
    ".dta": ("read_dta", "Stata"),
    ".sav": ("read_sav", "SPSS"),
    ".zsav": ("read_sav", "SPSS"),
    ".por": ("read_por", "SPSS"),
    ".sas7bdat": ("read_sas7bdat", "SAS"),
    ".xpt": ("read_xport", "SAS"),
}
SUFFIXES = tuple(READERS)


def read_stats_file(path: Path, max_rows: int | None = None) -> pa.Table:
    """The table in a Stata, SPSS or SAS file (see the module docstring), its first `max_rows` rows
    when given."""
    import pyreadstat

    reader, package = READERS[path.suffix.lower()]
    try:
        frame, meta = getattr(pyreadstat, reader)(str(path), row_limit=max_rows or 0)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeError, OSError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SynthgenError(
            f"{path}: cannot read it as a {package} file ({first}); check that the file is complete, "
            f"or save it from {package} as CSV"
        ) from None
    labels = getattr(meta, "variable_value_labels", None) or {}
    stored = getattr(meta, "readstat_variable_types", None) or {}
    for name in frame.columns:
        col = frame[name]
        if name in labels:
            frame[name] = _labelled(col, labels[name])
        elif col.dtype == object and col.map(lambda v: isinstance(v, str)).any():
            frame[name] = col.mask(col == "")  # Stata and SPSS write a missing string as ""
        elif stored.get(name) == "float" and col.dtype.kind == "f":
            # stored in 32 bits (Stata's `float`): kept so, else 5.8 reads as 5.800000190734863 and its
            # decimals are lost (the schema reads a float32 column's decimals from its float32 values)
            frame[name] = col.astype("float32")
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    fields = [_with_value_labels(f, labels[f.name]) if f.name in labels else f for f in table.schema]
    return table.cast(pa.schema(fields))


def _labelled(col: pd.Series, labels: dict) -> pd.Series:
    """A coded column as its labels when every value has one; else its codes as they are."""
    values = col.dropna()
    if not len(values) or not values.isin(list(labels)).all():
        return col
    return col.map(labels).astype(object).where(col.notna(), None)


# The field metadata key under which a labelled column keeps its value labels, [[code, label], ...]
# in code order (read as its labels or as its numbers): the synthetic Parquet carries it (prepare,
# encode and the writer keep a field's metadata), and generate.export=dta / sav writes the column
# back as codes with its labels (synthgen/stats_export.py).
VALUE_LABELS = b"synthgen.value_labels"


def _with_value_labels(field: pa.Field, labels: dict) -> pa.Field:
    pairs = sorted(((_code(c), str(v)) for c, v in labels.items()), key=lambda p: (isinstance(p[0], str), p[0]))
    return field.with_metadata({**(field.metadata or {}), VALUE_LABELS: json.dumps(pairs).encode()})


def _code(c):
    """A value label's code as JSON keeps it: 1.0 -> 1, 2.5 stays, SPSS's text codes ("M") as text."""
    if isinstance(c, (int, float)) and not isinstance(c, bool):
        return int(c) if float(c).is_integer() else float(c)
    return str(c)


def value_labels(field: pa.Field) -> list | None:
    """[[code, label], ...] a column was read from (VALUE_LABELS), or None."""
    raw = (field.metadata or {}).get(VALUE_LABELS)
    return json.loads(raw) if raw else None
