"""TabularEncoder: a table <-> int64 tokens [n_rows, n_modelled_columns], state as JSON.

What the model sees, per column kind (synthgen/schema.py):
- continuous, integer, datetime, categorical, boolean: one token column each. A string column
  with a codec (dates, "1,234.5", "Yes"/"No") is parsed first and written back in its spelling.
- a date column that is never before another one in the real rows (schema `relations`) is
  modelled as that column plus a non-negative offset, so the ordering holds in every synthetic
  row (an "==" relation is an offset that is always 0).
- a number column never below others in the real rows (schema `orders`: a day's high and its
  low) is raised to the largest of them where a draw falls below, on its own decimal grid.
- a number column that is the sum of others in the real rows (schema `sums`: an election's total
  votes) is written as the sum of their synthetic values where all are set (synthgen/sums.py).
- a number column that is the product of two others in the real rows (schema `products`: an
  order line's amount over its quantity and price) is written as their product where both are set
  (synthgen/products.py).
- a number column that is a monotone function of another (schema `conversions`: a price in two
  currencies, a log transform) is written from its key's synthetic value (synthgen/conversions.py).
- a category that is the band a number falls in (schema `bands`: an income bracket beside the
  income) is written from the number's synthetic value (synthgen/bands.py).
- a column that is a part of a date column (schema `date_parts`: its year, month, hour, weekday,
  as a number or a name) is written from the date's synthetic value (synthgen/date_parts.py).
- fake first names follow a sex column's levels where the real names do (schema `name_sex`).
- a column a categorical key determines (schema `dependencies`: a country's continent) is written
  from the key's level where both are set (synthgen/dependencies.py).
- a sparse category's rare-token rows draw their level among the rare levels seen with their row's
  level of a grouping column (schema `nestings`: a city within its state; synthgen/nesting.py).
- a date column whose every value is a month's (year's) first day is counted in months (years)
  by its codec (encoders/columns.py), so its draws are month (year) starts.
- the birth date of an age (schema `ages`: "age" is the whole years from "dob" to a later date)
  is written from the age and that date, so the three agree in every synthetic row.
- a day count between two date columns (schema `spans`) is kept with one of them, and the date
  missing more often is written from the other and the count, so the three agree; where that date
  is an offset from a date between the two (a recurrence between diagnosis and death), the count
  is written from the dates instead.
- a day count that stops at one fixed day (schema `durations`: follow-up time) gets one more
  token, "ends on that day" (count = day - start), and its other draws are capped there.
- identifier: not modelled; fresh unique keys in the real format (never a real key).
- pii and text: not modelled; one fake person per row from Faker's lists (synthgen/pii.py),
  redrawn where a fake name, e-mail, phone or address equals a real one; text is fake too.
- empty: nulls of the column's type.
The decoded table has every column of the input, in order, with its Arrow type.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen import ages, composites, entities, exclusive, name_sex, pii, sizing
from synthgen import codecs as text_codecs
from synthgen.bands import band_of
from synthgen.conversions import convert
from synthgen.date_parts import NAMED as NAMED_PARTS
from synthgen.date_parts import part_values
from synthgen.encoders.columns import (
    CategoryCodec,
    DurationCodec,
    NumericCodec,
    _rescale,
    _temporal_array,
    _units,
    calendar_ceil,
)
from synthgen.encoders.key_shapes import fixed_width_strings, key_shape, shaped_keys
from synthgen.encoders.layout import TokenLayout
from synthgen.encoders.name_templates import counter_format, name_templates, templated_names
from synthgen.errors import SynthgenError
from synthgen.io import atomic_write_text, read_encoder_state
from synthgen.schema import (
    NUMERIC_KINDS,
    ColumnSchema,
    TableSchema,
    on_grid,
    plain_values,
    temporal_ints,
    unit_ratio,
)

STATE_VERSION = 3
TEXT_STRATEGIES = ("fake", "drop")
_REDRAW_ROUNDS = 20
_UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


class TabularEncoder:
    def __init__(
        self,
        schema: TableSchema,
        codecs: dict,
        id_formats: dict,
        settings: dict,
        offsets: dict | None = None,
        real_hashes: dict | None = None,
        durations: dict | None = None,
        entity_rows: list[int] | None = None,
        entity_start: str | None = None,
    ):
        self.schema = schema
        self.codecs = codecs  # modelled column -> codec, in table order
        self.id_formats = id_formats  # identifier column -> key format (see _id_format)
        self.settings = settings
        self.offsets = offsets or {}  # date column -> {"base", "unit", "min", "max"}: modelled as base + offset
        # integer column -> {"start", "day", "min", "max"}: a count with an "ends on the day" token
        self.durations = durations or {}
        # packed hashes of real identifying values: {"names": full names and first + last pairs,
        # "columns": {e-mail/phone/address column: its values}}
        self.real_hashes = real_hashes or {"names": None, "columns": {}}
        names = self.real_hashes.get("names")
        self._names = pii.unpack(names) if names else None
        self._hashes = {k: pii.unpack(v) for k, v in self.real_hashes.get("columns", {}).items()}
        self._lookup_tables = None  # schema `dependencies` as decode's lookups, built on first use (_lookups)
        self._nesting_tables = None  # schema `nestings` as decode's tables, built on first use (_nestings)
        self._notes = None  # categories' one-off notes, written as fake text (_one_off_notes), built on first use
        # one-hot groups (synthgen/exclusive.py): the first flag's codec carries the group's column;
        # every flag of it -> its group, for writing and conditioning
        self.groups = {c: g for c, g in carriers(schema).items() if c in codecs}
        self.group_of = {m: g for g in self.groups.values() for m in g["columns"]}
        entity = schema.entity or {}
        # an entity table's extra modelled columns, after the codecs' (never written): each row's
        # entity's row count, a token per level of `entity_rows` (the schema's clipped sizes;
        # entities.rows_column)
        self.entity_rows = list(entity_rows) if entity_rows and entity else None
        self.rows_column = entities.rows_column(entity["column"]) if self.entity_rows else None
        # and, with a date column, each row's entity's first date in that column's tokens: an entity
        # attribute, so a customer's orders are drawn around one start (entities.start_column)
        ok = entity_start in codecs and entity_start not in self.offsets and entity_start not in self.durations
        self.entity_start = entity_start if self.entity_rows and ok else None
        self.start_column = entities.start_column(entity["column"], entity_start) if self.entity_start else None
        extra = ((self.rows_column, len(self.entity_rows)),) if self.entity_rows else ()
        start = ((self.start_column, codecs[entity_start].cardinality),) if self.entity_start else ()
        self.layout = TokenLayout(
            (*codecs, *(n for n, _ in extra), *(n for n, _ in start)),
            (*(c.cardinality for c in codecs.values()), *(k for _, k in extra), *(k for _, k in start)),
            # the row count first: a head is drawn given its entity's size (entities.py)
            first=(*(n for n, _ in extra), *entity.get("attributes", ()), *(n for n, _ in start)),
            leading=len(extra),
        )
        self._cards = np.array(self.layout.cardinalities, dtype=np.int64)

    # ---- fitting -----------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        table: pa.Table,
        schema: TableSchema,
        n_bins: int = 100,
        max_categories: int | str = 1000,
        rare_min_count: int = 1,
        text_strategy: str = "fake",
        avoid: pa.Table | None = None,
    ) -> "TabularEncoder":
        """Fit one codec per modelled column (see the module docstring for the others). `avoid`:
        other real rows (the holdout) whose keys, names and e-mails no fresh key or fake value may
        equal either (an entity split holds whole customers out, keys above the training ones)."""
        if text_strategy not in TEXT_STRATEGIES:
            raise SynthgenError(
                f"encoder.text_strategy='{text_strategy}' is unknown; use one of {', '.join(TEXT_STRATEGIES)}"
            )
        for key, v, lo in (
            ("n_bins", n_bins, 2),
            ("max_categories", max_categories, 1),
            ("rare_min_count", rare_min_count, 1),
        ):
            if key == "max_categories" and v == sizing.AUTO:  # per column, from its level counts
                continue
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise SynthgenError(f"encoder.{key}={v!r} must be an integer of at least {lo}")
        missing = [n for n in schema.names if n not in table.column_names]
        if missing:
            raise SynthgenError(f"table lacks column(s) {missing} of the schema; rerun `synthgen prepare`")
        types = {f.name: f.type for f in schema.arrow_schema}
        native = schema.to_native(table)
        rel = {r["column"]: r for r in schema.relations}
        dur = {d["column"]: d for d in schema.durations}
        codecs, ids, offsets, durations = {}, {}, {}, {}
        composed = {c["column"] for c in schema.composites}  # written from their row (synthgen/composites.py)
        # a lookup's whole-number key (at most dependencies.MAX_INTEGER_KEY_LEVELS values) gets a token
        # per value: binned, its draws are not its row's and the lookup is not applied (waltons' T, 32
        # values under a small table's 10 bins: its group kept in 89 % of rows)
        exact = {d["by"] for d in schema.dependencies if schema.column(d["by"]).kind == "integer"}
        attributes = set((schema.entity or {}).get("attributes", ()))
        groups = carriers(schema)  # one-hot groups (synthgen/exclusive.py)
        carried = {m for g in schema.exclusive for m in g["columns"][1:]}  # written from their group's column
        for col in schema.columns:
            if col.name in composed or col.name in carried:
                continue
            if col.name in groups:
                codecs[col.name] = group_codec(groups[col.name])
                continue
            arr = native.column(col.name)
            if col.kind == "integer" and col.name in dur and dur[col.name]["start"] in native.column_names:
                start = schema.column(dur[col.name]["start"])
                day = ages.day_number(dur[col.name]["day"])
                n, null, at_end = _ends_on_day(start, native.column(start.name), col, arr, day)
                valid = n[~null]
                durations[col.name] = {
                    "start": start.name,
                    "day": day,
                    "min": int(valid.min()),
                    "max": int(valid.max()),
                }
                off_day = n[~null & ~at_end]
                inner = NumericCodec.fit_units(
                    col, arr.type, off_day if len(off_day) else valid, bool(null.any()), n_bins
                )
                codecs[col.name] = DurationCodec(inner, start.name)
            elif col.kind in NUMERIC_KINDS and col.name in rel and rel[col.name].get("encoding", "offset") == "offset":
                base = schema.column(rel[col.name]["base"])
                off, null, unit = _offsets(base, native.column(base.name), col, arr)
                valid = off[~null]
                offsets[col.name] = {"base": base.name, "unit": unit, "min": int(valid.min()), "max": int(valid.max())}
                codecs[col.name] = NumericCodec.fit(
                    _offset_column(col, offsets[col.name]), pa.chunked_array([pa.array(off, mask=null)]), n_bins
                )
            elif col.kind in NUMERIC_KINDS:
                codecs[col.name] = NumericCodec.fit(
                    col, arr, max(n_bins, col.n_unique or 0) if col.name in exact else n_bins
                )
                if col.name in attributes and codecs[col.name].knots is not None:
                    # an entity's value repeats on each of its rows: the within-bin quantiles would be
                    # single entities' values, drawn back exactly (a patient's birth date: 61 % of the
                    # synthetic patients had a real one, benchmarks/entities.md)
                    codecs[col.name] = codecs[col.name].without_knots()
            elif col.kind in ("categorical", "boolean"):
                cap = sizing.max_categories(col.frequencies or []) if max_categories == sizing.AUTO else max_categories
                codecs[col.name] = CategoryCodec.fit(col, arr, cap, rare_min_count)
            elif col.kind == "identifier":
                every = arr if avoid is None else pa.chunked_array([*arr.chunks, *avoid.column(col.name).chunks])
                ids[col.name] = _id_format(col.name, every, types[col.name])
            elif col.kind == "text" and text_strategy == "drop":
                warnings.warn(
                    f"column '{col.name}' is free text: it is dropped from the synthetic table "
                    f"(encoder.text_strategy=fake writes fake text instead)",
                    stacklevel=2,
                )
        settings = dict(
            n_bins=n_bins, max_categories=max_categories, rare_min_count=rare_min_count, text_strategy=text_strategy
        )
        real = (
            table if avoid is None else pa.concat_tables([table, avoid.select(table.column_names).cast(table.schema)])
        )
        rows = entities.rows_levels(schema.entity, schema.names) if schema.entity else None
        start = entities.start_source(schema, [n for n in codecs if n not in offsets and n not in durations])
        return cls(schema, codecs, ids, settings, offsets, _real_hashes(real, schema), durations, rows, start)

    # ---- state ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-able state; category levels and frequencies are stored once, in the schema."""
        return {
            "version": STATE_VERSION,
            "settings": self.settings,
            "layout": self.layout.to_dict(),
            "identifiers": self.id_formats,
            "codecs": {n: c.state() for n, c in self.codecs.items()},
            "offsets": self.offsets,
            "durations": self.durations,
            "real_hashes": self.real_hashes,
            "schema": json.loads(self.schema.to_json(indent=None)),
            **({"entity_rows": self.entity_rows} if self.entity_rows else {}),
            **({"entity_start": self.entity_start} if self.entity_start else {}),
        }

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), separators=(",", ":")))

    @classmethod
    def load(cls, path: Path) -> "TabularEncoder":
        d = read_encoder_state(path, STATE_VERSION)
        return cls.from_dict(d)

    @classmethod
    def from_dict(cls, d: dict) -> "TabularEncoder":
        schema = TableSchema.load_dict(d["schema"])
        offsets, durations = d.get("offsets", {}), d.get("durations", {})
        codecs = {}
        groups = carriers(schema)
        for name, s in d["codecs"].items():
            col = schema.column(name)
            if name in groups:
                codecs[name] = group_codec(groups[name])
                continue
            if name in offsets:
                codecs[name] = NumericCodec.from_state(_offset_column(col, offsets[name]), pa.int64(), s)
                continue
            if name in durations:
                inner = NumericCodec.from_state(col, schema.model_type(name), s)
                codecs[name] = DurationCodec(inner, durations[name]["start"])
                continue
            codec_cls = NumericCodec if col.kind in NUMERIC_KINDS else CategoryCodec
            codecs[name] = codec_cls.from_state(col, schema.model_type(name), s)
        return cls(
            schema,
            codecs,
            d["identifiers"],
            d["settings"],
            offsets,
            d.get("real_hashes"),
            durations,
            d.get("entity_rows"),
            d.get("entity_start"),
        )

    # ---- transform -----------------------------------------------------------------------------
    def encode(self, table: pa.Table, order: str = "C") -> np.ndarray:
        """Arrow table -> int64 tokens [n_rows, n_modelled_columns]; order "F": column-major (filled
        column by column without strided writes; what hashing by column wants)."""
        key = [self.schema.entity["column"]] if self.rows_column else []
        missing = [n for n in [*self.written_columns, *key] if n not in table.column_names]
        if missing:
            raise SynthgenError(f"table lacks column(s) {missing} that the encoder was fitted on")
        native = self.schema.to_native(table)
        out = np.empty((len(table), self.layout.n_columns), dtype=np.int64, order=order)
        codes = entities.key_codes(table.column(key[0])) if key else None  # the entity of each row
        if self.rows_column:  # each row's entity's row count in this table
            out[:, self.layout.columns.index(self.rows_column)] = entities.rows_tokens(codes, self.entity_rows)
        if self.start_column:  # each row's entity's first date, in its date column's tokens
            first = entities.first_values(codes, native.column(self.entity_start))
            out[:, self.layout.columns.index(self.start_column)] = self.codecs[self.entity_start].encode(first)
        for j, (name, codec) in enumerate(self.codecs.items()):
            if name in self.groups:  # a one-hot group: its column of codes (synthgen/exclusive.py)
                out[:, j] = codec.encode(exclusive.codes(native, self.groups[name]))
            elif name in self.offsets:
                base = self.schema.column(self.offsets[name]["base"])
                off, null, _ = _offsets(base, native.column(base.name), self.schema.column(name), native.column(name))
                null = null if codec.has_null else np.zeros(len(off), dtype=bool)
                out[:, j] = codec._encode_units(
                    np.clip(off, self.offsets[name]["min"], self.offsets[name]["max"]), null
                )
            elif name in self.durations:
                d = self.durations[name]
                start = self.schema.column(d["start"])
                col = self.schema.column(name)
                n, null, at_end = _ends_on_day(start, native.column(start.name), col, native.column(name), d["day"])
                if null.any() and not codec.has_null:
                    raise SynthgenError(f"column '{name}' has nulls, but the encoder was fitted without any")
                out[:, j] = codec.encode_units(np.clip(n, d["min"], d["max"]), null, at_end)
            else:
                out[:, j] = codec.encode(native.column(name))
        return out

    def _entity_keys(self, name: str, groups: np.ndarray, typ: pa.DataType, rng, null_share: float) -> pa.Array:
        """The entity key of each row: one fresh key per group (synthgen/entities.py), on all its rows."""
        uniq, inv = np.unique(groups, return_inverse=True)
        vt = typ.value_type if pa.types.is_dictionary(typ) else typ
        fmt = counter_format(self.id_formats[name])  # template names may repeat: an entity's key may not
        keys = _make_ids(name, fmt, len(uniq), 0, vt, rng, 0.0, uniq).take(pa.array(inv))
        if null_share > 0 and len(groups):
            keys = pc.if_else(pa.array(rng.random(len(groups)) >= null_share), keys, pa.nulls(len(groups), keys.type))
        return keys.dictionary_encode().cast(typ) if pa.types.is_dictionary(typ) else keys

    def decode(
        self, tokens: np.ndarray, rng: np.random.Generator, row_offset: int = 0, groups: np.ndarray | None = None
    ) -> pa.Table:
        """int tokens [n, n_modelled_columns] -> Arrow table with the input's columns and types.

        Every column of the real table comes back, in order and with its Arrow type (free text
        only when encoder.text_strategy=drop is not set). `row_offset` is the index of the first
        row in the whole output: identifier keys are numbered from it, so chunks decoded
        separately still give globally unique keys; `groups` [n]: each row's entity group, whose
        number gives the entity key (synthgen/entities.py). The same tokens, rng state, row_offset
        and groups give the same table.
        """
        tokens = np.asarray(tokens)
        n, C = len(tokens), self.layout.n_columns
        if tokens.ndim != 2 or tokens.shape[1] != C:
            raise ValueError(f"tokens must have shape [n, {C}], got {tokens.shape}")
        cols = np.ascontiguousarray(tokens.T, dtype=np.int64)  # one contiguous row per column
        if n and C:
            lo, hi = cols.min(axis=1), cols.max(axis=1)
            bad = np.flatnonzero((lo < 0) | (hi >= self._cards))
            if len(bad):
                j = int(bad[0])
                raise ValueError(
                    f"tokens of column '{self.layout.columns[j]}' lie in [{lo[j]}, {hi[j]}], "
                    f"outside its vocabulary [0, {self._cards[j]})"
                )
        schema = self.schema.arrow_schema
        j = {name: i for i, name in enumerate(self.codecs)}
        decoded = {}  # modelled column -> (values in its units, null mask)
        for name, codec in self.codecs.items():
            if name in self.groups:  # every flag of a one-hot group from its code (synthgen/exclusive.py)
                idx, _ = codec.decode(cols[j[name]], rng)
                code = np.asarray(codec.col.categories, dtype=np.int64)[idx]
                for flag, v in exclusive.written(self.groups[name], code).items():
                    decoded[flag] = v, np.zeros(n, dtype=bool)
            elif name not in self.offsets and name not in self.durations:
                decoded[name] = codec.decode(cols[j[name]], rng)
        lookups = self._lookups()
        for a in dict.fromkeys(a for _, a, _ in lookups):  # rare keys drawn to agree with their row
            decoded[a] = self._rare_keys_agreeing(a, [lk for lk in lookups if lk[1] == a], decoded, rng)
        for b, a, look in lookups:  # B from its key's level, where both are set
            (v, null), (key, key_null) = decoded[b], decoded[a]
            value, known = look(key)
            use = known & ~key_null & ~null
            decoded[b] = np.where(use, value, v).astype(v.dtype), null
        for b, a, rare, every, seen in self._nestings():  # B's level among those seen with the row's A level
            if rare is not None:  # the rare token's rows, among the rare levels
                decoded[b] = _rare_within(*decoded[b], *decoded[a], self.codecs[b].n_kept, rare, rng)
            if every is not None:  # any other row beside a group its level was never seen in
                decoded[b] = _unseen_pairs_redrawn(*decoded[b], *decoded[a], every, *seen, rng)
        rels = {r["column"]: r for r in self.schema.relations}
        ages = {a["born"]: a for a in self.schema.ages if a["born"] in self.codecs and a["column"] in self.codecs}
        done = set()

        def resolve(name: str) -> None:
            """Write `name` after the columns it leans on (relations, ages, spans, durations)."""
            if name in done:
                return
            done.add(name)
            if name in ages:
                age = ages[name]
                if age.get("at"):
                    resolve(age["at"])
                decoded[name] = self._birth_dates(
                    age, *decoded[name], *decoded[age["column"]], *(decoded.get(age["at"]) or (None, None)), rng
                )
            elif name in self.durations:
                start = self.durations[name]["start"]
                resolve(start)
                decoded[name] = self._duration(name, cols[j[name]], rng, *decoded[start])
            elif name in spans and spans[name]["column"] == name:  # a derived count: N = end - start
                sp = spans[name]
                resolve(sp["start"])
                resolve(sp["end"])
                decoded[name], decoded[sp["end"]] = self._count_of_dates(
                    sp, decoded[name], decoded[sp["start"]], decoded[sp["end"]]
                )
            else:
                r = rels.get(name)
                bounds = [b for b in (r["base"], *r.get("also", [])) if b in decoded or b in self.offsets] if r else []
                for b in bounds:
                    resolve(b)
                if name in self.offsets:
                    decoded[name] = self._add_offset(
                        name, *self.codecs[name].decode(cols[j[name]], rng), *decoded[r["base"]]
                    )
                if name in spans:  # D = O +- N where both are set; D's own draw elsewhere
                    sp = spans[name]
                    other = sp["end"] if name == sp["start"] else sp["start"]
                    resolve(other)
                    decoded[name] = self._span_date(sp, *decoded[name], *decoded[other], *decoded[sp["column"]])
                if name in decoded:  # B = max(B, A) for each lower bound A, where both are set
                    for b in bounds:
                        decoded[name] = self._at_least(name, b, *decoded[name], *decoded[b])
                if name in spans and bounds:  # a raised date's day count follows it
                    sp = spans[name]
                    decoded[sp["column"]] = self._span_count(
                        sp, *decoded[sp["column"]], *decoded[sp["start"]], *decoded[sp["end"]]
                    )

        spans = {sp["derived"]: sp for sp in self.spans}
        order = [*rels, *ages, *spans, *self.durations]  # resolve() writes bounds first; this fixes the draws' order
        for name in order:
            resolve(name)
        for o in self.orders:  # numbers: B = max(B, A) for each lower bound A, bounds written first
            for a in o["at_least"]:
                decoded[o["column"]] = self._number_at_least(o["column"], a, *decoded[o["column"]], *decoded[a])
        for pr in self.products:  # T = A x B where both are set, inner products first, after A and B are raised
            decoded[pr["column"]] = self._product_of(pr, decoded)
        for sm in self.schema.sums:  # totals: T = A + B + ... where all parts are set, inner totals first
            if sm["column"] in decoded and all(p in decoded for p in sm["parts"]):
                decoded[sm["column"]] = self._sum_of(sm["column"], sm["parts"], decoded)
        for cv in self.schema.conversions:  # B = f(A) where A is set, after every rule that writes A
            if cv["column"] in decoded and cv["from"] in decoded:
                decoded[cv["column"]] = self._converted(cv, *decoded[cv["column"]], *decoded[cv["from"]])
        for band in self.bands:  # B the band of its number, where set, after every rule that writes the number
            decoded[band["column"]] = self._banded(band, *decoded[band["column"]], *decoded[band["by"]])
        for name, (v, null) in list(decoded.items()):  # dates on their grid, but for its sentinels (schema.grid_of)
            col = self.schema.column(name)
            if col.grid:
                decoded[name] = on_grid(v, col), null
        for dp in self.date_parts:  # a date's year, month, weekday ... from the date as written
            decoded[dp["column"]] = self._date_part(dp, *decoded[dp["column"]], *decoded[dp["from"]])
        # resolve refers to itself through its closure cell: a reference cycle that kept every chunk's
        # decoded columns until Python's cyclic collector ran (generate grew ~12 MB a 50,000-row chunk)
        resolve = None  # empties the cell, which breaks the cycle
        fake = self._fake_values(n, rng, row_offset, self._row_sexes(decoded))
        arrays, fields = [], []
        composed = {c["column"]: c for c in self.schema.composites}
        natives = {} if composed else None  # dates written as text, as dates (for the composites)
        for field in schema:
            name = field.name
            col = self.schema.column(name)
            if name in composed:  # written below, from the row's other written values
                arrays.append(None)
            elif name in self.group_of:  # a one-hot flag: 0 / 1 in the column's own type
                arrays.append(pa.array(decoded[name][0]).cast(field.type))
            elif name in decoded:
                arrays.append(
                    self._notes_faked(name, decoded[name], self._to_arrow(col, decoded[name], field.type, natives), rng)
                )
            elif name in self.id_formats and groups is not None and name == (self.schema.entity or {}).get("column"):
                arrays.append(self._entity_keys(name, groups, field.type, rng, col.null_share))
            elif name in self.id_formats:
                arrays.append(_make_ids(name, self.id_formats[name], n, row_offset, field.type, rng, col.null_share))
            elif name in fake:
                arrays.append(_with_nulls(fake[name], field.type, rng, col.null_share))
            elif col.kind == "empty":
                arrays.append(pa.nulls(n, field.type))
            else:
                continue  # free text with encoder.text_strategy=drop
            fields.append(field)
        if composed:
            written = pa.table({f.name: a for f, a in zip(fields, arrays) if a is not None})
            for i, f in enumerate(fields):
                if f.name in composed:
                    arrays[i] = composites.render(composed[f.name], written, self._kinds, natives).cast(f.type)
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=schema.metadata))

    @property
    def _kinds(self) -> dict[str, str]:
        return {c.name: c.kind for c in self.schema.columns}

    def recompose(self, table: pa.Table) -> pa.Table:
        """`table` with its composite columns written again from its rows (synthgen/composites.py):
        after a step that replaces some of a row's values (the copy redraw, an entity's attributes,
        the requested values of generate.condition), the text they were written from must follow."""
        dates = {}
        for comp in self.schema.composites:
            for name, fmt in comp["slots"]:
                col = self.schema.column(name) if isinstance(name, str) and name in table.column_names else None
                if fmt and col is not None and col.codec and col.kind == "datetime":  # dates as text
                    dates[name] = text_codecs.parse(col.codec, table.column(name)).combine_chunks()
        for comp in self.schema.composites:
            x = comp["column"]
            if x in table.column_names:
                i = table.column_names.index(x)
                value = composites.render(comp, table, self._kinds, dates).cast(table.schema.field(x).type)
                table = table.set_column(i, table.schema.field(x), value)
        return table

    def _one_off_notes(self) -> dict[str, tuple[np.ndarray, list[float]]]:
        """Per category column: its levels seen once that hold a line break (a ticket's or a form's
        free-text note among repeated short ones; a vocabulary's levels are one line) and the
        quantiles of their lengths. Built once."""
        if self._notes is None:
            self._notes = {}
            for name, codec in self.codecs.items():
                col = self.schema.column(name)
                if not isinstance(codec, CategoryCodec):
                    continue
                pairs = zip(col.categories or [], col.frequencies or [])
                notes = [
                    i for i, (v, f) in enumerate(pairs) if f == 1 and isinstance(v, str) and ("\n" in v or "\r" in v)
                ]
                if notes:
                    lengths = [len(col.categories[i]) for i in notes]
                    self._notes[name] = (np.array(notes), np.quantile(lengths, np.linspace(0, 1, 11)).tolist())
        return self._notes

    def _notes_faked(self, name: str, decoded, arr: pa.Array, rng: np.random.Generator) -> pa.Array:
        """`arr` with the rows drawn at a one-off note (_one_off_notes) written as fake text of such
        notes' lengths: the tickets' multi-line notes came back verbatim (97 of 500 rows)."""
        spec = self._one_off_notes().get(name)
        if spec is None:
            return arr
        idx, null = decoded
        rows = np.flatnonzero(np.isin(idx, spec[0]) & ~null)
        if not len(rows):
            return arr
        first, last = pii.fake_people(len(rows), rng)
        mask = np.zeros(len(idx), dtype=bool)
        mask[rows] = True
        fake = pa.array(pii.fake_column("text", {"lengths": spec[1]}, first, last, rng), type=pa.string())
        out = pc.replace_with_mask(arr.cast(pa.string()), pa.array(mask), fake)  # those rows only, in order
        return out.dictionary_encode().cast(arr.type) if pa.types.is_dictionary(arr.type) else out.cast(arr.type)

    def _to_arrow(self, col: ColumnSchema, decoded, typ: pa.DataType, natives: dict | None = None) -> pa.Array:
        """A decoded column as written; `natives`: where given, a date column written as text also
        leaves its dates there (a composite's formats read them, not the text)."""
        values, null = decoded
        model_typ = self.schema.model_type(col.name) if col.codec else typ
        if col.name in self.offsets:  # the offset codec is an integer one: write the date here
            vt = model_typ.value_type if pa.types.is_dictionary(model_typ) else model_typ
            out = _temporal_array(values, null if null.any() else None, col.resolution, vt)
            out = out.dictionary_encode().cast(model_typ) if pa.types.is_dictionary(model_typ) else out
        elif col.name in self._written_from_parts:  # within the parts' ranges, not its own
            out = self.codecs[col.name].to_arrow(values, null, model_typ, clip=False)
        else:
            out = self.codecs[col.name].to_arrow(values, null, model_typ)
        if natives is not None and col.codec and col.kind == "datetime":
            natives[col.name] = out
        return text_codecs.format_values(col.codec, out, typ) if col.codec else out

    def _add_offset(self, name: str, off, off_null, base_vals, base_null):
        """B = A + offset, in B's resolution (rounded up, so B >= A holds after rounding)."""
        o = self.offsets[name]
        a = _rescale(base_vals, self.schema.column(o["base"]).resolution, o["unit"])
        res = self.schema.column(name).resolution
        v = a + off
        k = unit_ratio(res, o["unit"]) if np.timedelta64(1, res) > np.timedelta64(1, o["unit"]) else 1
        v, a = (-(-v // k), -(-a // k)) if k > 1 else (v, a)
        col = self.schema.column(name)
        # within B's real range, unless A itself lies beyond it (A may be set where B never is): then B = A
        v = np.maximum(np.clip(v, col.min, col.max), a)
        return (calendar_ceil(v, col.calendar) if col.calendar else v), off_null | base_null

    def _birth_dates(self, age: dict, v, null, n, n_null, at, at_null, rng):
        """The birth date column A of an age: where the age N and its later date are set, a day
        whose calendar age on that date is N (synthgen/ages.py); A's own draw elsewhere, and A's
        own null mask (the model decides where the birth date is missing)."""
        res = self.schema.column(age["born"]).resolution
        scale = self.codecs[age["column"]].scale or 1
        if age.get("at"):
            at_days = _rescale(at, self.schema.column(age["at"]).resolution, "D")
        else:
            at_days, at_null = np.full(len(v), ages.day_number(age["day"]), dtype=np.int64), np.zeros(len(v), bool)
        ok = ~null & ~n_null & ~at_null
        years = np.where(ok, n // scale, 0).astype(np.int64)
        col = self.schema.column(age["born"])  # within the real birth dates where the age allows it
        lo, hi = (
            None if x is None else int(_rescale(np.array([x], np.int64), res, "D")[0]) for x in (col.min, col.max)
        )
        born = _rescale(ages.birth_dates(at_days, years, rng, lo, hi), "D", res)
        return np.where(ok, born, v), null

    @property
    def spans(self) -> list[dict]:
        """The schema's spans whose three columns are modelled."""
        return [sp for sp in self.schema.spans if all(sp[k] in self.codecs for k in ("column", "start", "end"))]

    def _span_date(self, sp: dict, v, null, o, o_null, n, n_null):
        """A span's derived date D = O + N days (D the end) or O - N days (D the start), in D's
        resolution and keeping D's own time of day, within D's real range; D's own draw where O or
        N is missing, and D's own null mask."""
        d, other = sp["derived"], sp["end"] if sp["derived"] == sp["start"] else sp["start"]
        col, ocol = self.schema.column(d), self.schema.column(other)
        days = _rescale(o, ocol.resolution, "D") + (n if d == sp["end"] else -n)
        k = unit_ratio("D", col.resolution) if np.timedelta64(1, col.resolution) < np.timedelta64(1, "D") else 1
        if k > 1:
            written = days * k + (v - np.floor_divide(v, k) * k)  # the day, at D's own time of day
        else:
            written = _rescale(days, "D", col.resolution)
        written = np.clip(written, col.min, col.max)
        own = v
        if (self.schema.column(sp["column"]).min or 0) >= 0 and not o_null.all():
            # a count never negative orders the two dates (schema.spans_and_relations took D out
            # of O's bounds for it): D's own draw, where N is missing, keeps that order too
            if d == sp["end"]:
                own = self._at_least(d, other, v, null, o, o_null)[0]
            else:
                o_d = _rescale(o, ocol.resolution, col.resolution)
                own = np.where(o_null, v, np.minimum(v, o_d))
        return np.where(o_null | n_null, own, written), null

    def _span_count(self, sp: dict, n, n_null, start, start_null, end, end_null):
        """A span's count N written from its two dates (end - start days) where the three are set:
        the span's own count where the count is derived (schema.spans_and_relations), and, where a
        date is, after an ordering against a third date raised that date (a death never before the
        recurrence, lifelines' lymph_node: the count agreed in 53 % of rows before)."""
        days_s = _in_days(start, self.schema.column(sp["start"]).resolution)
        days_e = _in_days(end, self.schema.column(sp["end"]).resolution)
        use = ~n_null & ~start_null & ~end_null
        return np.where(use, days_e - days_s, n).astype(n.dtype, copy=False), n_null

    def _count_of_dates(self, sp: dict, count: tuple, start: tuple, end: tuple) -> tuple[tuple, tuple]:
        """A derived span count (schema.spans_and_relations) and its end date: N = end - start where
        the three are set, at most N's real maximum, the end date moved back to start + N where N
        was capped (two drawn offsets can add up to a longer span than any real row's). Not raised
        to N's real minimum: a short span with the end on its middle date (a tie) is a real row's
        shape, and raising the end would break the tie."""
        n, n_null = self._span_count(sp, *count, *start, *end)
        kept = np.minimum(n, self.schema.column(sp["column"]).max).astype(n.dtype, copy=False)
        moved = kept != n
        if moved.any():
            written = self._span_date({**sp, "derived": sp["end"]}, *end, *start, kept, n_null)[0]
            end = np.where(moved, written, end[0]).astype(end[0].dtype, copy=False), end[1]
        return (kept, n_null), end

    def _duration(self, name: str, tok: np.ndarray, rng, start, start_null):
        """A duration N: day - start where the token says it ends on the fixed day, else its own
        draw capped at day - start; within N's real range. Where the start is missing (never in
        the real rows), it counts from the start column's earliest real day."""
        d, codec = self.durations[name], self.codecs[name]
        col = self.schema.column(d["start"])
        room = d["day"] - np.where(start_null, _first_day(col), _rescale(start, col.resolution, "D"))
        at_end = tok == codec.at_end
        n, null = codec.inner.decode(np.where(at_end, 0, tok), rng)
        null = null & ~at_end
        return np.clip(np.where(at_end, room, np.minimum(n, room)), d["min"], d["max"]), null

    @property
    def derived(self) -> set[str]:
        """Columns whose decoded value depends on other columns (schema relations; the birth dates
        of ages; the derived dates of spans; durations, written from their start date; number
        orderings; totals written from their parts; conversions written from their key)."""
        ages_born = {a["born"] for a in self.schema.ages if a["born"] in self.codecs and a["column"] in self.codecs}
        rels = {r["column"] for r in self.schema.relations if r["column"] in self.codecs}
        spans = {sp["derived"] for sp in self.spans}
        totals = {sm["column"] for sm in self.schema.sums} | {cv["column"] for cv in self.schema.conversions}
        totals |= {pr["column"] for pr in self.products} | {band["column"] for band in self.bands}
        totals |= {dp["column"] for dp in self.date_parts}
        return rels | ages_born | set(self.durations) | spans | {o["column"] for o in self.orders} | totals

    @property
    def rewritten(self) -> set[str]:
        """Modelled columns whose written value is not their own token's: the derived ones, each
        applied lookup's dependent (written from its key's level) and each nesting's B where its
        unseen pairs are drawn again (a frequent level may move to another)."""
        nested = {b for b, _, _, every, _ in self._nestings() if every is not None}
        unwritten = {c for c in (self.rows_column, self.start_column) if c}
        return self.derived | {b for b, _, _ in self._lookups()} | nested | unwritten

    @property
    def written_columns(self) -> list[str]:
        """The real columns the modelled tokens write, in table order: the codecs' columns and the
        flags each one-hot group's column writes (an entity's rows column is not one)."""
        return [c.name for c in self.schema.columns if c.name in self.codecs or c.name in self.group_of]

    @property
    def _written_from_parts(self) -> set[str]:
        """Totals and products: written from their parts' values, so also past their own real range
        (three candidates' high counts add up to more votes than any district had)."""
        return {sm["column"] for sm in self.schema.sums} | {pr["column"] for pr in self.products}

    @property
    def date_parts(self) -> list[dict]:
        """The schema's date parts whose part and date are both modelled."""
        return [
            dp
            for dp in self.schema.date_parts
            if isinstance(self.codecs.get(dp["column"]), (CategoryCodec, NumericCodec)) and dp["from"] in self.codecs
        ]

    @property
    def bands(self) -> list[dict]:
        """The schema's bands whose category and number are both modelled."""
        return [
            band
            for band in self.schema.bands
            if isinstance(self.codecs.get(band["column"]), CategoryCodec)
            and isinstance(self.codecs.get(band["by"]), NumericCodec)
            and band["by"] not in self.offsets
        ]

    @property
    def products(self) -> list[dict]:
        """The schema's products whose column and factors are modelled."""
        return [pr for pr in self.schema.products if all(c in self.codecs for c in (pr["column"], *pr["factors"]))]

    @property
    def orders(self) -> list[dict]:
        """The schema's number orderings among modelled columns (bounds not modelled dropped)."""
        out = []
        for o in self.schema.orders:
            bounds = [a for a in o["at_least"] if a in self.codecs]
            if o["column"] in self.codecs and bounds:
                out.append({"column": o["column"], "at_least": bounds})
        return out

    def _number_at_least(self, name: str, base: str, v, null, a, a_null):
        """B's values (units of B's codec) raised to A's where both are set; on B's grid, A's value
        rounded up to it, so B >= A holds in the written numbers too."""
        sb, sa = self.codecs[name].scale, self.codecs[base].scale
        a = np.where(a_null, 0, a)  # a null's placeholder (0 or NaN) is never compared
        if sb is not None and sa is not None and sb % sa == 0:
            lift = a * (sb // sa)  # exact on integer grids (an integer under a 2-decimal price)
        else:
            x = a / sa if sa is not None else a.astype(np.float64)
            if sb is not None:
                x = x * sb
                near = np.round(x)
                x = np.where(np.abs(x - near) < 1e-6, near, np.ceil(x)).astype(np.int64)
            lift = x
        both = ~null & ~a_null
        return np.where(both, np.maximum(v, lift), v), null

    def _lookups(self) -> list[tuple[str, str, Callable]]:
        """Per dependency (schema `dependencies`) whose columns are both modelled: (B, A, look), where
        look(A's decoded values) -> (B's decoded values, whether the lookup knows each key). A
        categorical key's values index its levels; an integer key's are its units, looked up among
        the real levels' (a binned key's draw between them is unknown: B keeps its own draw). Built once."""
        if self._lookup_tables is None:
            self._lookup_tables = []
            for dep in self.schema.dependencies:
                b, a = dep["column"], dep["by"]
                if any(c not in self.codecs or c in self.offsets or c in self.durations for c in (a, b)):
                    continue
                if getattr(self.codecs[a], "n_bins", 0):  # a binned integer key: its draws are not its row's
                    continue
                keys, ok = self._key_positions(a, dep["levels"])
                col = self.schema.column(b)
                if col.kind in NUMERIC_KINDS:
                    vals = self._as_units(b, dep["values"])
                else:
                    pos = {v: i for i, v in enumerate(col.categories or [])}
                    vals = np.array([pos.get(v, -1) for v in dep["values"]], dtype=np.int64)
                    ok &= vals >= 0
                self._lookup_tables.append((b, a, self._look(a, keys[ok], vals[ok])))
        return self._lookup_tables

    def _nestings(self) -> list[tuple[str, str, tuple | None, tuple | None, tuple | None]]:
        """Per nesting (schema `nestings`) whose B and A are modelled categories: (B, A, rare, every,
        seen): `rare` (A level [m], rare B level [m], cumulative rows [m]) over the levels B's rare
        token holds (None: none), `every` the same over all of B's levels, both sorted by A level,
        and `seen` (the sorted pair codes A level x B's level count + B level, that count); `every`
        and `seen` None for a schema that stored its rare levels' pairs only. Built once."""
        if self._nesting_tables is None:
            self._nesting_tables = []
            for nest in self.schema.nestings:
                b, a = nest["column"], nest["within"]
                codec = self.codecs.get(b)
                if not isinstance(codec, CategoryCodec) or not isinstance(self.codecs.get(a), CategoryCodec):
                    continue
                b_at = {v: i for i, v in enumerate(self.schema.column(b).categories or [])}
                a_at = {v: i for i, v in enumerate(self.schema.column(a).categories or [])}
                rows = sorted((a_at[av], b_at[bv], n) for bv, av, n in nest["pairs"] if bv in b_at and av in a_at)
                rare = _cumulative([r for r in rows if r[1] >= codec.n_kept])  # the levels the rare token holds
                if not nest.get("every_pair"):  # an older schema's pairs: its rare levels' only
                    if rare is not None:
                        self._nesting_tables.append((b, a, rare, None, None))
                    continue
                every = _cumulative(rows)
                if every is not None:
                    seen = np.unique(every[0] * len(b_at) + every[1])
                    self._nesting_tables.append((b, a, rare, every, (seen, len(b_at))))
        return self._nesting_tables

    def _key_positions(self, a: str, levels: list) -> tuple[np.ndarray, np.ndarray]:
        """The lookup's key levels as A decodes them (category indices, or units), and which exist."""
        col = self.schema.column(a)
        if col.kind in NUMERIC_KINDS:
            return self._as_units(a, levels), np.ones(len(levels), dtype=bool)
        at = {v: i for i, v in enumerate(col.categories or [])}
        keys = np.array([at.get(level, -1) for level in levels], dtype=np.int64)
        return keys, keys >= 0

    def _as_units(self, name: str, values: list) -> np.ndarray:
        typ = self.schema.model_type(name)
        return _units(
            self.schema.column(name), self.codecs[name].scale, pa.chunked_array([pa.array(values, type=typ)])
        )[0]

    def _look(self, a: str, keys: np.ndarray, vals: np.ndarray) -> Callable:
        if self.schema.column(a).kind not in NUMERIC_KINDS:  # a table over A's levels
            value, known = (
                np.zeros(self.codecs[a].n_cats, dtype=vals.dtype),
                np.zeros(self.codecs[a].n_cats, dtype=bool),
            )
            value[keys], known[keys] = vals, True
            return lambda key: (value[key], known[key])
        order = np.argsort(keys, kind="stable")
        keys, vals = keys[order], vals[order]

        def look(key: np.ndarray):
            at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            return vals[at], keys[at] == key

        return look

    def _rare_keys_agreeing(self, a: str, lookups: list, decoded: dict, rng: np.random.Generator):
        """Key A's decoded (levels, nulls) with each rare-token row's level redrawn, by the real
        frequencies, among the rare levels whose lookups give that row's decoded dependents.

        The rare token decodes to a rare level drawn regardless of the row, and the model drew the
        dependents with the rest of the row: writing them from that level broke the row (vega's
        cars: a Japanese car name on a row of an 8-cylinder American car). Rows whose dependents no
        rare level gives keep their draw (and take its lookups)."""
        idx, null = decoded[a]
        codec = self.codecs[a]
        if not isinstance(codec, CategoryCodec) or not codec.n_rare:  # an integer key has no rare token
            return idx, null
        rows = np.flatnonzero(~null & (idx >= codec.n_kept))
        if not len(rows):
            return idx, null
        levels = np.arange(codec.n_kept, codec.n_cats)
        # [levels, dependents] and [rows, dependents] in one space; inf: a level's unknown lookup, nan: a null draw
        want = np.stack([np.where(known, value, np.inf) for value, known in (lk[2](levels) for lk in lookups)], axis=1)
        got = np.stack([np.where(decoded[b][1][rows], np.nan, decoded[b][0][rows]) for b, _, _ in lookups], axis=1)
        keep = ~np.isnan(got).any(axis=1)
        rows, got = rows[keep], got[keep]
        _, group = np.unique(np.concatenate([want, got]).astype(np.float64), axis=0, return_inverse=True)
        group = group.reshape(-1)
        level_group, row_group = group[: len(levels)], group[len(levels) :]
        order = np.argsort(level_group, kind="stable")
        freq = np.asarray(self.schema.column(a).frequencies or [], dtype=np.float64)[codec.n_kept :][order]
        pick, has = _draw_in_groups(level_group[order], np.cumsum(freq), row_group, rng)
        idx = idx.copy()
        idx[rows[has]] = levels[order][pick[has]]
        return idx, null

    def _sum_of(self, name: str, parts: list[str], decoded: dict):
        """The total's values (units of its codec) as the sum of its parts' where every part is set;
        its own draw elsewhere, and its own nulls everywhere. On the total's grid the sum is rounded
        to it."""
        v, null = decoded[name]
        total, missing = np.zeros(len(v)), np.zeros(len(v), dtype=bool)
        for p in parts:
            a, a_null = decoded[p]
            scale = self.codecs[p].scale
            total += np.where(a_null, 0, a) / (scale or 1)
            missing |= a_null
        scale = self.codecs[name].scale
        if scale is not None:
            total = np.round(total * scale).astype(np.int64)
        return np.where(missing, v, total).astype(v.dtype), null

    def _date_part(self, dp: dict, v, null, d, d_null):
        """P's values (its units, or indexes into its levels) as the part of its date's value where
        the date is set (and set there); its own draw and null elsewhere, and where a name is not one
        of P's levels."""
        res = self.schema.column(dp["from"]).resolution
        part = part_values(dp["part"], np.where(d_null, np.datetime64("NaT"), d.astype(f"datetime64[{res}]")))
        if dp["part"] in NAMED_PARTS:
            at = {str(level).lower(): i for i, level in enumerate(self.schema.column(dp["column"]).categories or [])}
            names, inverse = np.unique(part.astype(str), return_inverse=True)  # a dozen names at most
            written = np.array([at.get(x, -1) for x in names], dtype=np.int64)[inverse]  # -1: not a level
            use = ~d_null & (written >= 0)
        else:
            written = np.nan_to_num(part).astype(np.int64)
            use = ~d_null & ~np.isnan(part)
        return np.where(use, written, v).astype(v.dtype, copy=False), null & ~use

    def _banded(self, band: dict, v, null, a, a_null):
        """B's values (indexes into its levels) as the band its number's value falls in where the
        number is set; its own draw elsewhere, and its own nulls everywhere."""
        at = {level: i for i, level in enumerate(self.schema.column(band["column"]).categories or [])}
        codes = np.array([at.get(level, -1) for level in band["levels"]], dtype=np.int64)
        written = codes[band_of(band, np.where(a_null, np.nan, a / (self.codecs[band["by"]].scale or 1)))]
        return np.where(a_null | (written < 0), v, written).astype(v.dtype, copy=False), null

    def _product_of(self, pr: dict, decoded: dict):
        """The product's values (units of its codec) as its factors' product where both are set; its
        own draw elsewhere, and its own nulls everywhere; also past its real range (as a total). On
        its grid, rounded to it."""
        name, (a_name, b_name) = pr["column"], pr["factors"]
        v, null = decoded[name]
        (a, a_null), (b, b_null) = decoded[a_name], decoded[b_name]
        product = (np.where(a_null, 0, a) / (self.codecs[a_name].scale or 1)) * (
            np.where(b_null, 0, b) / (self.codecs[b_name].scale or 1)
        )
        scale = self.codecs[name].scale
        if scale is not None:
            product = np.round(product * scale).astype(np.int64)
        return np.where(a_null | b_null, v, product).astype(v.dtype), null

    def _converted(self, cv: dict, v, null, a, a_null):
        """B's values (units of its codec) as the conversion of A's where A is set; its own draw
        elsewhere, and its own nulls everywhere (as the model drew them). On B's grid the value is
        rounded to it."""
        scale_a, scale_b = self.codecs[cv["from"]].scale, self.codecs[cv["column"]].scale
        y = convert(cv, np.where(a_null, 0, a) / (scale_a or 1))
        if scale_b is not None:
            y = np.round(y * scale_b)
        return np.where(a_null, v, y).astype(v.dtype), null

    def _at_least(self, name: str, base: str, v, null, a, a_null):
        """B's values raised to A's (in B's resolution, rounded up) where both are set."""
        res_b, res_a = self.schema.column(name).resolution, self.schema.column(base).resolution
        if np.timedelta64(1, res_a) < np.timedelta64(1, res_b):
            k = unit_ratio(res_b, res_a)
            a = -(-a // k)
        else:
            a = _rescale(a, res_a, res_b)
        both = ~null & ~a_null
        v = np.where(both, np.maximum(v, a), v)
        cal = self.schema.column(name).calendar  # raised to a day off B's grid: the next month (year) start
        return (calendar_ceil(v, cal) if cal else v), null

    def _row_sexes(self, decoded: dict) -> np.ndarray | None:
        """Per row 1 (male), 2 (female) or 0, from the schema's name_sex column where it is decoded."""
        spec = self.schema.name_sex
        if not spec or spec["column"] not in decoded or not isinstance(self.codecs[spec["column"]], CategoryCodec):
            return None
        return name_sex.row_sexes(spec, self.schema.column(spec["column"]).categories, *decoded[spec["column"]])

    def _fake_values(
        self, n: int, rng: np.random.Generator, row_offset: int = 0, sex: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """pii and text columns: one fake person per row; rows whose fake identifying values equal
        real ones get a new person (at most _REDRAW_ROUNDS times). `row_offset`: the first row's
        number in the whole output (unique e-mails carry row numbers); `sex`: _row_sexes."""
        composed = {c["column"] for c in self.schema.composites}
        cols = [
            c
            for c in self.schema.columns
            if c.name not in composed
            and (c.kind == "pii" or (c.kind == "text" and self.settings.get("text_strategy", "fake") == "fake"))
        ]
        if not cols or not n:
            return {}
        first, last = pii.fake_people(n, rng, sex)
        numbers = row_offset + np.arange(n, dtype=np.int64)
        out = {c.name: pii.fake_column(c.pii or "text", c.style or {}, first, last, rng, numbers) for c in cols}
        rows = np.arange(n)
        for _ in range(_REDRAW_ROUNDS):
            bad = self._real_hits(first[rows], last[rows], {k: v[rows] for k, v in out.items()})
            rows = rows[bad]
            if not len(rows):
                break
            f, l_ = pii.fake_people(len(rows), rng, None if sex is None else sex[rows])
            first[rows], last[rows] = f, l_
            for c in cols:
                out[c.name][rows] = pii.fake_column(c.pii or "text", c.style or {}, f, l_, rng, numbers[rows])
        return out

    def _real_hits(self, first, last, values: dict) -> np.ndarray:
        hit = np.zeros(len(first), dtype=bool)
        if self._names is not None:
            hit |= pii.hits(first + " " + last, self._names)
        for name, h in self._hashes.items():
            if name in values:
                hit |= pii.hits(values[name], h)
        return hit

    def condition_tokens(self, condition: dict) -> dict[int, int]:
        """{column: value} -> {token column index: token}; one-line errors for what cannot be met."""
        out = {}
        idx = {name: i for i, name in enumerate(self.codecs)}
        for name, value in condition.items():
            group = self.group_of.get(name)
            if group is not None:  # a one-hot flag: set means its group's code (synthgen/exclusive.py)
                flags = group["columns"]
                if not _is_one(value):
                    raise SynthgenError(
                        f"cannot condition on '{name}={value}': it is one of the one-hot flags {flags} "
                        f"(at most one set in any real row); condition on the flag that is set, as {name}=1"
                    )
                j, token = idx[flags[0]], self.codecs[flags[0]].token_of(flags.index(name) + 1)
                if out.get(j, token) != token:
                    raise SynthgenError(f"cannot set two of the one-hot flags {flags}: no real row sets two")
                out[j] = token
                continue
            if name not in idx:
                kind = self.schema.column(name).kind  # raises for an unknown column
                raise SynthgenError(f"cannot condition on '{name}': it is a {kind} column, which is not modelled")
            if name in self.offsets:
                raise SynthgenError(
                    f"cannot condition on '{name}': it is modelled as an offset from "
                    f"'{self.offsets[name]['base']}' (a date ordering); condition on that column"
                )
            span = next((sp for sp in self.spans if sp["derived"] == name), None)
            if span and name == span["column"]:
                raise SynthgenError(
                    f"cannot condition on '{name}': it is written as the days from '{span['start']}' "
                    f"to '{span['end']}' (a span); condition on those columns"
                )
            if span:
                other = span["end"] if name == span["start"] else span["start"]
                raise SynthgenError(
                    f"cannot condition on '{name}': it is written from '{other}' and the day count "
                    f"'{span['column']}' (a span); condition on those columns"
                )
            dp = next((x for x in self.date_parts if x["column"] == name), None)
            if dp:
                raise SynthgenError(
                    f"cannot condition on '{name}': it is written as the {dp['part']} of '{dp['from']}'; "
                    f"condition on '{dp['from']}'"
                )
            band = next((b for b in self.bands if b["column"] == name), None)
            if band:
                raise SynthgenError(
                    f"cannot condition on '{name}': it is written as the band '{band['by']}' falls in; "
                    f"condition on '{band['by']}'"
                )
            product = next((pr for pr in self.products if pr["column"] == name), None)
            if product:
                a, b = product["factors"]
                raise SynthgenError(
                    f"cannot condition on '{name}': it is written as '{a}' x '{b}' (a product); "
                    f"condition on those columns"
                )
            age = next((a for a in self.schema.ages if a["born"] == name and a["column"] in idx), None)
            if age:
                raise SynthgenError(
                    f"cannot condition on '{name}': it is written from the age '{age['column']}' "
                    f"and {repr(age['at']) if age['at'] else 'the day ' + age['day']} "
                    f"(an age relation); condition on '{age['column']}'"
                )
            col = self.schema.column(name)
            if col.codec and isinstance(value, str):
                value = text_codecs.parse(col.codec, pa.array([value], pa.large_string()))[0].as_py()
                if value is None:
                    raise SynthgenError(
                        f"cannot condition on '{name}': the value is not written like its "
                        f"real values (format {col.codec.get('format', col.codec['type'])})"
                    )
            out[idx[name]] = self.codecs[name].token_of(value)
        return out


# ---- one-hot groups -------------------------------------------------------------------------------
def carriers(schema: TableSchema) -> dict[str, dict]:
    """The schema's one-hot groups by the flag whose codec carries each (its first, most often set)."""
    return {g["columns"][0]: g for g in schema.exclusive}


def group_codec(group: dict) -> CategoryCodec:
    """A one-hot group's column (synthgen/exclusive.py) as a category of its codes, every level kept:
    a token per flag and one for "none" where rows set none."""
    levels, counts = exclusive.level_order(group)
    col = ColumnSchema(
        group["columns"][0], "categorical", "int64", 0.0, len(levels), categories=levels, frequencies=counts
    )
    return CategoryCodec(col, pa.int64(), False, len(levels))


def _is_one(value) -> bool:
    """Whether a condition's value sets a flag: 1, 1.0, True or their text."""
    if isinstance(value, str):
        value = value.strip().lower()
        return value in ("1", "1.0", "true")
    try:
        return float(value) == 1
    except (TypeError, ValueError):
        return False


# ---- dates as offsets, personal data -------------------------------------------------------------
def _in_days(v: np.ndarray, res: str) -> np.ndarray:
    """int datetimes in `res` units -> whole days since 1970 (floored)."""
    if np.timedelta64(1, res) < np.timedelta64(1, "D"):
        return np.floor_divide(v, unit_ratio("D", res))
    return _rescale(v, res, "D")


def _offsets(base: ColumnSchema, a_arr, col: ColumnSchema, b_arr) -> tuple[np.ndarray, np.ndarray, str]:
    """(B - A in the finer of the two resolutions, null where B or A is null, that unit)."""
    unit = base.resolution if np.timedelta64(1, base.resolution) < np.timedelta64(1, col.resolution) else col.resolution
    out = []
    for c, arr in ((base, a_arr), (col, b_arr)):
        ints, null, u = temporal_ints(plain_values(arr))
        out.append((_rescale(_rescale(ints, u, c.resolution), c.resolution, unit), null))
    (a, na), (b, nb) = out
    null = na | nb
    return np.where(null, 0, b - a), null, unit


def _first_day(start: ColumnSchema) -> int:
    """The start column's earliest real day (int64 days): where a duration's start is missing."""
    return int(_rescale(np.array([int(start.min)]), start.resolution, "D")[0]) if start.min is not None else 0


def _ends_on_day(start: ColumnSchema, start_arr, col: ColumnSchema, n_arr, day: int):
    """A duration N's (values, null mask, whether start + N is the fixed day), int64 days."""
    ints, s_null, unit = temporal_ints(plain_values(start_arr))
    days = np.where(s_null, _first_day(start), _rescale(ints, unit, "D"))
    n, null = _units(col, 1, n_arr)
    return n, null, ~null & ~s_null & (days + n == day)


def _offset_column(col: ColumnSchema, o: dict) -> ColumnSchema:
    """The integer column the model sees for a date modelled as base + offset (units of o['unit'])."""
    return ColumnSchema(
        name=col.name,
        kind="integer",
        arrow_type="int64",
        null_share=col.null_share,
        n_unique=0,
        min=o["min"],
        max=o["max"],
    )


def _real_hashes(table: pa.Table, schema: TableSchema) -> dict[str, str]:
    """Packed hashes of the real identifying values: full names and first + last pairs ("names"),
    and each e-mail, phone and address column. A first or last name alone is not identifying."""
    out, names = {"names": None, "columns": {}}, []
    pcols = {c.pii: c.name for c in schema.columns if c.kind == "pii"}
    for c in schema.columns:
        if c.kind == "pii" and c.pii in pii.IDENTIFYING:
            vals = plain_values(table.column(c.name)).to_pylist()
            if c.pii == "full_name":
                names.extend(vals)
            else:
                out["columns"][c.name] = pii.pack(pii.value_hashes(vals))
    if "first_name" in pcols and "last_name" in pcols:
        f = plain_values(table.column(pcols["first_name"])).to_pylist()
        l_ = plain_values(table.column(pcols["last_name"])).to_pylist()
        names.extend(f"{a} {b}" for a, b in zip(f, l_) if a is not None and b is not None)
    if names:
        out["names"] = pii.pack(pii.value_hashes(names))
    return out


def _with_nulls(values: np.ndarray, typ: pa.DataType, rng: np.random.Generator, null_share: float) -> pa.Array:
    n = len(values)
    mask = rng.random(n) < null_share if null_share > 0 and n else None
    vt = typ.value_type if pa.types.is_dictionary(typ) else typ
    out = pa.array(values, type=pa.large_string(), mask=mask).cast(vt)
    return out.dictionary_encode().cast(typ) if pa.types.is_dictionary(typ) else out


# ---- identifiers -------------------------------------------------------------------------------
def _id_format(name: str, arr: pa.ChunkedArray, typ: pa.DataType) -> dict:
    """Learn the key format, such that no generated key can equal a real one.

    - whole numbers: count up from max + 1 ("int");
    - strings with one shared prefix and suffix around a number, e.g. "CUST-000123": the same
      prefix, suffix and zero padding, numbered from the largest real number + 1 ("pattern");
    - UUIDs: version-8 UUIDs built from a counter, when no real key is version 8 ("uuid");
    - other ASCII keys of one common shape ("ABQ", "N101UW"): new keys of that shape, none equal
      to a real one ("shape", synthgen/encoders/key_shapes.py);
    - names of things, mostly words ("Alva Regional"): new names in the real ones' wording, none
      equal to a real one ("words", synthgen/encoders/name_templates.py);
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
            return {
                "type": "pattern",
                "prefix": prefix[0].as_py(),
                "suffix": suffix[0].as_py(),
                "width": width,
                "start": top + 1,
            }
    prefix = f"{name}-syn-"
    while pc.any(pc.starts_with(valid, prefix)).as_py():  # ends: each round is longer than before
        prefix = prefix[:-1] + "x-"
    fresh = {"type": "pattern", "prefix": prefix, "suffix": "", "width": 9, "start": 1}
    shape = key_shape(name, valid.combine_chunks())
    if shape is None:
        words = name_templates(valid.combine_chunks())  # names of things: "Alva Regional"
        return fresh if words is None else {**words, "type": "words", "fresh": fresh}
    # the rows the shape leaves out get counter keys, whose length then differs from the shape's
    fresh["width"] = 9 if len(prefix) + 9 != len(shape["alphabets"]) else 10
    return {**shape, "type": "shape", "fresh": fresh}


def _make_ids(
    name: str,
    fmt: dict,
    n: int,
    row_offset: int,
    typ: pa.DataType,
    rng: np.random.Generator,
    null_share: float,
    rows: np.ndarray | None = None,
) -> pa.Array:
    """n fresh keys numbered from row_offset (or for the numbers `rows` [n]), with nulls at the real
    null share (drawn from rng)."""
    rows = np.arange(row_offset, row_offset + n, dtype=np.int64) if rows is None else rows
    nums = fmt.get("start", 0) + rows
    vt = typ.value_type if pa.types.is_dictionary(typ) else typ
    if fmt["type"] == "int":
        if pa.types.is_integer(vt) and n:
            top = np.iinfo(vt.to_pandas_dtype()).max
            if nums.max() > top:
                raise SynthgenError(
                    f"identifier column '{name}' ({vt}) has no room for {n} fresh keys above "
                    f"its real maximum; widen its type, e.g. to int64"
                )
        out = pa.array(nums)
    elif fmt["type"] == "uuid":
        out = _uuid_strings(fmt["salt"], nums, fmt["upper"])
    elif fmt["type"] in ("shape", "words"):  # drawn keys; the rows that got none: counter keys
        if fmt["type"] == "shape":
            out, got = shaped_keys(fmt, nums, rng)
        else:
            names, got = templated_names(fmt, n, rng)
            out = pa.array(names, type=pa.string())
        if not got.all():
            out = pc.if_else(pa.array(got), out, _make_ids(name, fmt["fresh"], n, 0, pa.string(), rng, 0, rows))
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
    out = fixed_width_strings(buf)
    return pc.utf8_upper(out) if upper else out


def _rare_within(idx, null, a_idx, a_null, n_kept: int, within: tuple, rng: np.random.Generator):
    """B's decoded (levels, nulls) with each rare-token row's level redrawn among the rare levels seen
    with the row's A level, by their rows with it (synthgen/nesting.py); rows whose A level no rare B
    level was seen with, or whose A is null, keep their draw. `within`: (A level, B level, cumulative
    rows), sorted by A level."""
    rows = np.flatnonzero(~null & (idx >= n_kept) & ~a_null)
    if not len(rows):
        return idx, null
    at, level, cum = within
    pick, has = _draw_in_groups(at, cum, a_idx[rows], rng)
    idx = idx.copy()
    idx[rows[has]] = level[pick[has]]
    return idx, null


def _cumulative(rows: list[tuple]) -> tuple | None:
    """Sorted (A level, B level, rows) triples -> (A levels, B levels, cumulative rows), None if none."""
    if not rows:
        return None
    at, level, n = (np.array(x, dtype=np.int64) for x in zip(*rows))
    return at, level, np.cumsum(n, dtype=np.float64)


def _unseen_pairs_redrawn(idx, null, a_idx, a_null, every: tuple, seen: np.ndarray, n_b: int, rng):
    """B's decoded (levels, nulls) with each row whose (B, A) pair the real rows never show redrawn
    among the B levels seen with its A level, by their rows (synthgen/nesting.py); rows whose A level
    no B level was seen with keep their draw. `every`: (A level, B level, cumulative rows), sorted by
    A level; `seen`: sorted codes A level x n_b + B level (n_b: B's number of levels)."""
    at, level, cum = every
    rows = np.flatnonzero(~null & ~a_null & ~np.isin(a_idx.astype(np.int64) * n_b + idx, seen))
    if not len(rows):
        return idx, null
    pick, has = _draw_in_groups(at, cum, a_idx[rows], rng)
    idx = idx.copy()
    idx[rows[has]] = level[pick[has]]
    return idx, null


def _draw_in_groups(group: np.ndarray, cum: np.ndarray, want: np.ndarray, rng: np.random.Generator):
    """For each wanted group, one candidate drawn by weight among the candidates of that group ->
    (candidate positions [n], whether the group has any [n]). `group` [m]: the candidates' groups,
    sorted; `cum` [m]: their cumulative weights in that order; `want` [n]: each row's group."""
    first = np.searchsorted(group, want, side="left")
    last = np.searchsorted(group, want, side="right")
    lo = np.where(first > 0, cum[np.maximum(first - 1, 0)], 0.0)
    hi = cum[np.maximum(last - 1, 0)]
    pick = np.searchsorted(cum, lo + rng.random(len(want)) * (hi - lo), side="right")
    return np.clip(pick, first, np.maximum(last - 1, first)), last > first
