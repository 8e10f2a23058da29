"""Fresh keys in the real keys' shape: airport codes "ABQ" -> "KOJ", tail numbers "N101UW" -> "N734QK".

For string keys without one prefix and suffix around a number (those count up: tabular._id_format),
the most common shape of the keys (per position the characters seen there, "N" then 3 digits then
2 capitals; for random keys, whose classes differ from key to key, the most common length and
punctuation) gives new keys of that shape, none equal to a real key. The model file holds the shape
(the characters seen at each position) and hashes of the real keys (as for personal data,
synthgen/pii.py), never a key.

Uniqueness across chunks and ranks comes from a counter i, mapped through the bijection
i -> (mult * i + shift) mod space and written in the positions' characters:
- a space of at most DENSE_SPACE keys is walked densely: global row r takes the r-th counter value
  whose key is not a real one (each process hashes the whole space once), so the shape holds
  every possible key but the real ones (airport codes: 17,576 - 3,376);
- a larger one: row r tries r, r + S, ..., r + (tries - 1) S, S = space / tries, so distinct
  (row, try) pairs give distinct keys; a try equal to a real key (by hash) moves to the next one,
  and `tries` is chosen so that all of a row's tries hit real keys with chance <= MISS_CHANCE.
Rows beyond the shape's room, or whose every try hit, get the counter format
("<name>-syn-000000001"), which no real key starts with.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import numpy as np
import pyarrow as pa

from synthgen import pii

SAMPLE = 20_000  # keys read for the shape, evenly spread (every key is hashed)
MIN_COVER = 0.5  # the most common shape must hold at least half of the keys read
MIN_SPACE = 10_000  # fewer possible keys than this: the counter format instead
COUNTED = 1 << 31  # the counter's range at most, so that mult * i stays below 2^62 in int64
MISS_CHANCE = 1e-3  # at most this share of rows falls back to the counter format (in expectation)
DENSE_SPACE = 1 << 20  # spaces up to this many keys are hashed whole (~0.3 s), and walked densely
_REAL_POSITIONS: dict[str, np.ndarray] = {}  # shape["real"] -> counter values whose key is real


def _char_class(c: str) -> str:
    return "D" if "0" <= c <= "9" else "U" if "A" <= c <= "Z" else "L" if "a" <= c <= "z" else c


def _shape(key: str) -> str:
    """'N101UW' -> 'UDDDUU': digits, capitals and small letters by class, other characters as they are."""
    return "".join(map(_char_class, key))


def _skeleton(key: str) -> str:
    """'7F3K-9Q2Z' -> 'xxxx-xxxx': for random keys, whose classes differ from key to key."""
    return "".join("x" if c.isalnum() else c for c in key)


def key_shape(name: str, valid: pa.Array) -> dict | None:
    """The shape of a string key column's non-null values `valid`, or None (ASCII keys only;
    the most common shape must hold MIN_COVER of them and allow MIN_SPACE keys)."""
    # spread over the column: tables sorted by key hold only some first characters in their first rows
    sample = valid.take(np.linspace(0, len(valid) - 1, min(len(valid), SAMPLE)).astype(np.int64)).to_pylist()
    if not sample or not all(v.isascii() and v.isprintable() for v in sample):
        return None
    for signature in (_shape, _skeleton):
        signatures = [signature(v) for v in sample]
        common, count = Counter(signatures).most_common(1)[0]
        if count >= MIN_COVER * len(sample):
            break
    else:
        return None
    keys = [v for v, sig in zip(sample, signatures) if sig == common]
    alphabets = ["".join(sorted(set(chars))) for chars in zip(*keys)]  # one string per position
    if math.prod(len(a) for a in alphabets) < MIN_SPACE:
        return None
    counted, space = 0, 1  # the trailing positions that carry the counter
    for a in reversed(alphabets):
        if space * len(a) > COUNTED:
            break
        space, counted = space * len(a), counted + 1
    real = pii.value_hashes(valid.to_pylist())
    full = len(real) / space  # a try's chance to hit a real key (at most; leading positions are drawn)
    tries = 1 if full == 0 else max(2, math.ceil(math.log(MISS_CHANCE) / math.log(min(full, 0.9))))
    seed = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    mult = seed % space | 1
    while math.gcd(mult, space) != 1:
        mult += 2
    return {
        "alphabets": alphabets,
        "counted": counted,
        "space": space,
        "tries": tries,
        "mult": mult,
        "shift": (seed >> 64) % space,
        "real": pii.pack(real),
    }


def shaped_keys(shape: dict, rows: np.ndarray, rng: np.random.Generator) -> tuple[pa.Array, np.ndarray]:
    """Keys of `shape` for global row numbers `rows` [n] (see the module docstring), and which
    rows got one [n] bool (the others' entries are to be replaced by the caller)."""
    alphabets, counted, space = shape["alphabets"], shape["counted"], shape["space"]
    rows = np.asarray(rows, dtype=np.int64)
    chars = [np.frombuffer(a.encode(), dtype=np.uint8) for a in alphabets]
    buf = np.empty((len(rows), len(alphabets)), dtype=np.uint8)
    buf[:] = [c[0] for c in chars]  # valid text in the rows that get no key
    for p in range(len(alphabets) - counted):  # positions beyond the counter's range: drawn
        buf[:, p] = chars[p][rng.integers(0, len(chars[p]), len(rows))]
    if space <= DENSE_SPACE:
        real_at = _real_positions(shape, chars)  # sorted
        # the r-th counter value that is not real: r plus the real values at or before it
        values = rows + np.searchsorted(real_at - np.arange(len(real_at)), rows, side="right")
        got = values < space
        _write(buf, got, values[got], shape, chars)
        return fixed_width_strings(buf), got
    real = pii.unpack(shape["real"])
    stride, got = space // shape["tries"], np.zeros(len(rows), dtype=bool)
    todo = np.flatnonzero(rows < stride)
    for j in range(shape["tries"]):
        if not len(todo):
            break
        _write(buf, todo, rows[todo] + j * stride, shape, chars)
        hit = pii.hits(fixed_width_strings(buf[todo]).to_numpy(zero_copy_only=False), real)
        got[todo[~hit]] = True
        todo = todo[hit]
    return fixed_width_strings(buf), got


def _write(buf: np.ndarray, at, values: np.ndarray, shape: dict, chars: list) -> None:
    """Counter `values` through the bijection into the counted positions of buf[at]."""
    idx = (shape["mult"] * values + shape["shift"]) % shape["space"]
    width = len(chars)
    for p in range(width - 1, width - shape["counted"] - 1, -1):  # mixed radix, last position first
        buf[at, p] = chars[p][idx % len(chars[p])]
        idx //= len(chars[p])


def _real_positions(shape: dict, chars: list) -> np.ndarray:
    """The counter values whose key equals a real one, sorted (the whole space hashed, once a process)."""
    if shape["real"] not in _REAL_POSITIONS:
        everything = np.arange(shape["space"], dtype=np.int64)
        buf = np.empty((len(everything), len(chars)), dtype=np.uint8)  # every position is counted here
        _write(buf, slice(None), everything, shape, chars)
        keys = fixed_width_strings(buf).to_numpy(zero_copy_only=False)
        _REAL_POSITIONS[shape["real"]] = np.flatnonzero(pii.hits(keys, pii.unpack(shape["real"])))
    return _REAL_POSITIONS[shape["real"]]


def fixed_width_strings(buf: np.ndarray) -> pa.Array:
    """uint8 [n, w] ASCII -> n Arrow strings of w characters."""
    n, w = buf.shape
    offsets = np.arange(0, w * (n + 1), w, dtype=np.int32)
    data = pa.py_buffer(np.ascontiguousarray(buf).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), data])
