"""Column kinds and the table schema: inferred once in `prepare`, saved as JSON with the run.

The schema keeps the input's exact Arrow schema (IPC bytes, base64) so every synthetic table
comes back with the same columns, order and Arrow types.

Kinds, and how `infer_schema` guesses them (`data.columns.<name>.kind=...` overrides the guess):

- boolean: Arrow bool, and strings of yes/no words ("Yes"/"No", "y"/"n", "true"/"false", ...).
- datetime: timestamp (any unit, with or without time zone), date32, date64, and strings that are
  dates, datetimes (with or without zone) or times in one strftime format. The domain is kept
  in *local wall-clock* units at the coarsest resolution at which every value is whole, so
  local-midnight dates in Europe/Paris are day-resolution, not "hours since UTC".
- pii: personal data (synthgen/pii.py): full/first/last names, e-mails, phones, addresses found by
  column names and values; generated per row from Faker's lists, never modelled nor copied.
- identifier: near-unique keys (>= 95% distinct among >= 50 values): strings up to 40
  characters, or whole numbers that are dense (sequential-like, unless the column is named for a
  time unit: "year", "week") or sit in an id-named column ("id", "customer_id", "OrderKey", ...),
  and record numbers by name ("case_number") even when they repeat. Generated afresh, never modelled.
- integer: integer types, float columns whose values are all whole (pandas' int-with-NaN), and
  formatted number strings ("1,234", "$12", "45%") whose values are whole.
- continuous: other numbers; `decimals` is the fewest decimals that reproduce every value
  (None when no precision up to 6 does).
- text: strings averaging more than 40 characters with many distinct values; written as fake
  text (Faker's lorem words at the real lengths), never copied.
- empty: all values null; carried through as nulls of the column's type (with a warning).
- categorical: the remaining strings (and any column forced to it).

A string column read as a date, number or boolean keeps its codec (synthgen/codecs.py: format,
separators, words, parse rate): the model sees native values, the output is written back in the
input's spelling and Arrow type. `relations` lists date columns that are never before another
one (`op` ">=") or always equal to it ("=="), in every real row: the encoder keeps them. `ages`
lists integer columns that are the whole years between two date columns (synthgen/ages.py), and
`durations` integer columns that count the days from a date to an event or to one fixed day
(synthgen/durations.py). `orders` lists number columns never below others (value_orders), and a
date column's `calendar` says when every value is a month's or a year's first day. `sums` lists
totals written as the sum of their parts (synthgen/sums.py) and `products` numbers written as the
product of two others (synthgen/products.py); `conversions` number columns written as
a monotone function of another (synthgen/conversions.py); `dependencies` columns looked up from
a key column's level (synthgen/dependencies.py); `bands` categories written as the interval a number
falls in (synthgen/bands.py); `nestings` categorical columns whose rare levels are
drawn among those seen with their row's level of another (synthgen/nesting.py); `composites` text
columns written from other columns of their row (synthgen/composites.py); `exclusive` groups of 0/1
flags of which no real row sets two, modelled as one column (synthgen/exclusive.py). `name_sex`
names the column (a gender, a salutation) whose levels the fake first names follow
(synthgen/name_sex.py). `entity` names a key repeated on each of an entity's rows, its attributes
and rows-per-entity counts (synthgen/entities.py).

Float NaN counts as null everywhere (the readers turn it into null).
"""

from __future__ import annotations

import base64
import json
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen import composites, dependencies, entities, exclusive, name_sex, nesting
from synthgen.errors import SynthgenError

KINDS = ("continuous", "integer", "categorical", "boolean", "datetime", "identifier", "text", "pii", "empty")
NUMERIC_KINDS = ("continuous", "integer", "datetime")
MODELLED_KINDS = NUMERIC_KINDS + ("categorical", "boolean")
_CODEC_FAMILY = {"datetime": "datetime", "continuous": "number", "integer": "number", "boolean": "boolean"}
COLUMN_SETTINGS = ("kind", "format", "pii", "bounds", "categories")  # bounds/categories: public domains
# under privacy.epsilon (encoders/dp_stats.py)
# Datetime resolutions, coarsest first, as numpy units.
_RESOLUTIONS = ("D", "h", "m", "s", "ms", "us", "ns")
CALENDARS = ("Y", "M")  # grids of day-resolution dates, coarsest first (ColumnSchema.calendar, calendar_of_days)
MAX_DECIMALS = 6
ID_MIN_ROWS = 50  # fewer valid values than this: never guess "identifier"
ID_UNIQUE_SHARE = 0.95  # near-unique: at least this share of the valid values are distinct
# the last word of a key's name: ids, and the subjects a study's long table repeats on each of their
# rows (statsmodels' modechoice: `individual`, 4 rows each, one per travel mode); not `subject` or
# `person`, which also name an e-mail's subject line and a contact's name
ID_NAME_WORDS = {"id", "key", "uuid", "guid", "pk", "identifier", "individual", "patient", "participant"}
ID_NAME_WORDS |= {"respondent", "household", "pid", "uid"}
# a column counting time units (`year`, `Week`): a dense run of its whole numbers is no row key
TIME_UNIT_WORDS = {"year", "yr", "quarter", "qtr", "month", "week", "wk", "day", "hour", "period", "season"}
# a record's number: `case_number`, `account no`, `CaseNo`, and the one-word spellings of study files
# (ACTG175's `pidnum`, `patid`, `subjid`, `caseno`): a number word after the thing numbered
ID_NUMBER_WORDS = ("id", "no", "nr", "num", "number")
ID_NUMBERED_WORDS = ("case", "record", "rec", "patient", "pat", "subject", "subj", "member", "account", "acct")
ID_NUMBERED_WORDS += ("customer", "cust", "client", "order", "invoice", "ticket", "serial", "claim", "policy")
ID_NUMBERED_WORDS += ("employee", "emp", "user", "person", "pers", "participant", "pid", "id", "sample", "hh")
_ONE_WORD_ID = re.compile(f"({'|'.join(ID_NUMBERED_WORDS)})({'|'.join(ID_NUMBER_WORDS)})")
TEXT_MIN_MEAN_LEN = 40
_INT_EXACT = 2.0**53  # floats above this are not reliably whole numbers


@dataclass
class ColumnSchema:
    name: str
    kind: str
    arrow_type: str
    null_share: float
    n_unique: int
    min: float | int | None = None  # integer/continuous; datetimes as ints in `resolution` units (local time)
    max: float | int | None = None
    decimals: int | None = None  # continuous: decimal places that reproduce every value (None: more than 6)
    resolution: str | None = None  # datetime: numpy unit, e.g. "D" or "s"
    timezone: str | None = None
    calendar: str | None = None  # datetime at "D": "M" every value a month's first day, "Y" a year's
    # datetime: a unit coarser than `resolution` that every value lies on but a few repeated ones
    # (`off_grid`, in `resolution` units: an open-ended record's 9999-12-31 23:59:59), grid_of
    grid: str | None = None
    off_grid: list[int] | None = None
    categories: list | None = None  # categorical/boolean: values, most frequent first
    frequencies: list[int] | None = None
    codec: dict | None = None  # a string column read as dates/numbers/booleans (synthgen/codecs.py)
    pii: str | None = None  # kind pii: full_name, first_name, last_name, email, phone or address
    style: dict | None = None  # pii/text: letter case, a phone's shape, length quantiles (no real values)


@dataclass
class TableSchema:
    columns: list[ColumnSchema]
    n_rows: int
    arrow_schema_b64: str = field(repr=False)
    relations: list[dict] = field(default_factory=list)  # {"column": B, "base": A, "op", "encoding", "also"}
    ages: list[dict] = field(default_factory=list)  # {"column": N, "born": A, "at": B, "share"} (synthgen/ages.py)
    # {"column": N, "start": A, "day": ISO date, "share", "at_end"} (synthgen/durations.py)
    durations: list[dict] = field(default_factory=list)
    spans: list[dict] = field(default_factory=list)  # {"column": N, "start": A, "end": B, "derived", "share"}
    orders: list[dict] = field(default_factory=list)  # {"column": B, "at_least": [A, ...]}: numbers (value_orders)
    name_sex: dict | None = None  # the column fake first names follow (synthgen/name_sex.py)
    sums: list[dict] = field(default_factory=list)  # {"column": T, "parts": [A, ...]}: totals (synthgen/sums.py)
    # {"column": T, "factors": [A, B]}: T = A x B (synthgen/products.py)
    products: list[dict] = field(default_factory=list)
    # {"column": B, "by": A, "levels": [...], "cuts": [...]}: B the band A falls in (synthgen/bands.py)
    bands: list[dict] = field(default_factory=list)
    # {"column": P, "from": D, "part": "month" ...}: P a part of date D (synthgen/date_parts.py)
    date_parts: list[dict] = field(default_factory=list)
    # {"column": B, "from": A, "kind": "affine" | "table", ...}: B a function of A (synthgen/conversions.py)
    conversions: list[dict] = field(default_factory=list)
    # {"column": B, "by": A, "levels": [...], "values": [...]}: B looked up from A (synthgen/dependencies.py)
    dependencies: list[dict] = field(default_factory=list)
    # {"column": B, "within": A, "pairs": [[B level, A level, rows], ...], "every_pair": True}: B's
    # levels drawn within A's (synthgen/nesting.py)
    nestings: list[dict] = field(default_factory=list)
    # {"column": X, "slots": [[part, date format], ...], "forms": {...}, "default": [...]}: text
    # written from its row's other columns (synthgen/composites.py)
    composites: list[dict] = field(default_factory=list)
    # {"columns": [F1, F2, ...], "counts": [rows setting none, rows setting each]}: 0/1 flags of which
    # at most one is set, modelled as one column (synthgen/exclusive.py)
    exclusive: list[dict] = field(default_factory=list)
    # {"column": key, "attributes", "sizes": [[size, count], ...], "entities", "ages"} (synthgen/entities.py)
    entity: dict | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        for c in self.columns:
            if c.name == name:
                return c
        raise SynthgenError(f"unknown column '{name}'; the table has: {', '.join(self.names)}")

    def kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.columns}

    def check_modelled(self, source: str) -> None:
        """One line when no column is left for the model (all identifiers, personal data, text, empty)."""
        if not any(c.kind in MODELLED_KINDS for c in self.columns):
            raise SynthgenError(
                f"{source}: nothing is left to model: every column is "
                f"{' or '.join(sorted({c.kind for c in self.columns}))}; set "
                f"data.columns.<name>.kind=categorical (or another kind) for a column to model"
            )

    def model_type(self, name: str) -> pa.DataType:
        """The Arrow type the model's codecs see: the codec's native type, else the input's."""
        from synthgen.codecs import native_type

        col = self.column(name)
        return native_type(col.codec) if col.codec else self.arrow_schema.field(name).type

    def to_native(self, table: pa.Table) -> pa.Table:
        """Columns with a codec parsed to their native type (dates, numbers, booleans)."""
        from synthgen.codecs import parse

        for col in self.columns:
            if col.codec and col.name in table.column_names:
                i = table.column_names.index(col.name)
                table = table.set_column(i, col.name, parse(col.codec, table.column(i)))
        return table

    def identifying_groups(self) -> list[list[str]]:
        """Column groups whose values identify a person: each full name, e-mail, phone and
        address column, and first + last name together (identifier columns are checked apart)."""
        from synthgen.pii import IDENTIFYING

        groups = [[c.name] for c in self.columns if c.kind == "pii" and c.pii in IDENTIFYING]
        first = [c.name for c in self.columns if c.kind == "pii" and c.pii == "first_name"]
        last = [c.name for c in self.columns if c.kind == "pii" and c.pii == "last_name"]
        if first and last:
            groups.append([first[0], last[0]])
        return groups

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(self.arrow_schema_b64)))

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(asdict(self), indent=indent, default=_json_default)

    def save(self, path: Path) -> None:
        from synthgen.io import atomic_write_text

        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "TableSchema":
        from synthgen.io import read_json_artifact

        return cls.load_dict(read_json_artifact(path, "schema", "prepare"))

    @classmethod
    def load_dict(cls, raw: dict) -> "TableSchema":
        raw = dict(raw)
        cols = [ColumnSchema(**c) for c in raw.pop("columns")]
        return cls(columns=cols, **raw)


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    raise TypeError(f"not JSON serialisable: {type(v)}")


# ---- inference -------------------------------------------------------------------------------
def infer_schema(
    table: pa.Table,
    overrides: dict | None = None,
    max_stored_categories: int = 100_000,
    source: str = "input table",
    entity="none",
) -> TableSchema:
    """Infer kind, null share and domain of each column.

    `overrides` maps column -> {"kind": ...} (or the kind as a plain string). The table is
    validated first (`synthgen.io.validate_table`), so every error names the column and the fix.
    `entity`: data.entity ("auto", "none" or the key column; synthgen/entities.py). A found key
    becomes an identifier (its real values are not modelled) and takes part in no other rule.
    """
    from synthgen.io import validate_table

    validate_table(table, source)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(table.column_names))
    if unknown:
        raise SynthgenError(
            f"data.columns names unknown column(s) {unknown}; the table has: {', '.join(table.column_names)}"
        )
    cols, native = [], {}
    for name in table.column_names:
        col, arr = _infer_column(
            name, table.column(name), _column_settings(name, overrides.get(name)), len(table), max_stored_categories
        )
        cols.append(col)
        if col.kind in ("datetime", "integer", "continuous"):
            native[name] = arr
    kinds = {c.name: c.kind for c in cols}
    forced = {n for n in overrides if _column_settings(n, overrides[n]).get("kind")}
    found = entities.find(table, kinds, entity, lambda n: id_like_name(n) and n not in forced)
    if found:
        i = table.column_names.index(found["column"])
        c = cols[i]
        cols[i] = ColumnSchema(c.name, "identifier", c.arrow_type, c.null_share, c.n_unique)
        native.pop(c.name, None)
    sink = table.schema.serialize()
    dates, ints = day_numbers(cols, native)
    relations, ages = ages_and_relations(dates, ints, date_relations(cols, native))
    if found:  # how its rows follow one another: a date order, a row counter (written in that order)
        found.update(entities.find_sequence(table, found, native, {c.name: c.kind for c in cols}))
        # a flag on exactly one of each entity's rows (the alternative chosen, the current row)
        found["marks"] = entities.find_marks(table, found, {c.name: c.kind for c in cols})
    if found:  # an entity's birth date is one of its attributes: modelled, its rows' ages counted from it
        moved = [a for a in ages if a["born"] in found["attributes"] and a.get("at")]
        ages = [a for a in ages if a not in moved]
        found["ages"] = moved
    relations, spans = spans_and_relations(dates, ints, relations, ages)
    durations = durations_of(dates, ints, ages + spans)
    tied = {d["column"] for d in ages + spans + durations}  # integers written from dates
    entity_columns = {found["column"], *found.get("attributes", ())} if found else set()
    parts = value_date_parts(cols, table, native, tied | entity_columns)
    tied |= {p["column"] for p in parts}  # and a date's parts (a year, a month name)
    conversions = value_conversions(cols, native, tied)
    converted = {cv["column"] for cv in conversions}  # written from their key: no other number rule
    products = value_products(cols, native, tied | converted)
    multiplied = {p["column"] for p in products}  # written from their factors: no other number rule
    orders = value_orders(cols, native, tied | converted | multiplied)
    sums = value_sums(cols, native, tied | converted | multiplied)
    totals = {sm["column"] for sm in sums}  # written after the products: not a factor (it would change)
    products = [p for p in products if not totals & set(p["factors"])]
    # columns the decoder writes after their draw (never a lookup's key or dependent), and the day
    # counts tied to dates (drawn as themselves: a key, never a dependent)
    rewritten = {r["column"] for r in relations + sums + durations + products} | {a["born"] for a in ages} | converted
    rewritten |= {s.get("derived", "") for s in spans} | {p["column"] for p in parts}
    # text written from other columns of its row (synthgen/composites.py): neither a key nor a dependent
    # a column named as a key stays one: fresh keys are unique, parts that repeat would not be
    keys = {c.name for c in cols if c.kind == "identifier" and id_like_name(c.name)}
    composed = composites.find(table, {c.name: c.kind for c in cols}, entity_columns | forced | keys)
    rewritten |= {c["column"] for c in composed}
    for comp in composed:  # text to the evaluation (no levels of its own to score or to store)
        i = table.column_names.index(comp["column"])
        c = cols[i]
        cols[i] = ColumnSchema(c.name, "text", c.arrow_type, c.null_share, c.n_unique)
    # A number a key determines is its lookup, not an ordering: the democracy-dictatorship table's
    # country code, >= its polity code in every row, drew 778 for Pakistan (770) while raised above it.
    raised = {o["column"] for o in orders}
    found_dependencies = dependencies.find(cols, table, native, rewritten | raised, rewritten | tied)
    looked_up = {d["column"] for d in found_dependencies} | {d["by"] for d in found_dependencies}
    looked_up |= {c["column"] for c in composed}
    orders = [o for o in orders if o["column"] not in looked_up]
    found_bands = value_bands(cols, table, native, rewritten | looked_up | entity_columns, entity_columns | tied)
    looked_up |= {b["column"] for b in found_bands}  # written from their number: no nesting
    found_nestings = nesting.find(cols, table, looked_up)
    sexes = name_sex.find(cols, table)
    ruled = _columns_named(  # flags that another rule reads or writes stay columns of their own
        relations,
        ages,
        durations,
        spans,
        orders,
        sums,
        products,
        conversions,
        found_dependencies,
        found_bands,
        parts,
        found_nestings,
        composed,
        [found] if found else [],
        [sexes] if sexes else [],
    )
    # numbers and booleans stored as such (a flag written as text keeps its codec's spelling: not here)
    plain = {c.name: c.kind for c in cols if not c.codec and _is_flag_type(table.schema.field(c.name).type)}
    one_hot = exclusive.find(table, plain, ruled)
    return TableSchema(
        columns=cols,
        n_rows=len(table),
        arrow_schema_b64=base64.b64encode(sink.to_pybytes()).decode(),
        relations=relations,
        ages=ages,
        durations=durations,
        spans=spans,
        orders=orders,
        name_sex=sexes,
        sums=sums,
        products=products,
        conversions=conversions,
        dependencies=found_dependencies,
        bands=found_bands,
        date_parts=parts,
        nestings=found_nestings,
        composites=composed,
        exclusive=one_hot,
        entity=found,
    )


def _columns_named(*rules) -> set[str]:
    """Every string inside the rules' entries (column names among them), at any depth."""
    names, stack = set(), list(rules)
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            names.add(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, (list, tuple)):
            stack.extend(v)
    return names


def _is_flag_type(typ: pa.DataType) -> bool:
    return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)


def _column_settings(name: str, ov) -> dict:
    """data.columns.<name>: a kind string or a mapping of kind / format / pii."""
    from synthgen.pii import PII_TYPES

    if ov is None:
        return {}
    if isinstance(ov, str):
        ov = {"kind": ov}
    if not isinstance(ov, dict):
        raise SynthgenError(f"data.columns.{name} must be a mapping such as {{kind: categorical}}, not {ov!r}")
    extra = sorted(set(ov) - set(COLUMN_SETTINGS))
    if extra:
        raise SynthgenError(f"data.columns.{name}.{extra[0]} is not a column setting; use {', '.join(COLUMN_SETTINGS)}")
    ov = dict(ov)
    if ov.get("kind") in PII_TYPES:  # kind=email is short for kind=pii, pii=email
        ov["pii"], ov["kind"] = ov["kind"], "pii"
    forced = ov.get("kind")
    if forced is not None and forced not in KINDS:
        raise SynthgenError(
            f"data.columns.{name}.kind='{forced}' is not a kind; use one of {', '.join(KINDS + PII_TYPES)}"
        )
    if ov.get("pii") is not None and ov["pii"] not in PII_TYPES:
        raise SynthgenError(
            f"data.columns.{name}.pii='{ov['pii']}' is not a pii type; use one of {', '.join(PII_TYPES)}"
        )
    if ov.get("format") is not None and (not isinstance(ov["format"], str) or "%" not in ov["format"]):
        raise SynthgenError(f"data.columns.{name}.format={ov['format']!r} must be a strftime format such as '%d/%m/%Y'")
    return ov


def plain_values(arr: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Decode dictionaries, read string views as large strings and float NaN as null."""
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    if pa.types.is_string_view(t):
        arr = arr.cast(pa.large_string())
    elif pa.types.is_floating(t) and pc.any(pc.is_nan(arr)).as_py():
        arr = pc.if_else(pc.is_nan(arr), pa.scalar(None, t), arr)
    return arr


def is_string_type(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def is_temporal_type(t: pa.DataType) -> bool:
    return pa.types.is_timestamp(t) or pa.types.is_date(t)


def _infer_column(
    name: str, arr: pa.ChunkedArray, settings: dict, n_rows: int, max_cats: int
) -> tuple[ColumnSchema, pa.ChunkedArray]:
    """-> (the column's schema, its values as the model sees them: parsed when it has a codec)."""
    from synthgen import codecs, pii

    forced = settings.get("kind")
    t = arr.type
    arr = plain_values(arr)
    vt = arr.type  # value type (dictionaries decoded)
    null_share = arr.null_count / max(n_rows, 1)
    valid = arr.drop_null()
    n_unique = len(pc.unique(valid)) if len(valid) else 0
    base = dict(name=name, arrow_type=str(t), null_share=float(null_share), n_unique=int(n_unique))
    if forced == "empty" or (not len(valid) and forced is None):
        warnings.warn(f"column '{name}' is entirely null: it is carried through as nulls", stacklevel=3)
        return ColumnSchema(**{**base, "null_share": 1.0, "n_unique": 0}, kind="empty"), arr
    if not len(valid):
        raise SynthgenError(
            f"column '{name}' is entirely null, so it cannot be {forced}; set data.columns.{name}.kind=empty or drop it"
        )
    if n_unique == 1 and not arr.null_count and forced is None:
        warnings.warn(f"column '{name}' holds one value: it is carried through as that value", stacklevel=3)
    if is_string_type(vt) and forced in (None, "pii", "identifier", "text"):
        found = settings.get("pii") or (pii.detect(name, valid, n_unique) if forced in (None, "pii") else None)
        if forced == "pii" and found in (None, "identifier"):
            raise SynthgenError(
                f"column '{name}' does not look like a name, e-mail, phone or address; "
                f"set data.columns.{name}.pii to one of {', '.join(pii.PII_TYPES)}"
            )
        if found == "identifier" and forced is None:
            forced = "identifier"
        elif found and found != "identifier" and forced in (None, "pii"):
            return ColumnSchema(**base, kind="pii", pii=found, style=pii.style_of(valid)), arr
        if forced == "text":
            return ColumnSchema(**base, kind="text", style=pii.style_of(valid)), arr
    codec = None
    if pa.types.is_time(vt) and forced in (None, "datetime"):
        codec = codecs.time_of_day_codec()
    elif pa.types.is_integer(vt) and forced in (None, "datetime"):
        codec = codecs.detect_int_date(valid)  # 20130131: a date, not a number
    elif is_string_type(vt) and (forced is None or forced in _CODEC_FAMILY):
        fmt = settings.get("format")
        codec = codecs.from_format(fmt, valid) if fmt else codecs.detect(valid, _CODEC_FAMILY.get(forced))
        if (forced or fmt) and (codec is None or codec["parse_rate"] < codecs.PARSE_MIN):
            rate = 0 if codec is None else codec["parse_rate"]
            raise SynthgenError(
                f"column '{name}': {rate:.0%} of its values read as {forced or 'datetime'}"
                f"{' with format ' + repr(fmt) if fmt else ''}; set data.columns.{name}.format to "
                f"the format they are written in, or another kind"
            )
        if codec is not None and codec.get("null_text") is not None and arr.null_count:
            codec.pop("null_text")  # real nulls too: both come back as nulls (one token cannot tell them apart)
    if codec is not None:
        arr = codecs.parse(codec, arr)
        vt = arr.type
        valid = arr.drop_null()
        n_unique = len(pc.unique(valid)) if len(valid) else 0
        base.update(null_share=float(arr.null_count / max(n_rows, 1)), n_unique=int(n_unique), codec=codec)
        if not len(valid):
            raise SynthgenError(f"column '{name}' has no value that parses; set data.columns.{name}.kind")
    col = _infer_typed(name, t, vt, arr, valid, n_unique, base, forced, max_cats)
    return col, arr


def _infer_typed(name, t, vt, arr, valid, n_unique, base, forced, max_cats) -> ColumnSchema:
    numeric = pa.types.is_integer(vt) or pa.types.is_floating(vt) or pa.types.is_decimal(vt)
    v = valid.to_numpy().astype(np.float64) if (pa.types.is_floating(vt) or pa.types.is_decimal(vt)) else None
    if v is not None and not np.isfinite(v).all():
        raise SynthgenError(f"column '{name}' holds infinite values; replace them with nulls or finite numbers")
    kind = forced or _guess_kind(name, vt, valid, n_unique, v)
    if kind == "identifier" and base.get("codec") and not forced:
        kind = "integer"  # formatted numbers ("1,234") are amounts, not keys
    if kind == "text":
        from synthgen.pii import style_of

        return ColumnSchema(**base, kind=kind, style=style_of(valid))

    if kind in ("continuous", "integer"):
        if not numeric:
            raise SynthgenError(f"column '{name}' is {t}, not numeric; set data.columns.{name}.kind=categorical")
        if v is None:  # integer type: keep exact ints (float64 would round above 2**53)
            mm = pc.min_max(valid)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
        else:
            lo, hi = float(v.min()), float(v.max())
            if kind == "integer":
                if max(abs(lo), abs(hi)) >= 2.0**63:
                    raise SynthgenError(
                        f"column '{name}' has values beyond the int64 range; set data.columns.{name}.kind=continuous"
                    )
                lo, hi = int(np.round(lo)), int(np.round(hi))
        decimals = None
        if kind == "continuous":
            decimals = 0 if v is None else _decimals(v, vt)
        return ColumnSchema(**base, kind=kind, min=lo, max=hi, decimals=decimals)
    if kind == "datetime":
        if not is_temporal_type(vt):
            raise SynthgenError(
                f"column '{name}' is {t}; datetime needs a timestamp or date column "
                f"(or set data.columns.{name}.kind=categorical)"
            )
        ints, _, unit = temporal_ints(valid)
        res = resolution_of(ints, unit)
        ints = np.floor_divide(ints, unit_ratio(res, unit))
        grid, off_grid = grid_of(ints, res)
        return ColumnSchema(
            **base,
            kind=kind,
            min=int(ints.min()),
            max=int(ints.max()),
            resolution=res,
            timezone=getattr(vt, "tz", None),
            calendar=calendar_of_days(ints) if res == "D" else None,
            grid=grid,
            off_grid=off_grid,
        )
    if kind in ("categorical", "boolean"):
        if not (is_string_type(vt) or numeric and not pa.types.is_decimal(vt) or pa.types.is_boolean(vt)):
            raise SynthgenError(
                f"column '{name}' is {t}, which cannot be {kind}; cast it to strings first "
                f"or set data.columns.{name}.kind to "
                f"{'datetime' if is_temporal_type(vt) or pa.types.is_time(vt) else 'continuous'}"
            )
        counts = pc.value_counts(valid)
        values = counts.field("values").to_pylist()
        freq = counts.field("counts").to_numpy()
        order = np.lexsort((np.arange(len(freq)), -freq))[:max_cats]  # most frequent first, then first seen
        return ColumnSchema(
            **base, kind=kind, categories=[values[i] for i in order], frequencies=[int(freq[i]) for i in order]
        )
    if kind == "identifier":
        if not (is_string_type(vt) or pa.types.is_integer(vt) or pa.types.is_floating(vt)):
            raise SynthgenError(
                f"column '{name}' is {t}; identifiers must be strings or whole numbers; "
                f"set data.columns.{name}.kind to another kind"
            )
        if v is not None and not (np.all(v == np.round(v)) and np.abs(v).max() < _INT_EXACT):
            raise SynthgenError(
                f"column '{name}' holds fractional numbers, which cannot be identifiers; "
                f"set data.columns.{name}.kind=continuous"
            )
    return ColumnSchema(**base, kind=kind)


def _guess_kind(name: str, t: pa.DataType, valid: pa.ChunkedArray, n_unique: int, v: np.ndarray | None) -> str:
    n = len(valid)
    near_unique = n >= ID_MIN_ROWS and n_unique >= ID_UNIQUE_SHARE * n
    if pa.types.is_boolean(t):
        return "boolean"
    if is_temporal_type(t):
        return "datetime"
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        whole = pa.types.is_integer(t) or (
            len(v) > 0 and bool(np.all(v == np.round(v))) and float(np.abs(v).max()) < _INT_EXACT
        )
        if not whole:
            return "continuous"
        if near_unique:
            mm = pc.min_max(valid)
            span = float(mm["max"].as_py()) - float(mm["min"].as_py()) + 1
            dense = span <= 4 * n_unique and not time_unit_name(name)  # years 1871 .. 1970 are no keys
            if id_like_name(name) or dense:  # an id-named column, or dense keys
                return "identifier"
        if n >= ID_MIN_ROWS and n_unique >= 0.5 * n and id_like_name(name):
            return "identifier"  # a person_id on two rows each is still an id
        return "integer"
    if is_string_type(t):
        if n == 0:
            return "categorical"
        mean_len = pc.mean(pc.utf8_length(valid)).as_py() or 0
        if mean_len > TEXT_MIN_MEAN_LEN and n_unique > 0.5 * n:
            return "text"
        if near_unique and mean_len <= TEXT_MIN_MEAN_LEN:
            return "identifier"
        return "categorical"
    raise SynthgenError(
        f"column '{name}' has unsupported type {t}; convert it to numbers, strings, booleans or timestamps"
    )


def time_unit_name(name: str) -> bool:
    """'year', 'YEAR', 'fiscal_year', 'Week', 'month_no' ...: a column counting time units, whose
    distinct whole numbers in a dense run (a yearly series, one row a year: statsmodels' nile and
    sunspots, lifelines' nh4 weeks) are a time axis to model, not row keys to draw afresh past the
    real range."""
    return bool(set(_name_words(name)) & TIME_UNIT_WORDS) and not id_like_name(name)


def _name_words(name: str) -> list[str]:
    """A column name's words, lower-cased: 'CustomerID' -> customer, id; 'fiscal_year' -> fiscal, year."""
    return [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))]


def id_like_name(name: str) -> bool:
    """'id', 'customer_id', 'CustomerID', 'order-key', 'uuid' ... (the last word of the name), a
    record's number ('case_number', 'CaseNo') and its one-word spellings ('pidnum', 'patid')."""
    words = _name_words(name)
    if not words:
        return False
    last = words[-1]
    numbered = len(words) > 1 and last in ID_NUMBER_WORDS and words[-2] in ID_NUMBERED_WORDS
    return last in ID_NAME_WORDS or numbered or _ONE_WORD_ID.fullmatch(last) is not None


def _decimals(v: np.ndarray, t: pa.DataType, max_decimals: int = MAX_DECIMALS) -> int | None:
    """Fewest decimals that reproduce every value, or None when more than `max_decimals` are needed.

    "Reproduce" is judged in the column's own type: float32/float16 values must round back to the
    very same value; float64 values may be off by a few ulps (0.1 + 0.2 is 0.3 with noise).
    """
    v = np.unique(v)  # fewer values to check, and it looks at all of them
    if pa.types.is_float32(t) or pa.types.is_float16(t):
        own = v.astype(np.float32 if pa.types.is_float32(t) else np.float16)
        tol = 0.5 * np.abs(np.spacing(own)).astype(np.float64)
    else:
        tol = 4 * np.abs(np.spacing(v))
    for d in range(max_decimals + 1):
        if np.all(np.abs(np.round(v, d) - v) <= tol):
            return d
    return None


def unit_ratio(coarse: str, fine: str) -> int:
    """How many `fine` units make one `coarse` unit (numpy unit names)."""
    return int(np.timedelta64(1, coarse) // np.timedelta64(1, fine))


def temporal_unit(t: pa.DataType) -> str:
    """The numpy unit of an Arrow temporal type's integer storage."""
    if pa.types.is_date32(t):
        return "D"
    if pa.types.is_date64(t):
        return "ms"
    return t.unit


def temporal_ints(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray, str]:
    """timestamp/date column -> (int64 counts of local wall-clock time, null mask, numpy unit).

    Time-zone-aware timestamps are read as local wall-clock time, so resolutions and
    distributions (midnights, office hours) are those a person in that zone sees.
    """
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    t = arr.type
    if getattr(t, "tz", None):
        arr = pc.local_timestamp(arr)
    storage = pa.int32() if pa.types.is_date32(t) else pa.int64()
    null = arr.is_null().to_numpy()
    ints = arr.cast(storage).fill_null(0).to_numpy()
    return ints.astype(np.int64, copy=False), null, temporal_unit(t)


def resolution_of(ints: np.ndarray, unit: str) -> str:
    """Coarsest unit at which all values are whole (e.g. midnight timestamps -> 'D')."""
    base = np.timedelta64(1, unit)
    for res in _RESOLUTIONS:
        step = np.timedelta64(1, res)
        if step < base:
            continue
        k = step // base
        if k >= 1 and not (ints % k).any():
            return res
    return unit


GRID_MAX_OFF = 3  # distinct values off a column's grid that the grid allows (grid_of)
GRID_MIN_ROWS = 20  # values on the grid that it takes to read one


def grid_of(ints: np.ndarray, res: str) -> tuple[str | None, list[int] | None]:
    """(unit, off-grid values) for datetimes `ints` in `res` units: the coarsest unit coarser than
    `res` at which every value is whole but at most GRID_MAX_OFF distinct ones, each seen at least
    twice and together at most half the values; (None, None) when there is none. A table of
    validity periods ends its current rows on 9999-12-31 23:59:59 and its others at midnight; a
    survival table ends its open rows on the moment it was extracted: read at the sentinel's
    resolution, every synthetic end took a random second of its day (encoders/tabular.py floors
    them to the grid and keeps the sentinels)."""
    base = np.timedelta64(1, res)
    values, counts = np.unique(ints, return_counts=True)
    for unit in _RESOLUTIONS:
        step = np.timedelta64(1, unit)
        if step <= base:
            return None, None
        off = values % (step // base) != 0
        on_rows = int(counts[~off].sum())
        if off.sum() <= GRID_MAX_OFF and (counts[off] >= 2).all() and on_rows >= max(GRID_MIN_ROWS, counts[off].sum()):
            return unit, [int(v) for v in values[off]]
    return None, None


def on_grid(values: np.ndarray, col: "ColumnSchema") -> np.ndarray:
    """int values in `col.resolution` units -> the same, floored to `col.grid` but for its off-grid values."""
    if not col.grid:
        return values
    k = np.timedelta64(1, col.grid) // np.timedelta64(1, col.resolution)
    return np.where(np.isin(values, col.off_grid or []), values, np.floor_divide(values, k) * k)


def calendar_of_days(days: np.ndarray) -> str | None:
    """Y when every day is January 1st, M when every day is the first of its month, else None.

    Monthly and yearly data (a panel of month-end prices stored as month starts, a model year) keep
    their grid in the synthetic rows: the codec counts such a column in months or years
    (encoders/columns.py), so a draw between two real values is another month start, not the 17th.
    A single day off the grid (one real row on the 15th) and the column is counted in days."""
    for unit in CALENDARS:
        if len(days) and on_calendar(days, unit).all():
            return unit
    return None


def on_calendar(days: np.ndarray, calendar: str) -> np.ndarray:
    """int64 days since 1970 -> bool per day: the first day of its month ("M") or year ("Y")."""
    return from_calendar(to_calendar(days, calendar), calendar) == days


def to_calendar(days: np.ndarray, calendar: str) -> np.ndarray:
    """int64 days since 1970-01-01 -> int64 months ("M") or years ("Y") since 1970 (floor)."""
    return np.asarray(days).astype("datetime64[D]").astype(f"datetime64[{calendar}]").astype(np.int64)


def from_calendar(counts: np.ndarray, calendar: str) -> np.ndarray:
    """int64 months or years since 1970 -> int64 days: the first day of each month or year."""
    return np.asarray(counts).astype(f"datetime64[{calendar}]").astype("datetime64[D]").astype(np.int64)


# ---- orderings between date columns -------------------------------------------------------------
RELATION_MIN_ROWS = 10  # pairs with fewer rows where both are set state no relation
RELATION_MIN_SHARE = 0.99  # B >= A in at least this share of the rows where both are set (data-entry
# slips in a real table must not hide an ordering that holds in all others)


def leans_on(deps: dict, x: str, target: str) -> bool:
    """Whether column x depends on target in {column: the columns it is written from}, directly or
    through others (a relation that would close a cycle is never added)."""
    todo, seen = [x], set()
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d == target:
                return True
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return False


def date_relations(cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray]) -> list[dict]:
    """Date columns (or times of day) that are (nearly) never before another one in the real rows, each tied to the
    nearest such earlier column: [{"column": B, "base": A, "op": ">=" | "==", "encoding"}], no
    cycles. Synthetic rows keep B >= A in every row (the real rate or better).

    Columns are visited by null count, then from the earliest median onwards; B may lean on A when
    they are not zoned timestamps of two different zones and B >= A in at least RELATION_MIN_SHARE
    of the >= RELATION_MIN_ROWS rows where both are set. Of the candidates, the one with the
    smallest median gap wins ("jail out" leans on "jail in", not on "birth date"), a column
    visited earlier before a later one; `op` is "==" when
    the gap is always 0. `encoding` is "offset" (B is modelled as A + an offset, raised to A where
    it falls below) when the gap varies less than B itself and A is set wherever B is; else "clamp"
    (B is modelled on its own and raised to A where a draw falls below it): an offset from a birth
    date would smear a screening date by the width of two bins.
    """
    dt = [c for c in cols if c.kind == "datetime" and c.name in native]
    if len(dt) < 2:
        return []
    # a time of day (modelled on 1900-01-01) is compared with other times of day only: every date
    # is "after" it, which says nothing
    clock = {c.name for c in dt if (c.codec or {}).get("time_only")}
    vals, zone = {}, {}
    for c in dt:
        ints, null, unit = temporal_ints(native[c.name])
        # local wall-clock microseconds; ns counts are floored, never multiplied by unit_ratio's 0
        us = ints // 1000 if unit == "ns" else ints * unit_ratio(unit, "us")
        vals[c.name], zone[c.name] = (us, null), getattr(native[c.name].type, "tz", None)
    # A base set wherever its dependant is has no more nulls and a median no later: visiting by null
    # count, then median, meets such bases first. A base with more nulls (visited later) can only
    # be a "clamp" one; decoding resolves bases before dependants whatever the list order.
    order = sorted(
        dt,
        key=lambda c: (int(vals[c.name][1].sum()), float(np.median(vals[c.name][0][~vals[c.name][1]])), cols.index(c)),
    )
    deps: dict[str, set[str]] = {}  # column -> every column it is raised to or offset from

    def ordered(a, b) -> tuple[float, np.ndarray] | None:  # (median gap, gap) when B >= A holds
        (va, na), (vb, nb) = vals[a.name], vals[b.name]
        # B >= A is read on wall clocks (decoding raises B to A on B's clock): two different zones'
        # clocks do not compare; a date or naive timestamp is read as the other's clock
        za, zb = zone[a.name], zone[b.name]
        both = ~na & ~nb
        if (za and zb and za != zb) or (a.name in clock) != (b.name in clock) or both.sum() < RELATION_MIN_ROWS:
            return None
        gap = (vb - va)[both]
        return (float(np.median(gap)), gap) if (gap >= 0).mean() >= RELATION_MIN_SHARE else None

    rel: dict[str, dict] = {}
    placed = []
    for b in order:
        vb, nb = vals[b.name]
        best, also = None, []
        for a in placed:
            hit = ordered(a, b)
            if hit is None:
                continue
            also.append(a.name)
            med, gap = hit
            if best is None or med < best[0]:
                na = vals[a.name][1]
                # offset: the gap varies less than B does (jail out vs jail in) and B = A + offset is
                # defined wherever B is; else B is modelled on its own and only lifted to A where it
                # falls below (screening date vs birth date)
                tight = float(np.std(gap)) < float(np.std(vb[~na & ~nb])) and not (na & ~nb).any()
                # "==" only as an offset that is always 0: a clamp keeps B >= A, not equality
                best = (med, a.name, "==" if tight and not gap.any() else ">=", "offset" if tight else "clamp")
        if best is not None:
            # every other earlier date B is (nearly) never before is a lower bound too: B is raised
            # to the latest of them (c_jail_in after both the birth date and the offense date)
            rel[b.name] = {
                "column": b.name,
                "base": best[1],
                "op": best[2],
                "encoding": best[3],
                "also": [a for a in also if a != best[1]],
            }
            deps[b.name] = set(also)
        # and B bounds the earlier dates that are never before it (a base with more nulls than its
        # dependant is visited after it: the offense date, missing where the jail-in date is not)
        for p in placed:
            if ordered(b, p) is None or leans_on(deps, b.name, p.name):
                continue
            if p.name in rel:
                rel[p.name]["also"].append(b.name)
            else:
                rel[p.name] = {"column": p.name, "base": b.name, "op": ">=", "encoding": "clamp", "also": []}
            deps.setdefault(p.name, set()).add(b.name)
        placed.append(b)
    return [rel[c.name] for c in order if c.name in rel]


# ---- orderings between number columns -----------------------------------------------------------
def numeric_values(arr) -> np.ndarray:
    """A number column (Arrow) -> float64 values, NaN where null."""
    arr = plain_values(pa.chunked_array([arr]) if isinstance(arr, pa.Array) else arr)
    return arr.cast(pa.float64(), safe=False).fill_null(float("nan")).to_numpy()


ORDER_MIN_CHANCE = 0.15  # an ordering two independent draws would break at least this often


def _below_chance(va: np.ndarray, vb: np.ndarray) -> float:
    """P(B < A) for A and B drawn independently from the rows where both are set: how often the
    ordering would fail if nothing tied the two columns together (read where both are set: planes'
    seats span 2-450 and its speeds 90-432, but the few planes with a speed seat 2-11)."""
    a, b = va[~np.isnan(va)], np.sort(vb[~np.isnan(vb)])
    return float(np.searchsorted(b, a, "left").mean() / len(b)) if len(a) and len(b) else 0.0


def ordered_pairs(values: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """(A, B) for each pair of number columns with B >= A in at least RELATION_MIN_SHARE of the
    >= RELATION_MIN_ROWS rows where both are set (values: float64, NaN for null), in the order of
    `values`: a day's high and its low, a maximum and a minimum temperature, a dew point and the
    temperature. Only orderings that independent draws from the two columns would break in at
    least ORDER_MIN_CHANCE of pairs (read where both are set): on the suite's tables that keeps
    temp_min <= temp_max (seattle_weather, 0.18), dewp <= temp (nyc_weather, 0.30), one pixel pair
    of digits (0.16) and vega's open/high/low/close (0.30-0.40), and leaves out orderings that only
    follow from two scales (horsepower above miles per gallon, 0.00; temperature above the hour of
    day, 0.00; digits' other 485 pixel pairs, at most 0.085). Pairs that are (nearly) always equal
    (an order each way) are left out."""
    names = list(values)
    out = []
    for i, a in enumerate(names):
        va = values[a]
        for b in names[i + 1 :]:
            vb = values[b]
            both = ~np.isnan(va) & ~np.isnan(vb)
            if both.sum() < RELATION_MIN_ROWS:
                continue
            x, y = va[both], vb[both]
            up, down = (y >= x).mean() >= RELATION_MIN_SHARE, (x >= y).mean() >= RELATION_MIN_SHARE
            if up and not down and _below_chance(x, y) >= ORDER_MIN_CHANCE:
                out.append((a, b))
            elif down and not up and _below_chance(y, x) >= ORDER_MIN_CHANCE:
                out.append((b, a))
    return out


def value_orders(cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray], tied: set[str]) -> list[dict]:
    """Number columns that are (nearly) never below another one in the real rows (ordered_pairs):
    [{"column": B, "at_least": [A, ...]}], each B after the columns it leans on. A synthetic B is
    raised to the largest of its A where a draw falls below (encoders/tabular.py), so the ordering
    holds in every synthetic row where both are set, as the date orderings do. A pair that would
    close a cycle is left out; integer columns written from dates (`tied`: ages, spans, durations)
    take no part."""
    nums = _rule_numbers(cols, native, tied)
    if len(nums) < 2:
        return []
    values = {c.name: numeric_values(native[c.name]) for c in nums}
    rank = {name: i for i, name in enumerate(values)}  # bounds listed in the table's order
    deps: dict[str, set[str]] = {}
    for a, b in ordered_pairs(values):
        if not leans_on(deps, a, b):
            deps.setdefault(b, set()).add(a)
    done, out = set(), []

    def place(b: str) -> None:  # bounds first (depth-first over an acyclic graph)
        if b in done:
            return
        done.add(b)
        bounds = sorted(deps.get(b, ()), key=rank.get)
        for a in bounds:
            place(a)
        if bounds:
            out.append({"column": b, "at_least": bounds})

    for name in values:
        place(name)
    return out


def _rule_numbers(cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray], tied: set[str]) -> list[ColumnSchema]:
    """The number columns a rule between numbers may take (sums, products, conversions): of two
    values or more, not written by another rule (`tied`)."""
    return [
        c
        for c in cols
        if c.kind in ("continuous", "integer") and c.name in native and c.name not in tied and c.n_unique > 1
    ]


def value_sums(cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray], tied: set[str]) -> list[dict]:
    """Number columns that are the sum of others in (nearly) every real row (synthgen/sums.py),
    whose synthetic values the encoder writes as that sum; columns written from dates (`tied`)
    take no part."""
    from synthgen.sums import find_sums

    nums = _rule_numbers(cols, native, tied)
    return find_sums({c.name: numeric_values(native[c.name]) for c in nums}) if len(nums) >= 3 else []


def value_date_parts(
    cols: list[ColumnSchema], table: pa.Table, native: dict[str, pa.ChunkedArray], skip: set[str]
) -> list[dict]:
    """Integer or categorical columns that are a part of a date column (its year, month, weekday ...)
    in (nearly) every real row (synthgen/date_parts.py), whose synthetic values the encoder writes
    from that date's; columns in `skip` (written by another rule, an entity's) take no part."""
    import pandas as pd

    from synthgen.date_parts import find_date_parts

    dates = {}
    for c in cols:
        if c.kind == "datetime" and c.name in native and c.name not in skip and not (c.codec or {}).get("time_only"):
            vals, null, unit = temporal_ints(native[c.name])
            dates[c.name] = np.where(null, np.datetime64("NaT"), vals.astype(f"datetime64[{unit}]"))
    parts = {}
    for c in cols:
        if c.name in skip or c.kind not in ("integer", "categorical") or (c.kind == "categorical" and c.codec):
            continue
        if c.kind == "integer" and c.name in native:
            parts[c.name] = pd.Series(native[c.name].to_pandas(), dtype="float64")
        elif c.kind == "categorical":
            parts[c.name] = pd.Series(table.column(c.name).to_pandas(), dtype=object)
    return find_date_parts(dates, parts) if dates and parts else []


def value_bands(
    cols: list[ColumnSchema], table: pa.Table, native: dict[str, pa.ChunkedArray], not_bands: set[str], not_by: set[str]
) -> list[dict]:
    """Category columns that are the band a number column falls in, in (nearly) every real row
    (synthgen/bands.py), whose synthetic values the encoder writes from that number's; the numbers
    a lookup writes from (whole numbers of at most dependencies.MAX_INTEGER_KEY_LEVELS values) are
    left to the lookups. `not_bands`: columns another rule writes or reads as a key; `not_by`: columns
    that cannot be the number (an entity's)."""
    import pandas as pd

    from synthgen.bands import find_bands

    cats = {
        c.name: pd.Series(table.column(c.name).to_pandas(), dtype=object)
        for c in cols
        if c.kind in ("categorical", "boolean") and c.categories and not c.codec and c.name not in not_bands
    }
    nums = {
        c.name: numeric_values(native[c.name])
        for c in cols
        if c.name in native
        and c.name not in not_by
        and (
            c.kind == "continuous" or (c.kind == "integer" and (c.n_unique or 0) > dependencies.MAX_INTEGER_KEY_LEVELS)
        )
    }
    return find_bands(cats, nums) if cats and nums else []


def value_products(cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray], tied: set[str]) -> list[dict]:
    """Number columns that are the product of two others in (nearly) every real row
    (synthgen/products.py), whose synthetic values the encoder writes as that product; columns
    written from dates or from another column (`tied`) take no part."""
    from synthgen.products import find_products

    nums = _rule_numbers(cols, native, tied)
    return find_products({c.name: numeric_values(native[c.name]) for c in nums}) if len(nums) >= 3 else []


def value_conversions(cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray], tied: set[str]) -> list[dict]:
    """Number columns that are a monotone function of another in (nearly) every real row
    (synthgen/conversions.py), whose synthetic values the encoder writes from their key's; columns
    written from dates (`tied`) take no part."""
    from synthgen.conversions import find_conversions

    nums = _rule_numbers(cols, native, tied)
    return find_conversions({c.name: numeric_values(native[c.name]) for c in nums}) if len(nums) >= 2 else []


# ---- ages and durations: an integer column tied to date columns -----------------------------------
def day_numbers(
    cols: list[ColumnSchema], native: dict[str, pa.ChunkedArray]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """(date columns as (int64 days, null mask), integer columns as (int64 values, null mask)): what
    synthgen/ages.py and synthgen/durations.py read. Time-only columns are not dates here."""
    dates, ints = {}, {}
    for c in cols:
        if c.name not in native:
            continue
        if c.kind == "datetime" and not (c.codec or {}).get("time_only"):
            vals, null, unit = temporal_ints(native[c.name])
            dates[c.name] = (vals // unit_ratio("D", unit) if unit != "D" else vals, null)
        elif c.kind == "integer":
            arr = native[c.name]
            null = arr.is_null().to_numpy(zero_copy_only=False)
            # unsafe cast: values beyond 2**53 lose precision here and the column is dropped below
            vals = arr.cast(pa.float64(), safe=False).fill_null(0).to_numpy(zero_copy_only=False)
            if np.abs(vals).max(initial=0) < _INT_EXACT:
                ints[c.name] = (vals.astype(np.int64), null)
    return dates, ints


def durations_of(dates: dict, ints: dict, taken: list[dict]) -> list[dict]:
    """synthgen/durations.py's durations (a count that is an age or a span is not one), fixed days
    as ISO dates."""
    from synthgen.durations import find_durations

    if not dates or not ints:
        return []
    found = find_durations(dates, ints, skip={a["column"] for a in taken})
    return [{**d, "day": str(np.datetime64(d["day"], "D"))} for d in found]


def _without_bound(relations: list[dict], column: str, bound: str) -> list[dict]:
    """The relations with `bound` taken out of `column`'s lower bounds (a relation left with none
    goes; where `bound` was the base, the next bound becomes a clamp base)."""
    kept = []
    for r in relations:
        if r["column"] == column:
            bounds = [x for x in (r["base"], *r.get("also", [])) if x != bound]
            if not bounds:
                continue
            if bounds[0] != r["base"]:
                r = {**r, "base": bounds[0], "op": ">=", "encoding": "clamp"}
            r = {**r, "also": bounds[1:]}
        kept.append(r)
    return kept


def _bound_between(relations: list[dict], d: str, o: str) -> bool:
    """Whether D is modelled as an offset from a date C (C != O) that has O among its own lower
    bounds: O <= C <= D in the real rows."""
    rel = {r["column"]: r for r in relations}
    r = rel.get(d)
    if r is None or r.get("encoding", "offset") != "offset" or r["base"] == o:
        return False
    c = rel.get(r["base"])
    return c is not None and o in (c["base"], *c.get("also", []))


def spans_and_relations(
    dates: dict, ints: dict, relations: list[dict], ages: list[dict]
) -> tuple[list[dict], list[dict]]:
    """(date relations, spans): synthgen/durations.py's spans that can be written without a cycle,
    and the date relations that still apply.

    A span's derived date D is written from the other date O and the count, after O, so O must not
    lean on D: D leaves O's lower bounds (the real ordering between them is the count's sign). D's
    own bounds stay and are applied after it is written. A span whose O still leans on D (through
    other relations, ages or spans), or whose D is already a birth date, is not kept.

    Where the end date D is modelled as an offset from a date C that itself never precedes the
    start O (O <= C <= D: a recurrence between diagnosis and death), the count is derived instead
    (`derived` names the count): D keeps its offset from C, whose ties (D == C, a censored follow-up
    ending on the recurrence date) the model draws with the rest of the row, and the count is
    written as D - O. Drawn as a count and raised to C, D met C only where the raise clamped it
    (lifelines' lymph_node: 54 % of the rows without a recurrence had another recurrence date).
    """
    from synthgen.durations import find_spans

    if len(dates) < 2 or not ints:
        return relations, []
    born = {a["born"] for a in ages}
    deps = {a["born"]: {a["at"]} for a in ages if a["at"]}  # ages and kept spans: written from
    spans = []
    for sp in find_spans(dates, ints, skip={a["column"] for a in ages}):
        d = sp["derived"]
        o = sp["end"] if d == sp["start"] else sp["start"]
        if d in born:
            continue
        if d == sp["end"] and _bound_between(relations, d, o):
            spans.append({**sp, "derived": sp["column"]})
            continue
        kept = _without_bound(relations, o, d)
        graph = {r["column"]: set((r["base"], *r.get("also", []))) for r in kept}
        for k, v in deps.items():
            graph.setdefault(k, set()).update(v)
        if leans_on(graph, o, d):
            continue
        relations = kept
        deps.setdefault(d, set()).add(o)
        spans.append(sp)
    return relations, spans


def ages_and_relations(dates: dict, ints: dict, relations: list[dict]) -> tuple[list[dict], list[dict]]:
    """(date relations, ages): the age relations of synthgen/ages.py, and the date relations that
    still apply once each age's birth date is written from its age and later date. `dates` and
    `ints` as day_numbers gives them.

    The birth date A of an age (N, A, B) is decoded after B, so B must not lean on A through date
    relations; B >= A itself is implied by N >= 0, so a relation "B >= A" is dropped, and so is A's
    own relation (A now comes from B and N). Relations on A (a date that is never before the birth
    date) stay: they are applied after A is written.
    """
    from synthgen.ages import find_age_relations

    if len(dates) < 2 or not ints:
        return relations, []

    ages = []
    for age in find_age_relations(dates, ints):
        a, b = age["born"], age["at"]
        if any(x["born"] == b for x in ages):
            continue
        # A is written from B and N: it leans on nothing; B >= A is implied
        kept = _without_bound([r for r in relations if r["column"] != a], b, a)
        if b is not None and leans_on(
            {r["column"]: (r["base"], *r.get("also", [])) for r in kept}, b, a
        ):  # B would be decoded after A, which needs B first
            continue
        relations = kept
        if age["day"] is not None:
            age["day"] = str(np.datetime64(age["day"], "D"))  # ISO in schema.json (ages.day_number)
        ages.append(age)
    return relations, ages
