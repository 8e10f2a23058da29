"""Per-column token codecs, vectorised with numpy/Arrow (no per-row Python).

NumericCodec: continuous, integer and datetime columns. Frequent exact values ("spikes", e.g. the
zeros of capital_gain) and the values of low-cardinality integers get a token each and decode
exactly; the rest falls into quantile bins and decodes to a uniform draw inside the bin, which
follows the real marginal to within one bin. This is the token form of mode-specific
normalisation: the bin is the mode, the draw the position in it.

CategoryCodec: categorical and boolean columns. The most frequent levels (at most
`max_categories`, each seen at least `rare_min_count` times) get a token each; the remaining
levels share one "rare" token that decodes by drawing a rare level with its real frequency,
so a 50,000-level column costs one token and a frequency table.

Each codec reserves token 0 for null when the real column had nulls.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.errors import SynthgenError
from synthgen.schema import ColumnSchema


class NumericCodec:
    def __init__(self, col: ColumnSchema, has_null: bool, points: np.ndarray, edges: np.ndarray):
        self.col, self.has_null = col, has_null
        self.points = np.asarray(points, dtype=np.float64)  # exact values, sorted
        self.edges = np.asarray(edges, dtype=np.float64)  # bin edges, sorted, len = n_bins + 1 (or 0)
        self.n_bins = max(len(self.edges) - 1, 0)
        self.cardinality = int(has_null) + len(self.points) + self.n_bins

    # ---- fitting and state -------------------------------------------------------------------
    @classmethod
    def fit(cls, col: ColumnSchema, arr: pa.ChunkedArray, n_bins: int) -> "NumericCodec":
        v = to_float(col, arr)
        valid = v[~np.isnan(v)]
        uniq, counts = np.unique(valid, return_counts=True)
        if len(uniq) <= n_bins:
            return cls(col, bool(np.isnan(v).any()), uniq, np.empty(0))
        spike = counts >= len(valid) / n_bins  # a value worth a whole bin or more
        points = uniq[spike]
        rest = valid[~np.isin(valid, points)]
        edges = np.unique(np.quantile(rest, np.linspace(0, 1, n_bins - len(points) + 1)))
        if len(edges) < 2:
            edges = np.empty(0)
        return cls(col, bool(np.isnan(v).any()), points, edges)

    def state(self) -> dict:
        return {"has_null": self.has_null, "points": self.points.tolist(), "edges": self.edges.tolist()}

    @classmethod
    def from_state(cls, col: ColumnSchema, s: dict) -> "NumericCodec":
        return cls(col, s["has_null"], np.array(s["points"]), np.array(s["edges"]))

    # ---- encode / decode ---------------------------------------------------------------------
    def encode(self, arr: pa.ChunkedArray) -> np.ndarray:
        v = to_float(self.col, arr)
        null = np.isnan(v)
        if null.any() and not self.has_null:
            raise SynthgenError(f"column '{self.col.name}' has nulls, but the encoder was fitted without any")
        tok = np.zeros(len(v), dtype=np.int64)
        base = int(self.has_null)
        is_point = np.zeros(len(v), dtype=bool)
        if len(self.points):
            i = np.clip(np.searchsorted(self.points, v), 0, len(self.points) - 1)
            is_point = (self.points[i] == v) & ~null
            tok[is_point] = base + i[is_point]
        if self.n_bins:
            b = np.clip(np.searchsorted(self.edges, v, side="right") - 1, 0, self.n_bins - 1)
            in_bin = ~is_point & ~null
            tok[in_bin] = base + len(self.points) + b[in_bin]
        elif (~is_point & ~null).any():
            # Only exact values known: map unseen values to the nearest one.
            i = np.abs(v[:, None] - self.points[None, :]).argmin(1) if len(v) < 100_000 else None
            if i is None:
                raise SynthgenError(f"column '{self.col.name}' has values the encoder never saw")
            sel = ~is_point & ~null
            tok[sel] = base + i[sel]
        return tok

    def token_of(self, value) -> int:
        return int(self.encode(pa.chunked_array([pa.array([value])]))[0])

    def decode(self, tok: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """tokens [n] -> (float64 values [n], null mask [n])."""
        base = int(self.has_null)
        null = tok < base if self.has_null else np.zeros(len(tok), dtype=bool)
        k = tok - base
        out = np.zeros(len(tok), dtype=np.float64)
        is_point = (k >= 0) & (k < len(self.points))
        out[is_point] = self.points[k[is_point]]
        if self.n_bins:
            sel = k >= len(self.points)
            b = np.clip(k[sel] - len(self.points), 0, self.n_bins - 1)
            lo, hi = self.edges[b], self.edges[b + 1]
            out[sel] = lo + rng.random(len(b)) * (hi - lo)
        c = self.col
        if c.kind == "continuous":
            out = np.round(out, c.decimals or 0) if c.decimals is not None else out
        else:
            out = np.round(out)
        np.clip(out, c.min, c.max, out=out)
        return out, null

    def to_arrow(self, values: np.ndarray, null: np.ndarray, typ: pa.DataType) -> pa.Array:
        c = self.col
        if c.kind == "datetime":
            unit = _arrow_unit(c.resolution)
            per = np.timedelta64(1, c.resolution) // np.timedelta64(1, unit)
            ints = pa.array(values.astype(np.int64) * per, mask=null, type=pa.int64())
            return ints.cast(pa.timestamp(unit, tz=getattr(typ, "tz", None))).cast(typ)
        if pa.types.is_integer(typ):
            return pa.array(values.astype(np.int64), mask=null).cast(typ)
        return pa.array(values, mask=null, type=pa.float64()).cast(typ)


class CategoryCodec:
    def __init__(self, col: ColumnSchema, has_null: bool, kept: list, rare: list, rare_freq: list[int]):
        self.col, self.has_null = col, has_null
        self.kept, self.rare = list(kept), list(rare)
        rf = np.asarray(rare_freq, dtype=np.float64)
        self.rare_p = rf / rf.sum() if len(rf) else rf
        self.cardinality = int(has_null) + len(self.kept) + int(bool(self.rare))

    @classmethod
    def fit(cls, col: ColumnSchema, arr: pa.ChunkedArray, max_categories: int, rare_min_count: int) -> "CategoryCodec":
        cats, freq = col.categories or [], col.frequencies or []
        n_keep = sum(1 for f in freq[:max_categories] if f >= rare_min_count)
        if n_keep == 0 and cats:  # never leave a column with only the rare token
            n_keep = 1
        return cls(col, arr.null_count > 0, cats[:n_keep], cats[n_keep:], freq[n_keep:])

    def state(self) -> dict:
        p = self.rare_p.tolist()
        return {"has_null": self.has_null, "kept": self.kept, "rare": self.rare, "rare_p": p}

    @classmethod
    def from_state(cls, col: ColumnSchema, s: dict) -> "CategoryCodec":
        c = cls(col, s["has_null"], s["kept"], s["rare"], [])
        c.rare_p = np.asarray(s["rare_p"], dtype=np.float64)
        return c

    def _value_type(self, arr_type: pa.DataType) -> pa.DataType:
        return arr_type.value_type if pa.types.is_dictionary(arr_type) else arr_type

    def encode(self, arr: pa.ChunkedArray) -> np.ndarray:
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        base = int(self.has_null)
        idx = pc.index_in(arr, value_set=pa.array(self.kept, type=arr.type))
        null = arr.is_null().to_numpy(zero_copy_only=False)
        if null.any() and not self.has_null:
            raise SynthgenError(f"column '{self.col.name}' has nulls, but the encoder was fitted without any")
        found = idx.is_valid().to_numpy(zero_copy_only=False)
        tok = np.full(len(arr), base + len(self.kept), dtype=np.int64)  # rare unless found
        tok[found] = base + idx.to_numpy(zero_copy_only=False)[found].astype(np.int64)
        tok[null] = 0
        if (~found & ~null).any() and not self.rare:
            bad = pc.filter(arr, pa.array(~found & ~null))[0].as_py()
            raise SynthgenError(f"column '{self.col.name}' has value {bad!r}, which the real data never had")
        return tok

    def token_of(self, value) -> int:
        if value is None:
            if not self.has_null:
                raise SynthgenError(f"column '{self.col.name}' never is null in the real data; cannot condition on null")
            return 0
        if value in self.kept:
            return int(self.has_null) + self.kept.index(value)
        hint = ", ".join(map(str, self.kept[:8]))
        raise SynthgenError(f"column '{self.col.name}' has no value {value!r} among its frequent real values; "
                            f"use one of: {hint}{', ...' if len(self.kept) > 8 else ''}")

    def decode(self, tok: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """tokens [n] -> (indices into kept + rare [n], null mask [n])."""
        base = int(self.has_null)
        null = tok < base if self.has_null else np.zeros(len(tok), dtype=bool)
        idx = np.clip(tok - base, 0, len(self.kept) + int(bool(self.rare)) - 1)
        is_rare = idx == len(self.kept)
        if is_rare.any():
            idx = idx.copy()
            idx[is_rare] = len(self.kept) + rng.choice(len(self.rare), size=int(is_rare.sum()), p=self.rare_p)
        return idx, null

    def to_arrow(self, idx: np.ndarray, null: np.ndarray, typ: pa.DataType) -> pa.Array:
        value_type = self._value_type(typ)
        dictionary = pa.array(self.kept + self.rare, type=value_type)
        out = pa.DictionaryArray.from_arrays(pa.array(idx.astype(np.int32), mask=null), dictionary)
        return out if pa.types.is_dictionary(typ) else out.cast(value_type)


def to_float(col: ColumnSchema, arr: pa.ChunkedArray) -> np.ndarray:
    """Numeric or datetime column -> float64 with NaN for nulls (datetimes in resolution units)."""
    if col.kind == "datetime":
        if pa.types.is_date(arr.type):
            arr = arr.cast(pa.timestamp("s"))
        unit = _arrow_unit(col.resolution)
        ints = pc.cast(pc.cast(arr, pa.timestamp(unit, tz=getattr(arr.type, "tz", None))), pa.int64())
        per = np.timedelta64(1, col.resolution) // np.timedelta64(1, unit)
        v = ints.to_numpy(zero_copy_only=False).astype(np.float64)
        return np.floor_divide(v, per) if per > 1 else v
    return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def _arrow_unit(res: str) -> str:
    """Arrow timestamps only have s/ms/us/ns; coarser resolutions are stored in seconds."""
    return res if res in ("s", "ms", "us", "ns") else "s"


__all__ = ["NumericCodec", "CategoryCodec", "to_float"]
