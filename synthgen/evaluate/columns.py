"""Column preparation shared by every metric: kinds, subsampling, numbers and integer codes.

Every metric works on numpy arrays built here, so dtype quirks (pandas string dtypes,
nullable integers, time zones) are handled in one place.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen.errors import SynthgenError

NUMERIC = ("continuous", "integer", "datetime")
DISCRETE = ("categorical", "boolean")
SKIPPED = ("identifier", "text", "pii", "empty")  # no distribution metrics; identifiers and pii feed the privacy check
KINDS = NUMERIC + DISCRETE + SKIPPED
N_PAIR_BINS = 10  # quantile bins for numbers inside ContingencySimilarity


def check_kinds(kinds: dict[str, str], train: pd.DataFrame) -> None:
    bad = {c: k for c, k in kinds.items() if k not in KINDS}
    if bad:
        raise SynthgenError(f"unknown column kind(s) {bad}; use one of {', '.join(KINDS)}")
    missing = [c for c in kinds if c not in train.columns]
    if missing:
        raise SynthgenError(f"column(s) {missing} are in kinds but not in the real table")


def subsample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """At most n rows, seeded, with a fresh 0..n-1 index (metrics align by position)."""
    if len(df) > n:
        df = df.sample(n=n, random_state=seed)
    return df.reset_index(drop=True)


def dates_read(frames: list[pd.DataFrame], kinds: dict[str, str]) -> list[pd.DataFrame]:
    """The frames with each datetime column held as text read in the format of the real (first)
    frame's values (codecs.detect), in every frame: pandas' own guess read lifelines' `17-08-1984`
    month first, and another tool's frame may spell its dates as the input did. Columns already
    dates, or text no one format reads, are left as they are (numbers() reads them as before)."""
    from synthgen import codecs

    out = list(frames)
    for c, kind in kinds.items():
        real = frames[0][c] if c in frames[0].columns else None
        if kind != "datetime" or real is None or not _is_text(real):
            continue
        codec = codecs.detect(_strings(real), "datetime")
        if not codec or codec.get("type") != "datetime" or codec.get("parse_rate", 0) < codecs.PARSE_MIN:
            continue
        for i, f in enumerate(out):
            if c in f.columns and _is_text(f[c]):
                parsed = codecs.parse(codec, _strings(f[c])).to_pandas(date_as_object=False)
                out[i] = f.assign(**{c: parsed.to_numpy()})
    return out


def _is_text(s: pd.Series) -> bool:
    return pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)


def _strings(s: pd.Series) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array([None if pd.isna(v) else str(v) for v in s], type=pa.string())])


def numbers(s: pd.Series, kind: str) -> np.ndarray:
    """float64 values with NaN for nulls; datetimes become nanoseconds since the epoch (UTC).

    Nanoseconds as float64 keep ~0.25 us resolution around today's dates, enough for ranks and
    distances; counted from the column's own unit, so an open-ended record's 9999-12-31 (beyond
    int64 nanoseconds) is a number too. Values that cannot be read as numbers (or dates) count as
    nulls.
    """
    if kind == "datetime":
        d = pd.to_datetime(s, errors="coerce", utc=True).dt.tz_localize(None)
        arr = d.to_numpy()  # datetime64 in the column's unit
        unit, _ = np.datetime_data(arr.dtype)
        out = arr.view("int64").astype(np.float64) * (np.timedelta64(1, unit) / np.timedelta64(1, "ns"))
        out[d.isna().to_numpy()] = np.nan
        return out
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64").to_numpy()
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def shared_codes(*series: pd.Series) -> tuple[list[np.ndarray], np.ndarray]:
    """Integer codes over the union of values in several series (null: -1), and the values.

    One factorisation over all tables, so equal values get equal codes everywhere.
    """
    both = pd.concat([pd.Series(s.to_numpy(dtype=object)) for s in series], ignore_index=True)
    codes, uniques = pd.factorize(both, use_na_sentinel=True)
    out, start = [], 0
    for s in series:
        out.append(codes[start : start + len(s)].astype(np.int64))
        start += len(s)
    return out, np.asarray(uniques, dtype=object)


def cap_codes(codes: list[np.ndarray], n_codes: int, keep: int, ref: int = 0) -> list[np.ndarray]:
    """Keep the `keep` most frequent codes (counted in codes[ref]); the rest become code `keep`.

    Learners with native categorical support accept at most ~255 levels, and one-hot distance
    encodings must stay narrow; rare levels share one 'other' code. Nulls stay -1.
    """
    if n_codes <= keep:
        return codes
    ref_codes = codes[ref]
    counts = np.bincount(ref_codes[ref_codes >= 0], minlength=n_codes)
    order = np.argsort(-counts, kind="stable")
    remap = np.full(n_codes, keep, dtype=np.int64)
    remap[order[:keep]] = np.arange(keep)
    return [np.where(c >= 0, remap[np.maximum(c, 0)], -1) for c in codes]


def quantile_edges(real: np.ndarray, n_bins: int = N_PAIR_BINS) -> np.ndarray:
    """Bin edges at the real column's quantiles, outer edges opened to +-inf, repeats merged.

    Heavy ties (e.g. capital_gain, >90% zeros) collapse into fewer bins, which is the honest
    resolution of such a column; the open ends catch synthetic values outside the real range.
    """
    valid = real[~np.isnan(real)]
    if len(valid) == 0:
        return np.array([-np.inf, np.inf])
    edges = np.quantile(valid, np.linspace(0.0, 1.0, n_bins + 1))
    edges[0], edges[-1] = -np.inf, np.inf
    return np.unique(edges)


def bin_codes(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index 0..len(edges)-2 for numbers; NaN gets its own code len(edges)-1."""
    idx = np.digitize(values, edges) - 1  # edges[0] is -inf, so every number lands in >= 0
    return np.where(np.isnan(values), len(edges) - 1, idx).astype(np.int64)


def null_as_code(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Map the null code -1 to its own category n_codes (for frequency tables)."""
    return np.where(codes < 0, n_codes, codes)


def key_part(name) -> str:
    """A column or group name as one segment of a flat metric key.

    MLflow accepts only letters, digits, '_', '-', '.', ' ', ':' and '/' in metric names, and
    '.' separates key segments, so anything else becomes '_' ('<null>' -> '_null_').
    """
    return re.sub(r"[^\w\- ]", "_", str(name))
