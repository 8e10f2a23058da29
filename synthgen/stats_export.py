"""The synthetic table as a Stata (.dta) or SPSS (.sav) file (`generate.export=dta` / `sav`).

A column read from value-labelled codes (synthgen/stats_files.py keeps the labels in its field
metadata) is written back as its codes with its value labels, and a number column with labels on a
few codes (99 = "refused") gets them back too, so a survey read from Stata comes back coded and
labelled as it went in. The rest is written as the packages store it:
- names: each package allows letters, digits and `_` (Stata at most 32 characters, starting with a
  letter or `_`); another name is written in that form (`my col` -> `my_col`, numbered when two
  meet) with the original name as the column's variable label, and a warning lists them;
- dates and timestamps as Stata %td / %tc (SPSS DATE / DATETIME); a time zone is dropped (wall
  clock at the written offset), as Excel's export does; times of day, decimals and booleans as
  text, numbers and 0/1;
- text: Stata's fixed strings hold 2,045 bytes, longer columns go out as strL.
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
STATA_STR_MAX = 2045  # bytes in a fixed-width Stata string (format 118); longer text is a strL


def write_stats_file(shards: list[Path], path: Path, fmt: str) -> None:
    """Every row of the shards, in order, as a Stata (`fmt` "dta") or SPSS ("sav") file at `path`."""
    table = pa.concat_tables([pq.read_table(s) for s in shards])
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
    frame, labels, dates = pd.DataFrame(index=range(table.num_rows)), {}, {}
    for field, name, col in zip(table.schema, names, table.columns):
        frame[name], kind = _column(field, col)
        if kind:
            dates[name] = kind
        pairs = value_labels(field)
        if pairs:
            text_codes = any(isinstance(c, str) for c, _ in pairs)  # SPSS labels text codes; Stata cannot
            code = {label: c for c, label in pairs}
            present = set(frame[name].dropna())
            if present and present <= set(code):  # read as its labels: back to the codes (a null stays missing)
                frame[name] = frame[name].map(code)
            if not (text_codes and fmt == "dta"):
                labels[name] = {c: label for c, label in pairs}
    if fmt == "dta":
        for name, kind in dates.items():
            if kind == "td":
                frame[name] = pd.to_datetime(frame[name])
        long_text = [
            n for n in frame.columns if frame[n].dtype == object and frame[n].map(_utf8_len).max() > STATA_STR_MAX
        ]
        frame.to_stata(
            path,
            write_index=False,
            version=118,  # Unicode strings and strL
            convert_dates=dates,
            value_labels=labels,
            variable_labels={new: old[:80] for new, old in renamed.items()},  # Stata: at most 80 characters
            convert_strl=long_text,
        )
    else:
        import pyreadstat

        pyreadstat.write_sav(
            frame,
            str(path),
            variable_value_labels=labels,
            column_labels=[renamed.get(n) for n in frame.columns],
        )


def package_names(names: list[str]) -> list[str]:
    """Names Stata and SPSS allow: letters, digits and `_`, a letter first (`v` prefixed before a
    digit or `_`), at most NAME_MAX characters, distinct (`_2`, `_3` appended to a repeat)."""
    out, seen = [], set()
    for name in names:
        base = re.sub(r"\W", "_", name, flags=re.ASCII)
        base = base if re.match(r"[A-Za-z]", base) else f"v{base}"
        new, i = base[:NAME_MAX], 1
        while new.lower() in seen:  # SPSS names ignore case
            i += 1
            new = f"{base[: NAME_MAX - len(str(i)) - 1]}_{i}"
        seen.add(new.lower())
        out.append(new)
    return out


def _column(field: pa.Field, col: pa.ChunkedArray) -> tuple[pd.Series, str | None]:
    """One column as the packages store it, and its Stata date kind ("td", "tc") or None."""
    t = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if pa.types.is_dictionary(field.type):
        col = pc.cast(col, t)
    if pa.types.is_date(t):  # datetime.date values: SPSS writes them as DATE; Stata's writer takes datetime64
        return pd.Series(col.to_pandas(), dtype=object), "td"
    if pa.types.is_timestamp(t):
        values = col.to_pandas()
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            values = values.dt.tz_localize(None)
        return values.astype("datetime64[ns]"), "tc"
    if pa.types.is_boolean(t) or pa.types.is_decimal(t):
        return pd.Series(pc.cast(col, pa.float64()).to_pandas()), None
    if pa.types.is_time(t):  # "09:30:00", as str() writes a datetime.time
        return col.to_pandas().map(lambda v: None if v is None else str(v)), None
    if pa.types.is_null(t):
        return pd.Series(pc.cast(col, pa.string()).to_pandas(), dtype=object), None
    values = col.to_pandas()
    return (values.astype(object).where(values.notna(), None) if values.dtype == object else values), None


def _utf8_len(v) -> int:
    return len(v.encode("utf-8")) if isinstance(v, str) else 0
