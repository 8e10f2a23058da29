"""What each generated table row must carry: fixed values, condition rows, rebalancing.

Three sources, combinable as long as they fix different columns:
- `generate.condition.<col>=<value>`: the same value in every row;
- `generate.condition_file=rows.parquet` (or CSV): row i of the output gets row i's values; a null
  cell leaves that column free; the output has as many rows as the file (generate.n_rows must be
  null or equal);
- `generate.rebalance.column=<col>` (categorical or boolean): its levels are spread over the
  rows, equally by default; `generate.rebalance.share=0.5` gives that share to one level
  (`generate.rebalance.value`, default the rarest real level) and the rest to the other levels in
  their real proportions. The assignment is shuffled with the run's seed, so every chunk is mixed.

`tokens(start, n)` gives int64 [n, C] with -1 where a column is free (what the families take);
`fix_values(table, start)` writes the exact requested values into a decoded chunk, since a
numeric value is modelled as a bin and the decoder would otherwise draw a value inside it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen import seeding
from synthgen.errors import SynthgenError
from synthgen.io import read_table


class RowConditions:
    def __init__(
        self, enc, n_rows: int | None, condition: dict, condition_file: str | None, rebalance: dict, seed: int
    ):
        self.enc = enc
        self.condition, self.condition_file = condition, condition_file
        self.names = list(enc.layout.columns)
        self.fixed = enc.condition_tokens(condition)  # {column index: token}, every row
        # the values written into each decoded row (a one-hot flag's group token writes it exactly)
        self.fixed_values = {name: v for name, v in condition.items() if name not in enc.group_of}
        self.file_tokens, self.file_values = {}, {}  # {column index: int64 [N]}, {name: pa.Array}
        if condition_file:
            n_file = self._read_file(condition_file)
            if n_rows not in (None, n_file):
                raise SynthgenError(
                    f"generate.n_rows={n_rows} but {condition_file} has {n_file} condition rows; "
                    f"leave generate.n_rows null"
                )
            n_rows = n_file
        self.n_rows = int(n_rows if n_rows is not None else enc.schema.n_rows)
        if self.n_rows < 1:
            raise SynthgenError("generate.n_rows must be positive")
        self.rebalance_info = {}
        self.rebalance_col, self.rebalance_tokens = None, None
        if rebalance.get("column"):
            self._plan_rebalance(rebalance, seed)

    # ---- sources ---------------------------------------------------------------------------------
    def _read_file(self, path) -> int:
        table = read_table(path, key="generate.condition_file", training=False)
        unknown = [c for c in table.column_names if c not in self.names]
        flags = [c for c in unknown if c in self.enc.group_of]
        if flags:
            raise SynthgenError(
                f"{path}: column '{flags[0]}' is one of the one-hot flags {self.enc.group_of[flags[0]]['columns']}, "
                f"which a condition file cannot fix yet; use generate.condition.{flags[0]}=1"
            )
        if unknown:
            raise SynthgenError(
                f"{path}: column(s) {unknown} are not modelled columns; condition on some of {self.names}"
            )
        for name in table.column_names:
            j = self.names.index(name)
            if j in self.fixed:
                raise SynthgenError(f"column '{name}' is fixed by generate.condition and by {path}; keep one")
            col = table.column(name).combine_chunks()
            valid = col.is_valid().to_numpy(zero_copy_only=False)
            values = col.drop_null()
            uniques = pc.unique(values).to_pylist()
            lookup = {v: self.enc.codecs[name].token_of(v) for v in uniques}  # one-line error per bad value
            tokens = np.full(len(col), -1, np.int64)
            tokens[valid] = [lookup[v] for v in values.to_pylist()]
            self.file_tokens[j], self.file_values[name] = tokens, col
        return len(table)

    def _plan_rebalance(self, spec: dict, seed: int) -> None:
        name = spec["column"]
        if name in self.enc.group_of:
            raise SynthgenError(
                f"cannot rebalance '{name}': it is one of the one-hot flags {self.enc.group_of[name]['columns']}, "
                f"modelled as one column; fix one with generate.condition.{name}=1 instead"
            )
        if name not in self.names:
            kind = self.enc.schema.column(name).kind  # one-line error for an unknown column
            raise SynthgenError(f"cannot rebalance '{name}': it is a {kind} column, which is not modelled")
        j = self.names.index(name)
        col = self.enc.schema.column(name)
        if col.kind not in ("categorical", "boolean"):
            raise SynthgenError(f"generate.rebalance.column={name} is {col.kind}; rebalance a categorical column")
        if j in self.fixed or j in self.file_tokens:
            raise SynthgenError(f"column '{name}' is both rebalanced and fixed by a condition; keep one")
        real_freq = dict(zip(col.categories, col.frequencies))
        levels = [v for v in self.enc.codecs[name].kept if v is not None]  # levels the model has a token for
        freq = np.array([real_freq.get(v, 1) for v in levels], np.float64)
        tokens = np.array([self.enc.codecs[name].token_of(v) for v in levels], np.int64)
        share = spec.get("share")
        if share is None:
            weights = np.ones(len(levels))
        else:
            share = float(share)
            if not 0 < share < 1:
                raise SynthgenError(f"generate.rebalance.share={share} must lie strictly between 0 and 1")
            value = spec.get("value")
            k = int(np.argmin(freq)) if value is None else _level_index(levels, value, name)
            others = np.delete(freq, k)
            weights = np.insert(others / others.sum() * (1 - share), k, share)
        counts = largest_remainder(self.n_rows, weights / weights.sum())
        assign = seeding.numpy_rng(seeding.REBALANCE, seed).permutation(np.repeat(np.arange(len(levels)), counts))
        self.rebalance_col, self.rebalance_tokens = j, tokens[assign]
        self.rebalance_info = {"column": name, "counts": {str(v): int(c) for v, c in zip(levels, counts)}}

    # ---- per chunk ---------------------------------------------------------------------------------
    def tokens(self, start: int, n: int):
        import torch

        t = np.full((n, len(self.names)), -1, np.int64)
        for j, tok in self.fixed.items():
            t[:, j] = tok
        for j, toks in self.file_tokens.items():
            t[:, j] = toks[start : start + n]
        if self.rebalance_col is not None:
            t[:, self.rebalance_col] = self.rebalance_tokens[start : start + n]
        return torch.from_numpy(t)

    def fix_values(self, table: pa.Table, start: int) -> pa.Table:
        """Put the requested values into a decoded chunk (rows start .. start + len(table))."""
        n = len(table)
        for name, value in self.fixed_values.items():
            table = _set(table, name, pa.array([value] * n), None)
        for name, col in self.file_values.items():
            part = col.slice(start, n)
            table = _set(table, name, part, part.is_valid())
        return table

    @property
    def active(self) -> bool:
        return bool(self.fixed or self.file_tokens or self.rebalance_col is not None)

    @property
    def info(self) -> dict:
        """What the manifest records about the conditions."""
        path = str(self.condition_file) if self.condition_file else None
        return {"condition": self.condition, "condition_file": path, "rebalance": self.rebalance_info}


def _set(table: pa.Table, name: str, values: pa.Array, mask) -> pa.Table:
    i = table.schema.get_field_index(name)
    typ = table.schema.field(i).type
    try:
        values = values.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise SynthgenError(f"condition values for '{name}' do not fit its type {typ}: {e}") from None
    col = table.column(i).combine_chunks()
    new = values if mask is None else pc.if_else(mask, values, col)
    return table.set_column(i, table.schema.field(i), new)


def _level_index(levels: list, value, name: str) -> int:
    for i, v in enumerate(levels):
        if v == value or str(v) == str(value):
            return i
    raise SynthgenError(f"generate.rebalance.value={value!r} is not a level of '{name}' (levels: {levels[:10]})")


def largest_remainder(n: int, p: np.ndarray) -> np.ndarray:
    """Whole counts summing to n, as close to n * p as rounding allows."""
    exact = n * p
    k = np.floor(exact).astype(np.int64)
    k[np.argsort(-(exact - k), kind="stable")[: n - int(k.sum())]] += 1
    return k
