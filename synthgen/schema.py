"""Column kinds and the table schema: inferred once in `prepare`, saved as JSON with the run.

The schema keeps the input's exact Arrow schema (IPC bytes, base64) so every synthetic table
comes back with the same columns, order and Arrow types.
"""
from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen.errors import SynthgenError

KINDS = ("continuous", "integer", "categorical", "boolean", "datetime", "identifier", "text")
NUMERIC_KINDS = ("continuous", "integer", "datetime")
# Datetime resolutions, coarsest first, as numpy units.
_RESOLUTIONS = ("D", "h", "m", "s", "ms", "us", "ns")


@dataclass
class ColumnSchema:
    name: str
    kind: str
    arrow_type: str
    null_share: float
    n_unique: int
    min: float | None = None  # numbers; datetimes as integers in `resolution` units
    max: float | None = None
    decimals: int | None = None  # continuous: decimal places seen (<= 6)
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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, default=_json_default)

    def save(self, path: Path) -> None:
        from synthgen.io import atomic_write_text

        atomic_write_text(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "TableSchema":
        path = Path(path)
        if not path.exists():
            raise SynthgenError(f"schema not found: {path}; run `synthgen prepare` first")
        return cls.load_dict(json.loads(path.read_text()))

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


def infer_schema(table: pa.Table, overrides: dict | None = None, max_stored_categories: int = 100_000) -> TableSchema:
    """Infer kind, null share and domain of each column. `overrides` maps column -> {kind: ...}."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(table.column_names))
    if unknown:
        raise SynthgenError(
            f"data.columns names unknown column(s) {unknown}; the table has: {', '.join(table.column_names)}"
        )
    cols = []
    for name in table.column_names:
        arr = table.column(name)
        forced = (overrides.get(name) or {}).get("kind")
        if forced is not None and forced not in KINDS:
            raise SynthgenError(f"data.columns.{name}.kind='{forced}' is not a kind; use one of {', '.join(KINDS)}")
        cols.append(_infer_column(name, arr, forced, len(table), max_stored_categories))
    sink = table.schema.serialize()
    return TableSchema(columns=cols, n_rows=len(table), arrow_schema_b64=base64.b64encode(sink.to_pybytes()).decode())


def _infer_column(name: str, arr: pa.ChunkedArray, forced: str | None, n_rows: int, max_cats: int) -> ColumnSchema:
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
    null_share = arr.null_count / max(n_rows, 1)
    valid = arr.drop_null()
    n_unique = len(pa.compute.unique(valid)) if len(valid) else 0
    base = dict(name=name, arrow_type=str(t), null_share=float(null_share), n_unique=int(n_unique))
    kind = forced or _guess_kind(arr.type, valid, n_unique)
    if kind in ("continuous", "integer"):
        if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type)):
            raise SynthgenError(f"column '{name}' is {t}, not numeric; set data.columns.{name}.kind=categorical")
        v = valid.to_numpy().astype(np.float64)
        if kind == "continuous" and not np.isfinite(v).all():
            raise SynthgenError(f"column '{name}' holds infinite values; replace them with nulls or finite numbers")
        return ColumnSchema(**base, kind=kind, min=float(v.min()), max=float(v.max()),
                            decimals=_decimals(v) if kind == "continuous" else 0)
    if kind == "datetime":
        if not (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)):
            raise SynthgenError(f"column '{name}' is {t}; datetime needs a timestamp or date column")
        ints, unit = datetime_to_int(valid.to_numpy(zero_copy_only=False))
        res = _resolution(ints, unit)
        scale = np.timedelta64(1, res) // np.timedelta64(1, unit)
        ints = ints // scale
        tz = getattr(arr.type, "tz", None)
        return ColumnSchema(**base, kind=kind, min=float(ints.min()), max=float(ints.max()), resolution=res, timezone=tz)
    if kind in ("categorical", "boolean"):
        counts = pa.compute.value_counts(valid).to_pylist()
        counts.sort(key=lambda d: (-d["counts"], str(d["values"])))
        counts = counts[:max_cats]
        return ColumnSchema(**base, kind=kind, categories=[_plain(d["values"]) for d in counts],
                            frequencies=[int(d["counts"]) for d in counts])
    return ColumnSchema(**base, kind=kind)


def _plain(v):
    """Category values as JSON-able plain Python (strings, ints, floats, bools)."""
    if isinstance(v, (bytes, bytearray)):
        raise SynthgenError("binary values are not supported as categories")
    return v


def _guess_kind(t: pa.DataType, valid: pa.ChunkedArray, n_unique: int) -> str:
    n = len(valid)
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        return "datetime"
    if pa.types.is_integer(t):
        # Integer keys: all distinct and many of them.
        return "identifier" if n >= 50 and n_unique == n else "integer"
    if pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "continuous"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        if n == 0:
            return "categorical"
        mean_len = pa.compute.mean(pa.compute.utf8_length(valid)).as_py() or 0
        if n >= 50 and n_unique == n and mean_len <= 40:
            return "identifier"
        if mean_len > 40 and n_unique > 0.5 * n:
            return "text"
        return "categorical"
    raise SynthgenError(f"unsupported Arrow type {t}; convert the column to numbers, strings, booleans or timestamps")


def _decimals(v: np.ndarray, max_decimals: int = 6) -> int:
    """Fewest decimals that reproduce a sample of the values exactly (to 1e-9 relative)."""
    s = v[: 10_000]
    for d in range(max_decimals + 1):
        if np.allclose(np.round(s, d), s, rtol=1e-9, atol=0):
            return d
    return max_decimals


def datetime_to_int(values: np.ndarray) -> tuple[np.ndarray, str]:
    """datetime64/date values -> (int64 counts, numpy unit)."""
    v = np.asarray(values)
    if v.dtype == object:  # python dates from date32
        v = v.astype("datetime64[D]")
    unit = np.datetime_data(v.dtype)[0]
    return v.astype(np.int64), unit


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
