"""How the prepare stage read each column, as lines for the console: what a user checks before
training (a date read as a category, an id taken for a number, names not taken for personal data),
and what `data.columns.<name>.kind=...` would change. prepare logs them; schema.json holds the rest.

    column    read as        how                                          nulls  distinct
    id        identifier     fresh values, none of the real ones             -     7,214
    name      personal data  full_name: fake values                          -     7,158
    dob       date           text like '%Y-%m-%d'                            -     5,452
    amount    number         text like '$1,234.56'                       3.1 %       811
"""

from __future__ import annotations

import textwrap

import numpy as np

from synthgen.schema import ColumnSchema, TableSchema

MAX_COLUMNS = 60  # a wider table's first columns; the rest are counted (schema.json lists them all)
WIDTHS = (24, 13, 56, 6, 9)  # characters per field at most: a line within 120 (a longer name or note is cut)
KIND_WORDS = {
    "continuous": "number",
    "integer": "whole number",
    "categorical": "category",
    "boolean": "yes/no",
    "datetime": "date/time",
    "identifier": "identifier",
    "text": "free text",
    "pii": "personal data",
    "empty": "empty",
}
# what a found relation does to the synthetic rows, by schema.json key (one count per kind)
RELATION_WORDS = {
    "relations": "date orderings kept",
    "ages": "ages computed from their dates",
    "durations": "durations kept within their day",
    "spans": "day counts computed from their dates",
    "orders": "number orderings kept",
    "sums": "totals summed from their parts",
    "conversions": "columns converted from another",
    "dependencies": "columns looked up from another",
    "nestings": "categories drawn within another's level",
    "composites": "text columns written from their row",
    "exclusive": "groups of one-hot flags modelled as one column",
}


def column_lines(schema: TableSchema) -> list[str]:
    """The console lines: a header, one aligned line per column (at most MAX_COLUMNS), then the
    relations found between columns, wrapped within 120 characters."""
    rows = [("column", "read as", "how", "nulls", "distinct")]
    for col in schema.columns[:MAX_COLUMNS]:
        nulls = f"{col.null_share:.1%}" if col.null_share else "-"
        rows.append((col.name, _kind(col), _how(col, schema), nulls, f"{col.n_unique:,}"))
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in enumerate(WIDTHS)]
    lines = [
        "  "
        + "  ".join(f"{_cut(v, widths[i]):<{widths[i]}}" if i < 3 else f"{v:>{widths[i]}}" for i, v in enumerate(r))
        for r in rows
    ]
    if len(schema.columns) > MAX_COLUMNS:
        lines.append(f"  ... and {len(schema.columns) - MAX_COLUMNS} more columns (prepared/schema.json)")
    found = [f"{len(getattr(schema, key))} {words}" for key, words in RELATION_WORDS.items() if getattr(schema, key)]
    if found:
        text = "found between columns: " + "; ".join(found) + " (schema.json)"
        lines += textwrap.wrap(text, 118, initial_indent="  ", subsequent_indent="    ")
    return lines


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _kind(col: ColumnSchema) -> str:
    if col.kind == "datetime":
        return "time of day" if _clock(col) else "date" if col.resolution == "D" else "timestamp"
    return KIND_WORDS.get(col.kind, col.kind)


def _native_time(col: ColumnSchema) -> bool:
    return col.arrow_type.startswith("time") and not col.arrow_type.startswith("timestamp")


def _clock(col: ColumnSchema) -> bool:
    """A time of day: an Arrow time column, or text read in a format without a day ("%H:%M")."""
    formats = (col.codec or {}).get("formats") or [(col.codec or {}).get("format") or ""]
    dated = any(d in f for f in formats for d in ("%Y", "%y", "%m", "%d", "%b", "%B", "%j", "%a"))
    return col.kind == "datetime" and (_native_time(col) or (col.codec or {}).get("type") == "datetime" and not dated)


def _how(col: ColumnSchema, schema: TableSchema) -> str:
    """What becomes of the column's values in the synthetic table."""
    codec = {} if _native_time(col) else (col.codec or {})  # a time64 column's codec is internal
    text = f"text like {_example(codec)}" if codec else ""
    if codec.get("null_text"):
        text += f", {codec['null_text']!r} as missing"
    if col.kind == "identifier":
        return "fresh values, none of the real ones"
    if col.kind == "pii":
        return f"{col.pii}: fake values" if col.pii else "fake values"
    if col.kind == "text":
        return "fake text of the real lengths"
    if col.kind == "empty":
        return "written empty"
    if schema.entity and col.name == schema.entity.get("column"):
        return "entity key: fresh keys, rows grouped under them"
    if col.kind == "categorical":
        levels = len(col.categories or [])
        return ", ".join(filter(None, [f"{levels} level{'s' if levels != 1 else ''}", text]))
    return ", ".join(filter(None, [text, "" if _clock(col) else _range(col)])) or "as stored"  # a time: no date


def _range(col: ColumnSchema) -> str:
    """ "3.07 to 48.33", "1 to 6", "2013-01-01 to 2014-12-31": the real values' span."""
    if col.min is None or col.max is None or col.kind not in ("continuous", "integer", "datetime"):
        return ""
    places = col.decimals if col.decimals is not None else 3

    def show(v) -> str:
        if col.kind == "datetime":  # local time in `resolution` units (synthgen/schema.py); the days
            return str(np.datetime64(int(v), col.resolution or "s").astype("datetime64[D]"))
        return f"{v:,.{places}f}" if col.kind == "continuous" else f"{int(v):,}"

    return f"{show(col.min)} to {show(col.max)}"


def _example(codec: dict) -> str:
    """A value in the codec's spelling: "'$1,234.56'", "'%d/%m/%Y'", "'Yes'/'No'"."""
    kind = codec.get("type")
    if kind == "datetime":
        formats = codec.get("formats") or [codec.get("format")]
        return " or ".join(repr(f) for f in formats if f)
    if kind == "boolean":
        return f"{codec.get('true')!r}/{codec.get('false')!r}"
    if kind == "number":
        places = int(codec.get("decimals") or 0)
        whole = "1" + codec.get("thousands", ",") + "234" if codec.get("grouped") else "1234"
        number = whole + (codec.get("decimal", ".") + "56"[:places].ljust(places, "0") if places else "")
        return repr(f"{codec.get('prefix', '')}{number}{codec.get('suffix', '')}")
    if kind == "duration":
        return "'1:30:00'"
    return repr(kind)
