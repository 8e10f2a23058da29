"""The synthetic table as a Stata (.dta) or SPSS (.sav) file (`generate.export=dta` / `sav`), written
with pyreadstat (ReadStat), the library that reads them (synthgen/stats_files.py).

A column read from value-labelled codes (stats_files keeps the labels in its field metadata) is
written back as its codes with its value labels, and a number column with labels on a few codes
(99 = "refused") gets them back too, so a survey read from Stata comes back coded and labelled as
it went in. The rest is written as the packages store it:
- names: letters, digits and `_`, a letter first, at most 32 characters, no reserved word (`long`,
  `in`, `with`, ...); another name is written in that form (`my col` -> `my_col`, `long` ->
  `long_`, numbered when two meet) with the original name as the column's variable label, and a
  warning lists them;
- dates, timestamps and times of day as Stata %td / %tc / %tcHH:MM:SS and SPSS DATE / DATETIME /
  TIME, far dates too (a 9999-12-31 sentinel); a time zone is dropped (wall clock at the written
  offset), as the Excel export does; decimals and booleans as numbers (0/1); whole numbers within
  Stata's 4-byte range as integers (`long`), others as doubles;
- text as strings of any length (Stata's strL beyond 2,045 bytes); a missing text is Stata's "".
Stata labels numeric codes only: text codes' labels go to SPSS files alone.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from synthgen.stats_files import value_labels

NAME_MAX = 32  # Stata's longest variable name (SPSS allows 64): one rule for both
STATA_LONG = (-2_147_483_647, 2_147_483_620)  # Stata's 4-byte integer range (the rest codes missing values)
# Stata's reserved names and SPSS's reserved keywords, lower-cased (both packages refuse them)
RESERVED = {
    *("byte", "double", "float", "if", "in", "int", "long", "str", "strl", "using", "with"),
    *("all", "and", "by", "eq", "ge", "gt", "le", "lt", "ne", "not", "or", "to"),
}


def write_stats_file(shards: list[Path], path: Path, fmt: str) -> None:
    """Every row of the shards, in order, as a Stata (`fmt` "dta") or SPSS ("sav") file at `path`."""
    import pyreadstat

    from synthgen.export import plain_columns

    table = plain_columns(pa.concat_tables([pq.read_table(s) for s in shards]))
    names = package_names(table.column_names)
    renamed = {new: old for old, new in zip(table.column_names, names) if new != old}
    if renamed:
        shown = ", ".join(f"{old!r} -> {new}" for new, old in list(renamed.items())[:5])
        more = f" and {len(renamed) - 5} more" if len(renamed) > 5 else ""
        warnings.warn(
            f"generate.export={fmt}: column names the package does not allow are written as {shown}{more} "
            f"(each with its name as the variable label)",
            UserWarning,
            stacklevel=2,
        )
    frame, labels = pd.DataFrame(index=range(table.num_rows)), {}
    for field, name, col in zip(table.schema, names, table.columns):
        frame[name] = _column(field, col, fmt)
        pairs = value_labels(field)
        if pairs:
            code = {label: c for c, label in pairs}
            present = set(frame[name].dropna()) - {""} if frame[name].dtype == object else set()
            if present and present <= set(code):  # read as its labels: back to the codes (a null stays missing)
                frame[name] = frame[name].map(code)
            if not (fmt == "dta" and any(isinstance(c, str) for c in code.values())):  # Stata: numbers only
                labels[name] = {c: label for c, label in pairs}
    write = pyreadstat.write_dta if fmt == "dta" else pyreadstat.write_sav
    write(
        frame,
        str(path),
        variable_value_labels=labels,
        column_labels=[renamed[n][:80] if n in renamed else None for n in frame.columns],  # Stata: 80 characters
    )


def package_names(names: list[str]) -> list[str]:
    """Names Stata and SPSS allow: letters, digits and `_`, a letter first (`v` prefixed before a
    digit or `_`), at most NAME_MAX characters, no RESERVED word (`_` appended), distinct (`_2`,
    `_3` appended to a repeat; SPSS names ignore case)."""
    out, seen = [], set()
    for name in names:
        base = re.sub(r"\W", "_", name, flags=re.ASCII)
        base = base if re.match(r"[A-Za-z]", base) else f"v{base}"
        base = f"{base}_" if base.lower() in RESERVED or re.fullmatch(r"str\d+", base.lower()) else base
        new, i = base[:NAME_MAX], 1
        while new.lower() in seen:
            i += 1
            new = f"{base[: NAME_MAX - len(str(i)) - 1]}_{i}"
        seen.add(new.lower())
        out.append(new)
    return out


def _column(field: pa.Field, col: pa.ChunkedArray, fmt: str) -> pd.Series:
    """One column in the form pyreadstat writes as the packages store it (see the module docstring)."""
    t = field.type
    if pa.types.is_timestamp(t):  # in its own unit: a 9999-12-31 sentinel lies beyond nanoseconds' range
        values = col.to_pandas()
        return values.dt.tz_localize(None) if isinstance(values.dtype, pd.DatetimeTZDtype) else values
    if pa.types.is_boolean(t) or pa.types.is_decimal(t):
        return pd.Series(pc.cast(col, pa.float64()).to_pandas())
    if pa.types.is_date(t) or pa.types.is_time(t):  # datetime.date / datetime.time objects
        return pd.Series(col.to_pylist(), dtype=object)
    if pa.types.is_integer(t) and not col.null_count and len(col):
        low, high = pc.min(col).as_py(), pc.max(col).as_py()
        if STATA_LONG[0] <= low and high <= STATA_LONG[1]:  # Stata's long, not a double (pyreadstat's int64)
            return pd.Series(pc.cast(col, pa.int32()).to_pandas())
    if pa.types.is_null(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
        values = pd.Series(pc.cast(col, pa.large_string()).to_pylist(), dtype=object)
        # Stata's missing text is "" (pyreadstat's Stata writer also loses strL values beside a None)
        return values.where(values.notna(), "" if fmt == "dta" else None)
    return col.to_pandas()
