"""Per-column token codecs, vectorised with numpy/Arrow (no per-row Python).

NumericCodec: continuous, integer and datetime columns. Frequent exact values ("spikes", e.g. the
zeros of capital_gain) and the values of low-cardinality columns get a token each and decode
exactly; the rest falls into quantile bins. A binned token decodes to a draw inside its bin that
follows the real values within the bin: each bin keeps KNOTS + 1 within-bin quantiles (real
values), the draw picks one of the KNOTS equal-mass pieces and a uniform position in it, and a
piece whose ends coincide (a frequent value inside the bin, e.g. capital_gain's 99999) decodes
to that value exactly. This is the token form of mode-specific normalisation: the bin is the
mode, the draw the position in it. (A plain uniform draw per bin lost 0.007-0.008 of KS
complement on Adult's fnlwgt and capital_gain, whose top bins are long and lumpy.)

Values are handled in "units": int64 grid steps for integers, datetimes (steps of the column's
resolution, in local wall-clock time; months or years for dates on a calendar grid, schema.calendar_of_days)
and continuous columns with a decimal precision (value * 10**decimals); float64 for continuous
columns without one. Bin edges are real values; bin b covers [edges[b], edges[b+1]) and the last
bin also its upper edge. On a grid the draw is uniform over the bin's steps that are not
exact-value tokens, so every decoded value encodes back to the token it came from, and lies
inside the real [min, max].

CategoryCodec: categorical and boolean columns. The most frequent levels (at most
`max_categories`, each seen at least `rare_min_count` times, or SPARSE_LEVEL_ROWS times in a column
whose rows mostly sit in levels seen fewer times: sparse_column) get a token each; the remaining
levels share one "rare" token that decodes by drawing a rare level with its real frequency,
so a 50,000-level column costs one token. The levels and their frequencies live in the schema
(saved once); the codec state is two numbers.

Each codec reserves token 0 for null when the real column had nulls.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.errors import SynthgenError
from synthgen.schema import (
    ColumnSchema,
    from_calendar,
    is_string_type,
    is_temporal_type,
    plain_values,
    temporal_ints,
    temporal_unit,
    to_calendar,
    unit_ratio,
)

KNOTS = 16  # equal-mass pieces per bin for the within-bin draw
_GRID_LIMIT = 2**53  # a continuous grid needs |value| * 10**decimals below this (exact in float64)


def _chunked(arr) -> pa.ChunkedArray:
    return pa.chunked_array([arr]) if isinstance(arr, pa.Array) else arr


def lookup(arr, value_set: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 [n] position of each row's value in value_set, -1 when absent or null; bool [n] null).
    A dictionary column is looked up once per level and taken by its indices (a streamed part is
    read so: one hash per level, not one per row). Raises Arrow's error when the values cannot be
    cast to value_set's type."""
    arr = _chunked(arr)
    if pa.types.is_dictionary(arr.type) and all(c.dictionary.null_count == 0 for c in arr.chunks):
        pos, null = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=bool)]
        for c in arr.chunks:
            levels = pc.index_in(c.dictionary.cast(value_set.type), value_set=value_set)
            at = np.append(levels.fill_null(-1).to_numpy().astype(np.int64), -1)  # [levels + 1]: -1 for null rows
            missing = c.indices.is_null().to_numpy(zero_copy_only=False)
            i = c.indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.intp)
            i[missing] = len(at) - 1
            pos.append(at[i])
            null.append(missing)
        return np.concatenate(pos), np.concatenate(null)
    arr = plain_values(arr)
    idx = pc.index_in(arr.cast(value_set.type), value_set=value_set)
    return idx.fill_null(-1).to_numpy().astype(np.int64), arr.is_null().to_numpy(zero_copy_only=False)


class NumericCodec:
    def __init__(
        self, col: ColumnSchema, typ: pa.DataType, has_null: bool, points, edges, scale: int | None, knots=None
    ):
        self.col, self.typ, self.has_null = col, typ, bool(has_null)
        self.scale = scale  # None: float units (no grid); else int units = value * scale (1 for ints/datetimes)
        dtype = np.float64 if scale is None else np.int64
        self.points = np.asarray(points, dtype=dtype)  # exact values (units), sorted
        self.edges = np.asarray(edges, dtype=dtype)  # bin edges (units), sorted; empty when no bins
        self.n_bins = max(len(self.edges) - 1, 0)
        # [n_bins, KNOTS + 1] within-bin quantiles (real values, units); None: uniform over the bin
        self.knots = None if knots is None else np.asarray(knots, dtype=dtype).reshape(self.n_bins, -1)
        self.cardinality = int(self.has_null) + len(self.points) + self.n_bins
        self._lut, self._lut_lo = None, 0  # encode's lookup table, built on first use
        self._prepare_draws()

    @property
    def grid(self) -> bool:
        return self.scale is not None

    # ---- fitting and state -------------------------------------------------------------------
    @classmethod
    def fit(cls, col: ColumnSchema, arr: pa.ChunkedArray, n_bins: int) -> "NumericCodec":
        scale = _scale_of(col)
        u, null = _units(col, scale, arr)
        return cls.fit_units(col, arr.type, u[~null], bool(null.any()), n_bins)

    @classmethod
    def fit_units(
        cls, col: ColumnSchema, typ: pa.DataType, valid: np.ndarray, has_null: bool, n_bins: int
    ) -> "NumericCodec":
        """Fit from the non-null values in units (encoders/dp_stats.py passes values drawn from a
        DP histogram)."""
        scale = _scale_of(col)
        uniq, counts = np.unique(valid, return_counts=True)
        if len(uniq) <= n_bins:
            return cls(col, typ, has_null, uniq, np.empty(0), scale)
        spike = counts >= len(valid) / n_bins  # a value worth a whole bin or more
        points = uniq[spike]
        rest, rest_n = uniq[~spike], counts[~spike]
        nb = max(n_bins - len(points), 1)
        # Quantile edges that are real values (inverted CDF): the value at each rank total*j/nb.
        cum = np.cumsum(rest_n)
        ranks = cum[-1] * np.arange(1, nb) / nb
        inner = rest[np.minimum(np.searchsorted(cum, ranks, side="right"), len(rest) - 1)]
        edges = np.unique(np.concatenate([rest[:1], inner, rest[-1:]]))
        if len(edges) < 2:  # the rest is one value: an exact token too
            return cls(col, typ, has_null, np.union1d(points, rest), np.empty(0), scale)
        return cls(col, typ, has_null, points, edges, scale, _bin_knots(rest, rest_n, edges))

    def without_knots(self) -> "NumericCodec":
        """The same bins drawn uniformly within: for a column whose repeated values are one
        individual's (an entity's attribute on each of its rows), whose within-bin quantiles would
        be those individuals' own values (encoders/tabular.py)."""
        return NumericCodec(self.col, self.typ, self.has_null, self.points, self.edges, self.scale)

    def state(self) -> dict:
        return {
            "has_null": self.has_null,
            "scale": self.scale,
            "points": self.points.tolist(),
            "edges": self.edges.tolist(),
            "knots": None if self.knots is None else self.knots.tolist(),
        }

    @classmethod
    def from_state(cls, col: ColumnSchema, typ: pa.DataType, s: dict) -> "NumericCodec":
        return cls(col, typ, s["has_null"], s["points"], s["edges"], s["scale"], s.get("knots"))

    def _prepare_draws(self):
        """Per-bin constants for decoding (see decode)."""
        if not self.n_bins:
            return
        lo, hi = self.edges[:-1], self.edges[1:]
        if self.knots is not None:  # pieces between consecutive knots: [n_bins * KNOTS]
            lo, hi = self.knots[:, :-1].ravel(), self.knots[:, 1:].ravel()
            last = np.zeros(self.knots[:, 1:].shape, dtype=bool)
            last[:, -1] = True  # a bin's last piece includes its upper knot (a real value in the bin)
            last = last.ravel() | (lo == hi)  # so does a piece of one value
        else:
            last = np.zeros(len(lo), dtype=bool)
            last[-1] = True  # the last bin includes its upper edge
        if self.grid:
            hi_incl = np.where(last, hi, hi - 1)
            below = np.searchsorted(self.points, lo, side="left")
            upto = np.searchsorted(self.points, hi_incl, side="right")
            self._m = hi_incl - lo + 1 - (upto - below)  # grid steps in the piece that are not points (>= 1)
            self._y0 = lo - below  # the piece's first step, counted among non-point steps
            self._q = self.points - np.arange(len(self.points))  # maps non-point rank -> value
        else:
            self._lo, self._width = lo, hi - lo
            self._cap = np.where(last, hi, np.nextafter(hi, -np.inf))  # stay below an open upper end

    # ---- encode / decode ---------------------------------------------------------------------
    def units(self, arr) -> tuple[np.ndarray, np.ndarray]:
        return _units(self.col, self.scale, arr)

    def encode(self, arr: pa.ChunkedArray) -> np.ndarray:
        u, null = self.units(arr)
        if null.any() and not self.has_null:
            raise SynthgenError(f"column '{self.col.name}' has nulls, but the encoder was fitted without any")
        return self._encode_units(u, null)

    def _encode_units(self, u: np.ndarray, null: np.ndarray) -> np.ndarray:
        lut = self._lookup_table()
        if lut is not None and len(u):
            k = np.where(null, 0, u - self._lut_lo)
            if k.min() >= 0 and k.max() < len(lut):
                tok = lut[k]  # one gather instead of binary searches
                tok[null] = 0
                return tok
        return self._encode_search(u, null)

    def _lookup_table(self) -> np.ndarray | None:
        """token of every grid value in [lo, hi] (int32), for grids narrow enough (<= 2**20 steps)."""
        if self._lut is None and self.grid and len(self.points) + len(self.edges):
            lo = int(min(self.points[:1].tolist() + self.edges[:1].tolist()))
            hi = int(max(self.points[-1:].tolist() + self.edges[-1:].tolist()))
            if hi - lo < 2**20:
                values = np.arange(lo, hi + 1, dtype=np.int64)
                self._lut_lo = lo
                self._lut = self._encode_search(values, np.zeros(len(values), dtype=bool)).astype(np.int32)
            else:
                self._lut = False
        return self._lut if self._lut is not False else None

    def _encode_search(self, u: np.ndarray, null: np.ndarray) -> np.ndarray:
        base = int(self.has_null)
        n_pts = len(self.points)
        tok = np.zeros(len(u), dtype=np.int64)
        is_point = np.zeros(len(u), dtype=bool)
        if n_pts:
            i = np.minimum(np.searchsorted(self.points, u), n_pts - 1)
            is_point = (self.points[i] == u) & ~null
            if not self.n_bins:
                # Only exact values known: unseen values go to the nearest one (ties: the lower).
                left = np.maximum(i - 1, 0)
                closer_left = np.abs(u - self.points[left]) <= np.abs(self.points[i] - u)
                i = np.where(closer_left & (self.points[i] != u), left, i)
                is_point = ~null
            tok[is_point] = base + i[is_point]
        if self.n_bins:
            b = np.clip(np.searchsorted(self.edges, u, side="right") - 1, 0, self.n_bins - 1)
            in_bin = ~is_point & ~null
            tok[in_bin] = base + n_pts + b[in_bin]
        return tok

    def token_of(self, value) -> int:
        name = self.col.name
        if value is None:
            if not self.has_null:
                raise SynthgenError(f"column '{name}' is never null in the real data; cannot condition on null")
            return 0
        try:
            a = pa.array([value])
            if is_string_type(a.type):
                a = a.cast(pa.timestamp("us") if self.col.kind == "datetime" else pa.float64())
            u, null = self.units(a)
        except (pa.ArrowException, SynthgenError, TypeError, ValueError):
            raise SynthgenError(
                f"cannot condition on {name}={value!r}: expected a {self.col.kind} value "
                f"like {self._describe(self.col.min)}"
            ) from None
        lo = min(self.points[:1].tolist() + self.edges[:1].tolist())
        hi = max(self.points[-1:].tolist() + self.edges[-1:].tolist())
        if not lo <= u[0] <= hi:
            raise SynthgenError(
                f"cannot condition on {name}={value!r}: the real values lie between "
                f"{self._describe(self.col.min)} and {self._describe(self.col.max)}"
            )
        return int(self._encode_units(u, null)[0])

    def _describe(self, v) -> str:
        if self.col.kind != "datetime" or v is None:
            return str(v)
        return str(np.datetime64(int(v), self.col.resolution))

    def decode(self, tok: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """tokens [n] -> (values [n] in the column's units, null mask [n]); draws rng only for binned
        tokens. A date column on a calendar grid is counted in months or years inside the codec and
        comes back in days, each value the first day of its month or year."""
        values, null = self._decode_units(tok, rng)
        return (from_calendar(values, self.col.calendar) if self.col.calendar else values), null

    def _decode_units(self, tok: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        base = int(self.has_null)
        n_pts = len(self.points)
        null = tok < base if self.has_null else np.zeros(len(tok), dtype=bool)
        k = tok - base
        if not self.n_bins:
            return self.points[np.clip(k, 0, n_pts - 1)], null
        out = self.points[np.clip(k, 0, n_pts - 1)] if n_pts else np.zeros(len(tok), dtype=self.points.dtype)
        sel = np.flatnonzero(k >= n_pts)
        b = np.minimum(k[sel] - n_pts, self.n_bins - 1)
        r = rng.random(len(sel))
        if self.knots is not None:  # one uniform picks the piece and the position in it
            r = r * KNOTS
            piece = np.minimum(r.astype(np.int64), KNOTS - 1)
            b, r = b * KNOTS + piece, r - piece
        if self.grid:
            m = self._m[b]
            y = self._y0[b] + np.minimum((r * m).astype(np.int64), m - 1)  # rank among non-point steps
            out[sel] = y + np.searchsorted(self._q, y, side="right") if n_pts else y
        else:
            out[sel] = np.minimum(self._lo[b] + r * self._width[b], self._cap[b])
        return out, null

    def to_arrow(
        self, values: np.ndarray, null: np.ndarray, typ: pa.DataType | None = None, clip: bool = True
    ) -> pa.Array:
        """Values in units (from decode) -> an Arrow array of the column's type. `clip`: a continuous
        column's values within its real range (False: a total or a product written from its parts,
        which may pass it)."""
        typ = typ or self.typ
        c = self.col
        mask = null if null.any() else None
        vt = typ.value_type if pa.types.is_dictionary(typ) else typ
        if c.kind == "datetime":
            out = _temporal_array(values, mask, c.resolution, vt)
        elif pa.types.is_integer(vt):
            out = pa.array(values, mask=mask, type=pa.int64()).cast(vt)
        else:
            f = values.astype(np.float64) / self.scale if self.grid and self.scale != 1 else values.astype(np.float64)
            if c.kind == "continuous" and clip:
                np.clip(f, c.min, c.max, out=f)  # e.g. 0.3 vs a real minimum of 0.30000000000000004
            out = pa.array(f, mask=mask, type=pa.float64()).cast(vt)
        return out.dictionary_encode().cast(typ) if pa.types.is_dictionary(typ) else out


class DurationCodec:
    """A duration (synthgen/durations.py): the count's own tokens (`inner`, a NumericCodec fitted on
    the rows that do not end on the fixed day) and one more, the last, for "ends on the fixed day"
    (count = day - start, written by the encoder once the start date is known)."""

    def __init__(self, inner: NumericCodec, start: str):
        self.inner, self.start = inner, start
        self.col, self.typ, self.has_null = inner.col, inner.typ, inner.has_null
        self.at_end = inner.cardinality
        self.cardinality = inner.cardinality + 1

    def state(self) -> dict:
        return self.inner.state()

    def units(self, arr) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.units(arr)

    def encode_units(self, n: np.ndarray, null: np.ndarray, at_end: np.ndarray) -> np.ndarray:
        return np.where(at_end, self.at_end, self.inner._encode_units(n, null))

    def token_of(self, value) -> int:
        raise SynthgenError(
            f"cannot condition on '{self.col.name}': it is written as days from '{self.start}' "
            f"to an event or a fixed day (a duration); condition on that column"
        )

    def to_arrow(self, values: np.ndarray, null: np.ndarray, typ: pa.DataType | None = None) -> pa.Array:
        return self.inner.to_arrow(values, null, typ)


def _bin_knots(values: np.ndarray, counts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """[n_bins, KNOTS + 1] quantiles of the real values inside each bin (inverted CDF, so every
    knot is a real value of its bin). values: sorted distinct values, counts: their counts."""
    n_bins = len(edges) - 1
    b = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)  # bin of each value
    cum = np.cumsum(counts)
    start = np.concatenate([[0], cum])[np.searchsorted(b, np.arange(n_bins), side="left")]  # rows before bin
    end = cum[np.searchsorted(b, np.arange(n_bins), side="right") - 1]  # rows up to the bin's end
    # rank of each knot within its bin, 0 .. mass - 1, then the value holding that rank
    ranks = start[:, None] + np.floor((end - start - 1)[:, None] * np.linspace(0, 1, KNOTS + 1)).astype(np.int64)
    return values[np.searchsorted(cum, ranks, side="right")]


def _scale_of(col: ColumnSchema) -> int | None:
    """Units per value: 1 for integers and datetimes, 10**decimals for a representable continuous grid."""
    if col.kind != "continuous":
        return 1
    if col.decimals is None:
        return None
    scale = 10 ** int(col.decimals)
    big = max(abs(float(col.min or 0)), abs(float(col.max or 0)))
    return scale if big * scale < _GRID_LIMIT else None


def _units(col: ColumnSchema, scale: int | None, arr) -> tuple[np.ndarray, np.ndarray]:
    """Column -> (units: int64 on a grid, float64 otherwise; null mask). Nulls hold 0 (or NaN)."""
    arr = plain_values(_chunked(arr))
    t = arr.type
    if col.kind == "datetime":
        if not is_temporal_type(t):
            raise SynthgenError(f"column '{col.name}' is {t}, not a timestamp or date as at fitting time")
        ints, null, unit = temporal_ints(arr)
        u = _rescale(ints, unit, col.resolution)
        return (to_calendar(u, col.calendar) if col.calendar else u), null
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)):
        raise SynthgenError(f"column '{col.name}' is {t}, not numeric as at fitting time")
    null = arr.is_null().to_numpy()
    if scale == 1 and pa.types.is_integer(t):
        try:
            return arr.cast(pa.int64()).fill_null(0).to_numpy(), null
        except pa.ArrowInvalid:
            raise SynthgenError(
                f"column '{col.name}' has values beyond the int64 range; set data.columns.{col.name}.kind=continuous"
            ) from None
    f = arr.cast(pa.float64()).fill_null(np.nan).to_numpy()
    if scale is None:
        return f, null
    f = np.round(f * scale)
    f[null] = 0
    if np.abs(f).max(initial=0) >= 2.0**63:
        raise SynthgenError(
            f"column '{col.name}' has values beyond the int64 range; set data.columns.{col.name}.kind=continuous"
        )
    return f.astype(np.int64), null


def calendar_ceil(days: np.ndarray, calendar: str) -> np.ndarray:
    """int64 days -> the first day of the same month (year) where a day is one, else of the next."""
    count = to_calendar(days, calendar)
    start = from_calendar(count, calendar)
    return np.where(start < days, from_calendar(count + 1, calendar), start)


def _rescale(ints: np.ndarray, unit: str, res: str) -> np.ndarray:
    """int64 counts of `unit` -> counts of `res` (floor when coarser)."""
    if np.timedelta64(1, res) >= np.timedelta64(1, unit):
        k = unit_ratio(res, unit)
        return np.floor_divide(ints, k) if k > 1 else ints
    return ints * unit_ratio(unit, res)


def _temporal_array(values: np.ndarray, mask, res: str, typ: pa.DataType) -> pa.Array:
    """int counts of `res` (local wall-clock time) -> date/timestamp array of `typ`."""
    unit = temporal_unit(typ)
    ints = _rescale(values, res, unit)
    if pa.types.is_date32(typ):
        return pa.array(ints.astype(np.int32), mask=mask, type=pa.int32()).view(typ)
    arr = pa.array(ints, mask=mask, type=pa.int64())
    if pa.types.is_date64(typ):
        return arr.view(typ)
    arr = arr.view(pa.timestamp(typ.unit))
    if typ.tz:
        # Wall-clock time back to instants. A repeated (DST fold) time takes the earlier instant; a
        # skipped one (DST gap) the first instant after the gap, a whole hour, so resolutions hold.
        arr = pc.assume_timezone(arr, typ.tz, ambiguous="earliest", nonexistent="latest")
    return arr


SPARSE_LEVEL_ROWS = 5  # a level seen fewer times is sparse
SPARSE_COLUMN_SHARE = 0.5  # a column with more of its rows in sparse levels keeps no token for them
SPARSE_MIN_LEVELS = 20  # with fewer levels a column is a category however few rows hold them (a tiny table)


def sparse_column(frequencies: list[int], valid: int) -> bool:
    """Whether most of a categorical column's non-null rows sit in levels seen fewer than
    SPARSE_LEVEL_ROWS times (levels past the stored ones count as such): a column of city or car
    names (airports: 95 % of rows, cars: 97 %), whose one-row tokens the transformer can only
    memorise. Their validation loss rose from the second round on and stopped the whole model
    before it had learnt the other columns (airports: 12 of 40 rounds, 70 % of rows inside their
    state's box). Such a column's sparse levels share the rare token (benchmarks/sizing.md); a
    column with a tail of a few rare levels (planes' aircraft models: 3.5 % of rows) keeps them,
    as they carry its rare classes."""
    valid = max(valid, sum(frequencies))
    sparse = sum(f for f in frequencies if f < SPARSE_LEVEL_ROWS) + valid - sum(frequencies)
    levels = len(frequencies) + (valid > sum(frequencies))  # stored levels, and at least one more
    return levels >= SPARSE_MIN_LEVELS and sparse > SPARSE_COLUMN_SHARE * valid


class CategoryCodec:
    def __init__(self, col: ColumnSchema, typ: pa.DataType, has_null: bool, n_kept: int):
        self.col, self.typ, self.has_null = col, typ, bool(has_null)
        self.n_cats = len(col.categories or [])
        self.n_kept = int(n_kept)
        self.n_rare = self.n_cats - self.n_kept
        freq = np.asarray(col.frequencies or [], dtype=np.float64)[self.n_kept :]
        self._rare_cdf = np.cumsum(freq) / freq.sum() if self.n_rare else freq
        self.cardinality = int(self.has_null) + self.n_kept + int(self.n_rare > 0)
        vt = typ.value_type if pa.types.is_dictionary(typ) else typ
        self._dict_type = pa.large_string() if pa.types.is_string_view(vt) else vt
        self._dictionary = None  # all levels as one Arrow array, built once on first use

    @property
    def kept(self) -> list:
        return list((self.col.categories or [])[: self.n_kept])

    @property
    def rare(self) -> list:
        return list((self.col.categories or [])[self.n_kept :])

    @property
    def dictionary(self) -> pa.Array:
        if self._dictionary is None:
            self._dictionary = pa.array(self.col.categories or [], type=self._dict_type)
        return self._dictionary

    @classmethod
    def fit(cls, col: ColumnSchema, arr: pa.ChunkedArray, max_categories: int, rare_min_count: int) -> "CategoryCodec":
        freq = col.frequencies or []
        arr = plain_values(_chunked(arr))
        if sparse_column(freq, len(arr) - arr.null_count):
            rare_min_count = max(rare_min_count, SPARSE_LEVEL_ROWS)
        n_keep = sum(1 for f in freq[:max_categories] if f >= rare_min_count)
        if n_keep == 0 and freq:  # never leave a column with only the rare token
            n_keep = 1
        return cls(col, arr.type, arr.null_count > 0, n_keep)

    def state(self) -> dict:
        return {"has_null": self.has_null, "n_kept": self.n_kept}

    @classmethod
    def from_state(cls, col: ColumnSchema, typ: pa.DataType, s: dict) -> "CategoryCodec":
        return cls(col, typ, s["has_null"], s["n_kept"])

    def encode(self, arr: pa.ChunkedArray) -> np.ndarray:
        arr = _chunked(arr)
        try:
            pos, null = lookup(arr, self.dictionary.slice(0, self.n_kept))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            typ = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
            raise SynthgenError(
                f"column '{self.col.name}' is {typ}, not {self._dict_type} as at fitting time"
            ) from None
        base = int(self.has_null)
        if null.any() and not self.has_null:
            raise SynthgenError(f"column '{self.col.name}' has nulls, but the encoder was fitted without any")
        found = pos >= 0
        tok = np.where(found, base + pos, base + self.n_kept)  # rare unless found
        tok[null] = 0
        if not self.n_rare and (~found & ~null).any():
            bad = arr[int(np.flatnonzero(~found & ~null)[0])].as_py()
            raise SynthgenError(f"column '{self.col.name}' has value {bad!r}, which the real data never had")
        return tok

    def token_of(self, value) -> int:
        if value is None:
            if not self.has_null:
                raise SynthgenError(
                    f"column '{self.col.name}' is never null in the real data; cannot condition on null"
                )
            return 0
        kept = self.kept
        if value in kept:
            return int(self.has_null) + kept.index(value)
        hint = ", ".join(map(str, kept[:8]))
        why = "is too rare to condition on" if value in self.rare else "is not among its real values"
        raise SynthgenError(
            f"column '{self.col.name}': value {value!r} {why}; use one of: {hint}{', ...' if len(kept) > 8 else ''}"
        )

    def decode(self, tok: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """tokens [n] -> (indices into the schema's categories [n], null mask [n])."""
        base = int(self.has_null)
        null = tok < base if self.has_null else np.zeros(len(tok), dtype=bool)
        idx = np.clip(tok - base, 0, self.n_kept + int(self.n_rare > 0) - 1)
        if self.n_rare:
            rare = np.flatnonzero(idx == self.n_kept)
            if len(rare):  # a rare level, drawn with its real frequency
                j = np.searchsorted(self._rare_cdf, rng.random(len(rare)), side="right")
                idx[rare] = self.n_kept + np.minimum(j, self.n_rare - 1)
        return idx, null

    def to_arrow(self, idx: np.ndarray, null: np.ndarray, typ: pa.DataType | None = None) -> pa.Array:
        typ = typ or self.typ
        indices = pa.array(idx.astype(np.int32), mask=null if null.any() else None, type=pa.int32())
        if pa.types.is_dictionary(typ):
            out = pa.DictionaryArray.from_arrays(indices, self.dictionary, ordered=typ.ordered)
        else:
            out = self.dictionary.take(indices)
        return out if out.type == typ else out.cast(typ)


__all__ = ["NumericCodec", "CategoryCodec"]
