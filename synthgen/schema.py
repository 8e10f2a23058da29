"""Column kinds and the table schema: inferred once in `prepare`, saved as JSON with the run.

The schema keeps the input's exact Arrow schema (IPC bytes, base64) so every synthetic table
comes back with the same columns, order and Arrow types.

Kinds, and how `infer_schema` guesses them (`data.columns.<name>.kind=...` overrides the guess):

- boolean: Arrow bool. (String booleans such as "yes"/"no" stay categorical, which is equivalent.)
- datetime: timestamp (any unit, with or without time zone), date32, date64. The domain is kept
  in *local wall-clock* units at the coarsest resolution at which every value is whole, so
  local-midnight dates in Europe/Paris are day-resolution, not "hours since UTC".
- identifier: near-unique keys (>= 95% distinct among >= 50 values): strings up to 40
  characters, or whole numbers that are dense (sequential-like) or sit in an id-named column
  ("id", "customer_id", "OrderKey", ...). Generated afresh, never modelled.
- integer: integer types, and float columns whose values are all whole (pandas' int-with-NaN).
- continuous: other numbers; `decimals` is the fewest decimals that reproduce every value
  (None when no precision up to 6 does).
- text: strings averaging more than 40 characters with many distinct values; dropped.
- categorical: the remaining strings (and any column forced to it).

Float NaN counts as null everywhere (the readers turn it into null).
"""
from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.errors import SynthgenError

KINDS = ("continuous", "integer", "categorical", "boolean", "datetime", "identifier", "text")
NUMERIC_KINDS = ("continuous", "integer", "datetime")
# Datetime resolutions, coarsest first, as numpy units.
_RESOLUTIONS = ("D", "h", "m", "s", "ms", "us", "ns")
MAX_DECIMALS = 6
ID_MIN_ROWS = 50  # fewer valid values than this: never guess "identifier"
ID_UNIQUE_SHARE = 0.95  # near-unique: at least this share of the valid values are distinct
ID_NAME_WORDS = {"id", "key", "uuid", "guid", "pk"}
TEXT_MIN_MEAN_LEN = 40
_INT_EXACT = 2.0 ** 53  # floats above this are not reliably whole numbers


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
    categories: list | None = None  # categorical/boolean: values, most frequent first
    frequencies: list[int] | None = None


@dataclass
class TableSchema:
    columns: list[ColumnSchema]
    n_rows: int
    arrow_schema_b64: str = field(repr=False)

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
def infer_schema(table: pa.Table, overrides: dict | None = None, max_stored_categories: int = 100_000,
                 source: str = "input table") -> TableSchema:
    """Infer kind, null share and domain of each column.

    `overrides` maps column -> {"kind": ...} (or the kind as a plain string). The table is
    validated first (`synthgen.io.validate_table`), so every error names the column and the fix.
    """
    from synthgen.io import validate_table

    validate_table(table, source)
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(table.column_names))
    if unknown:
        raise SynthgenError(
            f"data.columns names unknown column(s) {unknown}; the table has: {', '.join(table.column_names)}"
        )
    cols = []
    for name in table.column_names:
        cols.append(_infer_column(name, table.column(name), _forced_kind(name, overrides.get(name)),
                                  len(table), max_stored_categories))
    sink = table.schema.serialize()
    return TableSchema(columns=cols, n_rows=len(table), arrow_schema_b64=base64.b64encode(sink.to_pybytes()).decode())


def _forced_kind(name: str, ov) -> str | None:
    if ov is None:
        return None
    if isinstance(ov, str):
        ov = {"kind": ov}
    if not isinstance(ov, dict):
        raise SynthgenError(f"data.columns.{name} must be a mapping such as {{kind: categorical}}, not {ov!r}")
    extra = sorted(set(ov) - {"kind"})
    if extra:
        raise SynthgenError(f"data.columns.{name}.{extra[0]} is not a column setting; the only one is 'kind'")
    forced = ov.get("kind")
    if forced is not None and forced not in KINDS:
        raise SynthgenError(f"data.columns.{name}.kind='{forced}' is not a kind; use one of {', '.join(KINDS)}")
    return forced


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


def _infer_column(name: str, arr: pa.ChunkedArray, forced: str | None, n_rows: int, max_cats: int) -> ColumnSchema:
    t = arr.type
    arr = plain_values(arr)
    vt = arr.type  # value type (dictionaries decoded)
    null_share = arr.null_count / max(n_rows, 1)
    valid = arr.drop_null()
    n_unique = len(pc.unique(valid)) if len(valid) else 0
    base = dict(name=name, arrow_type=str(t), null_share=float(null_share), n_unique=int(n_unique))
    numeric = pa.types.is_integer(vt) or pa.types.is_floating(vt) or pa.types.is_decimal(vt)
    v = valid.to_numpy().astype(np.float64) if (pa.types.is_floating(vt) or pa.types.is_decimal(vt)) else None
    if v is not None and not np.isfinite(v).all():
        raise SynthgenError(f"column '{name}' holds infinite values; replace them with nulls or finite numbers")
    kind = forced or _guess_kind(name, vt, valid, n_unique, v)

    if kind in ("continuous", "integer"):
        if not numeric:
            raise SynthgenError(f"column '{name}' is {t}, not numeric; set data.columns.{name}.kind=categorical")
        if v is None:  # integer type: keep exact ints (float64 would round above 2**53)
            mm = pc.min_max(valid)
            lo, hi = mm["min"].as_py(), mm["max"].as_py()
        else:
            lo, hi = float(v.min()), float(v.max())
            if kind == "integer":
                if max(abs(lo), abs(hi)) >= 2.0 ** 63:
                    raise SynthgenError(f"column '{name}' has values beyond the int64 range; "
                                        f"set data.columns.{name}.kind=continuous")
                lo, hi = int(np.round(lo)), int(np.round(hi))
        decimals = None
        if kind == "continuous":
            decimals = 0 if v is None else _decimals(v, vt)
        return ColumnSchema(**base, kind=kind, min=lo, max=hi, decimals=decimals)
    if kind == "datetime":
        if not is_temporal_type(vt):
            raise SynthgenError(f"column '{name}' is {t}; datetime needs a timestamp or date column "
                                f"(or set data.columns.{name}.kind=categorical)")
        ints, _, unit = temporal_ints(valid)
        res = _resolution(ints, unit)
        ints = np.floor_divide(ints, unit_ratio(res, unit))
        return ColumnSchema(**base, kind=kind, min=int(ints.min()), max=int(ints.max()), resolution=res,
                            timezone=getattr(vt, "tz", None))
    if kind in ("categorical", "boolean"):
        if not (is_string_type(vt) or numeric and not pa.types.is_decimal(vt) or pa.types.is_boolean(vt)):
            raise SynthgenError(f"column '{name}' is {t}, which cannot be {kind}; cast it to strings first "
                                f"or set data.columns.{name}.kind to "
                                f"{'datetime' if is_temporal_type(vt) else 'continuous'}")
        counts = pc.value_counts(valid)
        values = counts.field("values").to_pylist()
        freq = counts.field("counts").to_numpy()
        order = np.lexsort((np.arange(len(freq)), -freq))[:max_cats]  # most frequent first, then first seen
        return ColumnSchema(**base, kind=kind, categories=[values[i] for i in order],
                            frequencies=[int(freq[i]) for i in order])
    if kind == "identifier":
        if not (is_string_type(vt) or pa.types.is_integer(vt) or pa.types.is_floating(vt)):
            raise SynthgenError(f"column '{name}' is {t}; identifiers must be strings or whole numbers; "
                                f"set data.columns.{name}.kind to another kind")
        if v is not None and not (np.all(v == np.round(v)) and np.abs(v).max() < _INT_EXACT):
            raise SynthgenError(f"column '{name}' holds fractional numbers, which cannot be identifiers; "
                                f"set data.columns.{name}.kind=continuous")
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
            len(v) > 0 and bool(np.all(v == np.round(v))) and float(np.abs(v).max()) < _INT_EXACT)
        if not whole:
            return "continuous"
        if near_unique:
            mm = pc.min_max(valid)
            span = float(mm["max"].as_py()) - float(mm["min"].as_py()) + 1
            if _id_like_name(name) or span <= 4 * n_unique:  # an id-named column, or dense keys
                return "identifier"
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
    raise SynthgenError(f"column '{name}' has unsupported type {t}; convert it to numbers, strings, booleans "
                        f"or timestamps")


def _id_like_name(name: str) -> bool:
    """'id', 'customer_id', 'CustomerID', 'order-key', 'uuid' ... (the last word of the name)."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", str(name))
    return bool(words) and words[-1].lower() in ID_NAME_WORDS


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


def _resolution(ints: np.ndarray, unit: str) -> str:
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
