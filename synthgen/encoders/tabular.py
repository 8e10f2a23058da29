"""TabularEncoder: a table <-> int64 tokens [n_rows, n_modelled_columns], state as JSON.

Identifier columns are not modelled: they are generated as fresh unique keys in the real format
(never a real key). Free-text columns are dropped with a warning (strategy "drop"), never copied
from real rows: the decoded table has every other column of the input, in order, with its type.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.encoders.columns import CategoryCodec, NumericCodec
from synthgen.encoders.layout import TokenLayout
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_text, read_encoder_state
from synthgen.schema import NUMERIC_KINDS, TableSchema, plain_values

STATE_VERSION = 2
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


class TabularEncoder:
    def __init__(self, schema: TableSchema, codecs: dict, id_formats: dict, settings: dict):
        self.schema = schema
        self.codecs = codecs  # modelled column -> codec, in table order
        self.id_formats = id_formats  # identifier column -> key format (see _id_format)
        self.settings = settings
        self.layout = TokenLayout(tuple(codecs), tuple(c.cardinality for c in codecs.values()))
        self._cards = np.array(self.layout.cardinalities, dtype=np.int64)

    # ---- fitting -----------------------------------------------------------------------------
    @classmethod
    def fit(cls, table: pa.Table, schema: TableSchema, n_bins: int = 100, max_categories: int = 1000,
            rare_min_count: int = 1, text_strategy: str = "drop") -> "TabularEncoder":
        """Fit one codec per modelled column. Free-text columns are dropped with a warning."""
        if text_strategy != "drop":
            raise SynthgenError(f"encoder.text_strategy='{text_strategy}' is unknown; use 'drop'")
        for key, v, lo in (("n_bins", n_bins, 2), ("max_categories", max_categories, 1),
                           ("rare_min_count", rare_min_count, 1)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise SynthgenError(f"encoder.{key}={v!r} must be an integer of at least {lo}")
        missing = [n for n in schema.names if n not in table.column_names]
        if missing:
            raise SynthgenError(f"table lacks column(s) {missing} of the schema; rerun `synthgen prepare`")
        types = {f.name: f.type for f in schema.arrow_schema}
        codecs, ids = {}, {}
        for col in schema.columns:
            arr = table.column(col.name)
            if col.kind in NUMERIC_KINDS:
                codecs[col.name] = NumericCodec.fit(col, arr, n_bins)
            elif col.kind in ("categorical", "boolean"):
                codecs[col.name] = CategoryCodec.fit(col, arr, max_categories, rare_min_count)
            elif col.kind == "identifier":
                ids[col.name] = _id_format(col.name, arr, types[col.name])
            else:
                warnings.warn(f"column '{col.name}' is free text: it is dropped from the synthetic table "
                              f"(set data.columns.{col.name}.kind=categorical to model it)", stacklevel=2)
        settings = dict(n_bins=n_bins, max_categories=max_categories, rare_min_count=rare_min_count,
                        text_strategy=text_strategy)
        return cls(schema, codecs, ids, settings)

    # ---- state ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-able state; category levels and frequencies are stored once, in the schema."""
        return {"version": STATE_VERSION, "settings": self.settings, "layout": self.layout.to_dict(),
                "identifiers": self.id_formats, "codecs": {n: c.state() for n, c in self.codecs.items()},
                "schema": json.loads(self.schema.to_json(indent=None))}

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> "TabularEncoder":
        d = read_encoder_state(path, STATE_VERSION)
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict) -> "TabularEncoder":
        schema = TableSchema.load_dict(d["schema"])
        types = {f.name: f.type for f in schema.arrow_schema}
        codecs = {}
        for name, s in d["codecs"].items():
            col = schema.column(name)
            codec_cls = NumericCodec if col.kind in NUMERIC_KINDS else CategoryCodec
            codecs[name] = codec_cls.from_state(col, types[name], s)
        return cls(schema, codecs, d["identifiers"], d["settings"])

    # ---- transform -----------------------------------------------------------------------------
    def encode(self, table: pa.Table) -> np.ndarray:
        """Arrow table -> int64 tokens [n_rows, n_modelled_columns]."""
        missing = [n for n in self.codecs if n not in table.column_names]
        if missing:
            raise SynthgenError(f"table lacks column(s) {missing} that the encoder was fitted on")
        out = np.empty((len(table), len(self.codecs)), dtype=np.int64)
        for j, (name, codec) in enumerate(self.codecs.items()):
            out[:, j] = codec.encode(table.column(name))
        return out

    def decode(self, tokens: np.ndarray, rng: np.random.Generator, row_offset: int = 0) -> pa.Table:
        """int tokens [n, n_modelled_columns] -> Arrow table with the input's columns and types.

        Every column of the real table comes back, in order and with its Arrow type, except
        free-text columns, which are dropped (a warning said so at fit time). `row_offset` is
        the index of the first row in the whole output: identifier keys are numbered from it,
        so chunks decoded separately still give globally unique keys. The same tokens, rng
        state and row_offset give the same table.
        """
        tokens = np.asarray(tokens)
        n, C = len(tokens), len(self.codecs)
        if tokens.ndim != 2 or tokens.shape[1] != C:
            raise ValueError(f"tokens must have shape [n, {C}], got {tokens.shape}")
        cols = np.ascontiguousarray(tokens.T, dtype=np.int64)  # one contiguous row per column
        if n and C:
            lo, hi = cols.min(axis=1), cols.max(axis=1)
            bad = np.flatnonzero((lo < 0) | (hi >= self._cards))
            if len(bad):
                j = int(bad[0])
                raise ValueError(f"tokens of column '{self.layout.columns[j]}' lie in [{lo[j]}, {hi[j]}], "
                                 f"outside its vocabulary [0, {self._cards[j]})")
        schema = self.schema.arrow_schema
        arrays, fields = [], []
        j = {name: i for i, name in enumerate(self.codecs)}
        for field in schema:
            name = field.name
            if name in self.codecs:
                codec = self.codecs[name]
                values, null = codec.decode(cols[j[name]], rng)
                arrays.append(codec.to_arrow(values, null, field.type))
            elif name in self.id_formats:
                null_share = self.schema.column(name).null_share
                arrays.append(_make_ids(name, self.id_formats[name], n, row_offset, field.type, rng, null_share))
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


# ---- identifiers -------------------------------------------------------------------------------
def _id_format(name: str, arr: pa.ChunkedArray, typ: pa.DataType) -> dict:
    """Learn the key format, such that no generated key can equal a real one.

    - whole numbers: count up from max + 1 ("int");
    - strings with one shared prefix and suffix around a number, e.g. "CUST-000123": the same
      prefix, suffix and zero padding, numbered from the largest real number + 1 ("pattern");
    - UUIDs: version-8 UUIDs built from a counter, when no real key is version 8 ("uuid");
    - anything else: "<name>-syn-000000001", with a prefix that no real key starts with ("fresh").
    """
    valid = plain_values(arr).drop_null()
    vt = valid.type
    if pa.types.is_integer(vt) or pa.types.is_floating(vt):
        top = pc.max(valid).as_py()
        return {"type": "int", "start": int(top) + 1}
    valid = valid.cast(pa.large_string())
    if pc.all(pc.match_substring_regex(valid, _UUID)).as_py():
        upper = not pc.any(pc.match_substring_regex(valid, "[a-f]")).as_py()
        v8 = pc.any(pc.equal(pc.utf8_slice_codeunits(valid, 14, 15), "8")).as_py()
        if not v8:
            return {"type": "uuid", "salt": hashlib.sha256(name.encode()).hexdigest()[:18], "upper": bool(upper)}
    m = pc.extract_regex(valid, r"^(?P<prefix>.*?)(?P<digits>\d+)(?P<suffix>\D*)$")
    if m.null_count == 0:
        prefix, suffix = pc.unique(pc.struct_field(m, "prefix")), pc.unique(pc.struct_field(m, "suffix"))
        digits = pc.struct_field(m, "digits")
        lens = pc.min_max(pc.utf8_length(digits))
        if len(prefix) == 1 and len(suffix) == 1 and lens["max"].as_py() <= 18:
            top = pc.max(digits.cast(pa.int64())).as_py()
            width = lens["max"].as_py() if lens["min"].as_py() == lens["max"].as_py() else 0
            return {"type": "pattern", "prefix": prefix[0].as_py(), "suffix": suffix[0].as_py(),
                    "width": width, "start": top + 1}
    prefix = f"{name}-syn-"
    while pc.any(pc.starts_with(valid, prefix)).as_py():  # ends: each round is longer than before
        prefix = prefix[:-1] + "x-"
    return {"type": "pattern", "prefix": prefix, "suffix": "", "width": 9, "start": 1}


def _make_ids(name: str, fmt: dict, n: int, row_offset: int, typ: pa.DataType, rng: np.random.Generator,
              null_share: float) -> pa.Array:
    """n fresh keys numbered from row_offset, with nulls at the real null share (drawn from rng)."""
    start = fmt.get("start", 0) + row_offset
    nums = np.arange(start, start + n, dtype=np.int64)
    vt = typ.value_type if pa.types.is_dictionary(typ) else typ
    if fmt["type"] == "int":
        if pa.types.is_integer(vt) and n:
            top = np.iinfo(vt.to_pandas_dtype()).max
            if nums[-1] > top:
                raise SynthgenError(f"identifier column '{name}' ({vt}) has no room for {n} fresh keys above "
                                    f"its real maximum; widen its type, e.g. to int64")
        out = pa.array(nums)
    elif fmt["type"] == "uuid":
        out = _uuid_strings(fmt["salt"], nums, fmt["upper"])
    else:
        digits = pc.utf8_lpad(pa.array(nums).cast(pa.string()), width=fmt["width"], padding="0")
        out = pc.binary_join_element_wise(pa.scalar(fmt["prefix"]), digits, pa.scalar(fmt["suffix"]), "")
    if null_share > 0 and n:
        out = pc.if_else(pa.array(rng.random(n) >= null_share), out, pa.nulls(n, out.type))
    return out.cast(vt).dictionary_encode().cast(typ) if pa.types.is_dictionary(typ) else out.cast(typ)


def _uuid_strings(salt: str, nums: np.ndarray, upper: bool) -> pa.Array:
    """'ssssssss-ssss-8sss-asss-<12 hex digits of nums>' (s: salt) as one Arrow string array, vectorised."""
    n = len(nums)
    head = f"{salt[:8]}-{salt[8:12]}-8{salt[12:15]}-a{salt[15:18]}-"
    buf = np.empty((n, 36), dtype=np.uint8)
    buf[:, :24] = np.frombuffer(head.encode(), dtype=np.uint8)
    shifts = np.arange(44, -1, -4, dtype=np.uint64)  # 12 hex digits, most significant first
    buf[:, 24:] = _HEX[(nums.astype(np.uint64)[:, None] >> shifts) & np.uint64(15)]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    out = pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.tobytes())])
    return pc.utf8_upper(out) if upper else out
