"""Text columns written from other columns of their row.

A Canadian senator's term `1887.05.12 - 1893.10.30  (Death)` is the row's start date, end date and
reason (lifelines' canadian_senators); a `Seattle, WA` label is the row's city and state; a key
`Afghanistan_1946` its country and year. Modelled as a category of its own, such a column comes
back as a real row's text beside another row's dates: the term said 1977.04.05 where the start date
said 1983-10-09, and 95 % of its values (seen once) came back verbatim.

Found from the real rows alone (`find`, schema and evaluation alike): a string column X (at least
MIN_LEVELS values) and the other columns' values as written (a date column also in each of
DATE_FORMATS; a whole number without its `.0`), cut out of X where they stand between
non-alphanumerics, longest first, each at most once. A part counts when it is cut out of at least
MIN_PART_SHARE of the rows where it is set. A number left over in most rows may be a sum of one or
two whole-number columns and a constant (dd.csv's leader spell `Mohammad Zahir Shah.Afghanistan.
1946.1952.Monarchy` ends in start_year + duration - 1): that sum is a part too. What is left of
each value is its form: literal text and numbered slots. Rows are grouped by which parts are null,
and each group's most common form
(or null) is the group's; X is composite when those forms cover MIN_COVERAGE of the rows, each
holds a slot and is shared by MIN_FORM_ROWS rows (its literal text is no one row's).

The encoder then does not model X: the decoder writes it from its row's written values (`render`),
after every other column, fake names included (a leader's name inside a label is the fake one).
The evaluation reports the share of synthetic rows whose X is its row's form
(`fidelity.composite.<column>`, `fidelity.composites` the lowest). Not under DP (its schema lists
no composites): forms are real text.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MIN_LEVELS = 20  # fewer values: the model learns them with their row as a category
MIN_PART_SHARE = 0.3
MIN_COVERAGE = 0.9
MIN_FORM_ROWS = 5
MIN_PART_CHARS = 2  # a one-character value ("M", "3") stands inside too much text by chance
SEARCH_ROWS = 2_000
DATE_FORMATS = ("%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%Y")
STRING_KINDS = ("categorical", "text", "identifier")  # a key named as one stays a key (schema.infer_schema)
PART_KINDS = ("categorical", "text", "identifier", "pii", "integer", "datetime")


def renderings(arr: pa.Array, kind: str | None = None, formats=DATE_FORMATS) -> list[tuple[str | None, list]]:
    """[(format, strings per row)] a column's values can be written in inside another column:
    as written (format None; a whole number without `.0`), and a date column's `formats` (a date
    column held as text, `kind` datetime, is read for them)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if kind == "datetime" and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        import pandas as pd

        d = pd.to_datetime(pd.Series(arr.to_pylist(), dtype=object), format="mixed", errors="coerce")
        if not pd.api.types.is_datetime64_any_dtype(d):  # mixed UTC offsets: no one wall clock
            return [(None, arr.to_pylist())]
        if d.dt.tz is not None:
            d = d.dt.tz_localize(None)
        dates = pa.array(d.astype("datetime64[us]"), type=pa.timestamp("us"), from_pandas=True)
        return [(None, arr.to_pylist())] + [(f, v) for f, v in renderings(dates, None, formats) if f is not None]
    out = []
    if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
        v = arr.to_numpy(zero_copy_only=False)
        out.append((None, [None if x != x else str(int(x)) if float(x).is_integer() else str(x) for x in v]))
    elif pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        # each distinct date written once, then taken per row (senators' 20,000 synthetic terms: 2,900
        # distinct dates; strftime per row was 14 ms a format, most of the composite's writing)
        distinct = pc.unique(arr)
        at = pc.index_in(arr, distinct)  # a null row finds the null among the distinct values
        out.append((None, pc.cast(distinct, pa.string()).take(at).to_pylist()))
        ts = distinct if pa.types.is_timestamp(arr.type) else pc.cast(distinct, pa.timestamp("s"))
        if getattr(ts.type, "tz", None):
            ts = pc.local_timestamp(ts)
        for fmt in formats:
            out.append((fmt, pc.strftime(ts, format=fmt).take(at).to_pylist()))
    elif pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        out.append((None, arr.to_pylist()))
    return out


def _cut(x: str, value: str) -> int:
    """Where `value` stands in `x` between non-alphanumerics (-1: nowhere)."""
    for m in re.finditer(re.escape(value), x):
        a, b = m.start(), m.end()
        if (a == 0 or not x[a - 1].isalnum()) and (b == len(x) or not x[b].isalnum()):
            return a
    return -1


def form_of(x: str, row: list[str | None]) -> tuple:
    """One value -> its form: a tuple of literal strings and slot numbers (row: each slot's text)."""
    pieces: list = [x]
    for k in sorted(range(len(row)), key=lambda k: -len(row[k] or "")):
        v = row[k]
        if v is None or len(v) < MIN_PART_CHARS:
            continue
        for i, p in enumerate(pieces):
            if isinstance(p, str) and (at := _cut(p, v)) >= 0:
                pieces[i : i + 1] = [p[:at], k, p[at + len(v) :]]
                break
    return tuple(p for p in pieces if p != "")


def find(table: pa.Table, kinds: dict[str, str], skip: set[str] = frozenset()) -> list[dict]:
    """[{"column": X, "slots": [[part, format], ...], "forms": {null pattern: form}, "default": form}]
    for the real `table` (kinds: each column's kind; `skip`: columns that are neither). A null
    pattern is one "1" (set) or "0" per slot; a form a list of literal strings and slot numbers,
    or None for a null X."""
    rows = table.slice(0, SEARCH_ROWS)
    names = [n for n in table.column_names if n not in skip]
    candidates = {}
    for x_name in names:
        col = rows.column(x_name)
        if kinds.get(x_name) in STRING_KINDS and (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            xs = col.to_pylist()
            if len({x for x in xs if x is not None}) >= MIN_LEVELS:
                candidates[x_name] = xs
    if not candidates:
        return []
    rendered = {n: renderings(rows.column(n), kinds[n]) for n in names if kinds.get(n) in PART_KINDS}
    numbers = {  # whole numbers stored as numbers (one written as text, "5,646", is read as written)
        n: _numbers(rows.column(n)) for n in names if kinds.get(n) == "integer" and _is_number_type(rows.column(n).type)
    }
    found, parts_of_found = [], set()
    for x_name, xs in candidates.items():
        if x_name in parts_of_found:
            continue
        comp = _composite(
            x_name,
            xs,
            {n: r for n, r in rendered.items() if n != x_name and n not in {c["column"] for c in found}},
            numbers,
        )
        if comp is not None:
            found.append(comp)
            parts_of_found |= {c for slot, _ in comp["slots"] for c in slot_columns(slot)}
    return found


def slot_columns(slot) -> list[str]:
    """The columns a slot reads: its part, or the numbers a sum slot adds (a list)."""
    return list(slot) if isinstance(slot, list) else [slot]


def _is_number_type(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _numbers(arr) -> np.ndarray:
    """A whole-number column -> float64 values, NaN for null."""
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)


_NUMBER_RUN = re.compile(r"(?<![0-9A-Za-z])\d{1,9}(?![0-9A-Za-z])")


def _sum_part(xs: list, rows: list[int], numbers: dict, columns: list) -> tuple | None:
    """((column names, constant), strings per row) of a sum of one or two whole-number columns and
    a constant that is a number left over in at least MIN_COVERAGE of the `rows` of `xs` (numbers
    that the other parts, `columns`, do not write); None if there is none."""
    if not numbers or not rows:
        return None
    left = np.full((len(xs), 2), np.nan)
    for i in rows:
        runs = _NUMBER_RUN.findall(xs[i])
        for c in columns:  # each part's number written once (a one-year spell writes its year twice)
            if c[i] in runs:
                runs.remove(c[i])
        left[i, : min(2, len(runs))] = [float(r) for r in runs[:2]]
    if np.isnan(left[rows, 0]).mean() > 1 - MIN_COVERAGE:
        return None
    names = list(numbers)
    best, best_hits = None, MIN_COVERAGE * len(rows)
    for i, a in enumerate(names):
        for b in [None, *names[i:]]:
            total = numbers[a] + (numbers[b] if b else 0.0)
            diffs = (left - total[:, None]).ravel()
            diffs = diffs[~np.isnan(diffs)]
            if not len(diffs):
                continue
            values, counts = np.unique(diffs, return_counts=True)
            c = values[np.argmax(counts)]
            if b is None and c == 0:
                continue  # the column itself, which a plain part writes
            hits = int(np.any(left == (total + c)[:, None], axis=1)[rows].sum())
            if hits > best_hits:
                best, best_hits = ([a] + ([b] if b else []), int(c)), hits
    if best is None:
        return None
    total = sum(numbers[n] for n in best[0]) + best[1]
    return best, [None if t != t else str(int(t)) for t in total]


def _composite(x_name: str, xs: list, rendered: dict, numbers: dict) -> dict | None:
    set_rows = [i for i, x in enumerate(xs) if x is not None]
    slots, columns = [], []
    for name, forms in rendered.items():
        for fmt, values in forms:
            have = [i for i in set_rows if values[i] is not None and len(values[i]) >= MIN_PART_CHARS]
            if len(have) < MIN_FORM_ROWS:
                continue
            hits = sum(_cut(xs[i], values[i]) >= 0 for i in have)
            if hits >= MIN_PART_SHARE * len(have):
                slots.append((name, fmt, hits))
                columns.append(values)
                break  # one format per column
    if not slots:
        return None
    summed = _sum_part(xs, set_rows, {n: v for n, v in numbers.items() if n != x_name}, columns)
    if summed is not None:
        (parts, constant), values = summed
        slots.append((parts, f"{constant:+d}", 0))
        columns.append(values)
    patterns: dict[str, dict] = {}
    for i, x in enumerate(xs):
        row = [c[i] for c in columns]
        key = "".join("0" if v is None else "1" for v in row)
        form = None if x is None else form_of(x, row)
        counts = patterns.setdefault(key, {})
        counts[form] = counts.get(form, 0) + 1
    chosen, covered = {}, 0
    for key, counts in sorted(patterns.items(), key=lambda kv: -max(kv[1].values())):  # the largest first
        form, n = max(counts.items(), key=lambda kv: kv[1])
        if form is not None and (n < MIN_FORM_ROWS or not any(isinstance(p, int) for p in form)):
            continue
        chosen[key], covered = form, covered + n
    if covered < MIN_COVERAGE * len(xs) or not any(f is not None for f in chosen.values()):
        return None
    used = sorted({p for f in chosen.values() if f for p in f if isinstance(p, int)})
    renumber = {old: new for new, old in enumerate(used)}
    keep = lambda key: "".join(key[k] for k in used)  # noqa: E731
    forms: dict[str, list | None] = {}
    for key, f in chosen.items():
        forms.setdefault(keep(key), None if f is None else [renumber.get(p, p) if isinstance(p, int) else p for p in f])
    tally: dict = {}
    for f in forms.values():
        if f is not None:
            tally[tuple(f)] = tally.get(tuple(f), 0) + 1
    default = list(max(tally.items(), key=lambda kv: kv[1])[0])
    return {
        "column": x_name,
        "slots": [[slots[k][0], slots[k][1]] for k in used],
        "forms": forms,
        "default": default,
    }


def render(comp: dict, table: pa.Table, kinds: dict[str, str] | None = None, dates: dict | None = None) -> pa.Array:
    """The composite column for the rows of `table` (holding its parts as written; `kinds`: their
    kinds, for dates held as text; `dates`: such columns' dates where the caller has them, which
    spares reading the text) -> string array."""
    n, kinds, dates = table.num_rows, kinds or {}, dates or {}
    values = []
    for name, fmt in comp["slots"]:  # a part left out of the table (dropped free text) writes nothing
        if isinstance(name, list):  # a sum slot: its numbers added, plus the constant its format holds
            if all(c in table.column_names and _is_number_type(table.schema.field(c).type) for c in name):
                total = sum(_numbers(table.column(c)) for c in name) + int(fmt)
                values.append([None if t != t else str(int(t)) for t in total])
            else:
                values.append([None] * n)
            continue
        if name not in table.column_names:
            values.append([None] * n)
            continue
        only = (fmt,) if fmt else ()  # the one format the slot writes
        if fmt is not None and name in dates:
            forms = dict(renderings(dates[name], None, only))
        else:
            forms = dict(renderings(table.column(name), kinds.get(name) if fmt else None, only))
        values.append(forms.get(fmt, [None] * n))
    # rows grouped by their null pattern (slot k set: bit k from the left), each group's form
    # joined by Arrow, not a Python loop over rows (senators' term, 20,000 rows: ~40 ms in all,
    # its dates' formatting included)
    parts = [pa.array(v, type=pa.string()) for v in values]
    code = np.zeros(n, dtype=np.int64)
    for a in parts:
        code = code * 2 + a.is_valid().to_numpy(zero_copy_only=False)
    filled = [pc.fill_null(a, "") for a in parts]
    out = np.full(n, None, dtype=object)
    for c in np.unique(code):
        form = comp["forms"].get(format(int(c), f"0{len(parts)}b"), comp["default"])
        if form is None:
            continue
        rows = np.flatnonzero(code == c)
        pieces = [
            pa.array(np.full(len(rows), p, dtype=object), pa.string()) if isinstance(p, str) else filled[p].take(rows)
            for p in form
        ]
        out[rows] = pc.binary_join_element_wise(*pieces, "").to_numpy(zero_copy_only=False)
    return pa.array(out, type=pa.string())


def scores(real, syn, kinds: dict[str, str]) -> dict[str, float]:
    """The evaluation's view (pandas frames or Arrow tables): for each composite found in the real
    rows, the synthetic share of rows whose column equals its row's form
    (`fidelity.composite.<column>`), `fidelity.composites` the lowest."""
    from synthgen.evaluate.columns import key_part

    real, syn = (t if isinstance(t, pa.Table) else pa.Table.from_pandas(t, preserve_index=False) for t in (real, syn))
    out = {}
    for comp in find(real, kinds):
        x = comp["column"]
        if x not in syn.column_names or any(
            c not in syn.column_names for slot, _ in comp["slots"] for c in slot_columns(slot)
        ):
            continue
        want = render(comp, syn, kinds).to_pylist()
        got = syn.column(x).to_pylist()
        rows = [i for i, w in enumerate(want) if w is not None]
        if rows:
            out[f"fidelity.composite.{key_part(x)}"] = float(np.mean([got[i] == want[i] for i in rows]))
    if out:
        out["fidelity.composites"] = min(out.values())
    return out
