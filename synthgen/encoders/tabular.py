"""TabularEncoder: a table <-> int64 tokens [n_rows, n_modelled_columns], state as JSON.

Identifier columns are not modelled: they are generated as fresh unique keys in the real format.
Free-text columns are dropped with a warning (strategy "drop"), never copied from real rows.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa

from synthgen.encoders.columns import CategoryCodec, NumericCodec
from synthgen.encoders.layout import TokenLayout
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_text
from synthgen.schema import NUMERIC_KINDS, TableSchema

STATE_VERSION = 1


class TabularEncoder:
    def __init__(self, schema: TableSchema, codecs: dict, id_formats: dict, settings: dict):
        self.schema = schema
        self.codecs = codecs  # modelled column -> codec, in table order
        self.id_formats = id_formats  # identifier column -> {"prefix", "width", "start"}
        self.settings = settings
        self.layout = TokenLayout(tuple(codecs), tuple(c.cardinality for c in codecs.values()))

    # ---- fitting -----------------------------------------------------------------------------
    @classmethod
    def fit(cls, table: pa.Table, schema: TableSchema, n_bins: int = 100, max_categories: int = 1000,
            rare_min_count: int = 1, text_strategy: str = "drop") -> "TabularEncoder":
        if text_strategy != "drop":
            raise SynthgenError(f"encoder.text_strategy='{text_strategy}' is unknown; use 'drop'")
        codecs, ids = {}, {}
        for col in schema.columns:
            arr = table.column(col.name)
            if col.kind in NUMERIC_KINDS:
                codecs[col.name] = NumericCodec.fit(col, arr, n_bins)
            elif col.kind in ("categorical", "boolean"):
                codecs[col.name] = CategoryCodec.fit(col, arr, max_categories, rare_min_count)
            elif col.kind == "identifier":
                ids[col.name] = _id_format(col.name, arr)
            else:
                warnings.warn(f"column '{col.name}' is free text: it is dropped from the synthetic table "
                              f"(set data.columns.{col.name}.kind=categorical to model it)", stacklevel=2)
        settings = dict(n_bins=n_bins, max_categories=max_categories, rare_min_count=rare_min_count,
                        text_strategy=text_strategy)
        return cls(schema, codecs, ids, settings)

    # ---- state ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"version": STATE_VERSION, "settings": self.settings, "layout": self.layout.to_dict(),
                "identifiers": self.id_formats, "codecs": {n: c.state() for n, c in self.codecs.items()},
                "schema": json.loads(self.schema.to_json())}

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: Path) -> "TabularEncoder":
        path = Path(path)
        if not path.exists():
            raise SynthgenError(f"encoder state not found: {path}; run `synthgen encode` first")
        d = json.loads(path.read_text())
        schema = TableSchema.load_dict(d["schema"])
        codecs = {}
        for name, s in d["codecs"].items():
            col = schema.column(name)
            codec_cls = NumericCodec if col.kind in NUMERIC_KINDS else CategoryCodec
            codecs[name] = codec_cls.from_state(col, s)
        return cls(schema, codecs, d["identifiers"], d["settings"])

    # ---- transform -----------------------------------------------------------------------------
    def encode(self, table: pa.Table) -> np.ndarray:
        """Arrow table -> int64 tokens [n_rows, n_modelled_columns]."""
        missing = [n for n in self.codecs if n not in table.column_names]
        if missing:
            raise SynthgenError(f"table lacks column(s) {missing} that the encoder was fitted on")
        return np.stack([c.encode(table.column(n)) for n, c in self.codecs.items()], axis=1) \
            if self.codecs else np.zeros((len(table), 0), dtype=np.int64)

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, row_offset: int = 0) -> pa.Table:
        """int tokens [n, n_modelled_columns] -> Arrow table with the input's columns and types.

        `row_offset` is the index of the first row in the whole output: identifier keys are
        numbered from it, so chunks decoded separately still give globally unique keys.
        """
        n = len(tokens)
        schema = self.schema.arrow_schema
        arrays, fields = [], []
        j = {name: i for i, name in enumerate(self.codecs)}
        for field in schema:
            name = field.name
            if name in self.codecs:
                codec = self.codecs[name]
                values, null = codec.decode(np.asarray(tokens[:, j[name]], dtype=np.int64), rng)
                arrays.append(codec.to_arrow(values, null, field.type))
            elif name in self.id_formats:
                arrays.append(_make_ids(self.id_formats[name], n, row_offset, field.type))
            else:
                continue  # dropped free-text column
            fields.append(field)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema.metadata))

    def condition_tokens(self, condition: dict) -> dict[int, int]:
        """{column: value} -> {token column index: token}; one-line errors for what cannot be met."""
        out = {}
        idx = {name: i for i, name in enumerate(self.codecs)}
        for name, value in condition.items():
            if name not in idx:
                kind = self.schema.column(name).kind  # raises for an unknown column
                raise SynthgenError(f"cannot condition on '{name}': it is a {kind} column, which is not modelled")
            out[idx[name]] = self.codecs[name].token_of(value)
        return out


def _id_format(name: str, arr: pa.ChunkedArray) -> dict:
    """Learn the key format: integers count up from max+1; strings keep a shared prefix and width."""
    valid = arr.drop_null()
    if pa.types.is_integer(arr.type):
        return {"type": "int", "start": int(pa.compute.max(valid).as_py()) + 1}
    values = valid.to_pylist()
    m = [re.fullmatch(r"(.*?)(\d+)", str(v)) for v in values[:100_000]]
    if m and all(m) and len({x.group(1) for x in m}) == 1:
        width = max(len(x.group(2)) for x in m)
        start = max(int(x.group(2)) for x in m) + 1
        return {"type": "str", "prefix": m[0].group(1), "width": width, "start": start}
    return {"type": "str", "prefix": f"{name}-syn-", "width": 9, "start": 0}


def _make_ids(fmt: dict, n: int, row_offset: int, typ: pa.DataType) -> pa.Array:
    nums = np.arange(fmt["start"] + row_offset, fmt["start"] + row_offset + n, dtype=np.int64)
    if fmt["type"] == "int":
        return pa.array(nums).cast(typ)
    digits = pa.compute.utf8_lpad(pa.array(nums).cast(pa.string()), width=fmt["width"], padding="0")
    return pa.compute.binary_join_element_wise(pa.scalar(fmt["prefix"]), digits, "").cast(typ)
