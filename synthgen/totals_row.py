"""A spreadsheet's totals row: the last row of an export that sums the rows above it.

Spreadsheets and reporting tools end a table with "Total" / "Grand total" / "Summe" and each amount
column's sum. Read as a row like the others it is an entity of its own: an outlier some thousand
times the typical amount, which stretches the numeric ranges and comes back in about one synthetic
row in n. `drop_totals_row` removes the last row, with a one-line warning naming it, when
- a text cell of it is a totals word (TOTAL_WORDS, case and a trailing ":" ignored) and at least one
  number column's value there equals the sum of that column over the other rows, or
- with no such word, at least two number columns do and none of its number cells disagrees, or
- a totals word is its only value (a workbook's label row whose sums were never computed).
A sum is compared within half a unit of the column's last decimal (rounded totals) and 1e-9 of it.
Number columns written as text ("1,234.50", "$12") are read with the schema's number codec.
"""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.sums import decimals, holds

TOTAL_WORDS = {
    "total",
    "totals",
    "grand total",
    "sum",
    "overall",
    "all",
    "summe",
    "gesamt",
    "gesamtsumme",
    "total général",
    "totale",
    "totaal",
    "suma",
}
MIN_ROWS = 5  # rows above the candidate: fewer prove nothing


def drop_totals_row(table: pa.Table, source: str) -> pa.Table:
    """`table` without its last row when that row is a totals row (see the module), else as it is."""
    if len(table) <= MIN_ROWS:
        return table
    lasts = {name: table.column(name)[len(table) - 1].as_py() for name in table.column_names}
    words = [v.strip() for v in lasts.values() if isinstance(v, str) and _is_total_word(v)]
    word = words[0] if words else None
    agree = disagree = 0
    for name, last in lasts.items():
        if last is None or (isinstance(last, str) and _is_total_word(last)):
            continue
        # text columns only beside a totals word: parsing every text column of every table costs
        values = _numbers(table.column(name), parse_text=word is not None)
        if values is None or np.isnan(values[-1]):
            continue
        rest = values[:-1][~np.isnan(values[:-1])]
        if len(rest) < MIN_ROWS or np.count_nonzero(rest) < 2:  # a column of zeros "adds up" anywhere
            continue
        total = rest.sum()
        if holds(total, values[-1], 0.5 * 10.0 ** -decimals(values[~np.isnan(values)])):  # as a total's rows
            agree += 1
        else:
            disagree += 1
    label = word is not None and sum(v is not None for v in lasts.values()) == 1  # "Total" and nothing else
    if not ((word and agree >= 1) or (agree >= 2 and not disagree) or label):
        return table
    said = f"'{word}' and " if word else ""
    what = (
        f"holds '{word}' and no other value: a totals label"
        if label
        else f"({said}{agree} column(s) equal to the sum of the rows above) is a totals row"
    )
    warnings.warn(
        f"{source}: its last row {what}, not a record; it is left out of training and evaluation",
        UserWarning,
        stacklevel=2,
    )
    return table.slice(0, len(table) - 1)


def _is_total_word(v: str) -> bool:
    return v.strip().rstrip(":").strip().lower() in TOTAL_WORDS


def _numbers(col: pa.ChunkedArray, parse_text: bool) -> np.ndarray | None:
    """A number column as float64 (NaN for null); with `parse_text`, a text column of formatted
    numbers parsed by its codec; None for anything else."""
    t = col.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return col.cast(pa.float64()).fill_null(np.nan).to_numpy()
    if not parse_text or not (pa.types.is_string(t) or pa.types.is_large_string(t)):
        return None
    from synthgen import codecs

    head = col.slice(0, len(col) - 1)
    codec = codecs.detect(head, "number")
    if codec is None or codec["type"] != "number" or codec["parse_rate"] < codecs.PARSE_MIN:
        return None
    return pc.fill_null(codecs.parse(codec, col), np.nan).to_numpy()
