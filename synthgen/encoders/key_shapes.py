"""Fresh keys in the real keys' shape: airport codes "ABQ" -> "KOJ", tail numbers "N101UW" -> "N734QK".

For string keys without one prefix and suffix around a number (those count up: tabular._id_format),
the most common shape of the keys (per position the characters seen there, "N" then 3 digits then
2 capitals) gives new keys of that shape, none equal to a real key. The model file holds the shape
(the characters seen at each position) and hashes of the real keys (as for personal data,
synthgen/pii.py), never a key.

Uniqueness across chunks and ranks comes from a counter: global row r tries the counter values
r, r + S, ..., r + (tries - 1) S, S = space / tries, each mapped through the bijection
i -> (mult * i + shift) mod space and written in the positions' characters, so distinct (row, try)
pairs give distinct keys. A try equal to a real key (by hash) moves to the next one; `tries` is
chosen so that all of a row's tries hit real keys with chance <= MISS_CHANCE. Rows beyond S, or
whose every try hit, get the counter format ("<name>-syn-000000001"), which no real key starts with.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter

import numpy as np
import pyarrow as pa

from synthgen import pii

SAMPLE = 20_000  # keys read for the shape (every key is hashed)
MIN_COVER = 0.5  # the most common shape must hold at least half of the keys read
MIN_SPACE = 10_000  # fewer possible keys than this: the counter format instead
COUNTED = 1 << 31  # the counter's range at most, so that mult * i stays below 2^62 in int64
MISS_CHANCE = 1e-3  # at most this share of rows falls back to the counter format (in expectation)


def _char_class(c: str) -> str:
    return "D" if "0" <= c <= "9" else "U" if "A" <= c <= "Z" else "L" if "a" <= c <= "z" else c


def _shape(key: str) -> str:
    return "".join(map(_char_class, key))


def key_shape(name: str, valid: pa.Array) -> dict | None:
    """The shape of a string key column's non-null values `valid`, or None (ASCII keys only;
    the most common shape must hold MIN_COVER of them and allow MIN_SPACE keys)."""
    sample = valid.slice(0, SAMPLE).to_pylist()
    if not sample or not all(v.isascii() and v.isprintable() for v in sample):
        return None
    shape, count = Counter(map(_shape, sample)).most_common(1)[0]
    if count < MIN_COVER * len(sample):
        return None
    keys = [v for v in sample if _shape(v) == shape]
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
    stride, width, n = space // shape["tries"], len(alphabets), len(rows)
    chars = [np.frombuffer(a.encode(), dtype=np.uint8) for a in alphabets]
    buf = np.empty((n, width), dtype=np.uint8)
    for p in range(width - counted):  # positions beyond the counter's range: drawn
        buf[:, p] = chars[p][rng.integers(0, len(chars[p]), n)]
    real = pii.unpack(shape["real"])
    got = np.zeros(n, dtype=bool)
    todo = np.flatnonzero(np.asarray(rows) < stride)
    for j in range(shape["tries"]):
        if not len(todo):
            break
        idx = (shape["mult"] * (np.asarray(rows, dtype=np.int64)[todo] + j * stride) + shape["shift"]) % space
        for p in range(width - 1, width - counted - 1, -1):  # mixed radix, last position first
            buf[todo, p] = chars[p][idx % len(chars[p])]
            idx //= len(chars[p])
        hit = pii.hits(fixed_width_strings(buf[todo]).to_numpy(zero_copy_only=False), real)
        got[todo[~hit]] = True
        todo = todo[hit]
    return fixed_width_strings(buf), got


def fixed_width_strings(buf: np.ndarray) -> pa.Array:
    """uint8 [n, w] ASCII -> n Arrow strings of w characters."""
    n, w = buf.shape
    offsets = np.arange(0, w * (n + 1), w, dtype=np.int32)
    data = pa.py_buffer(np.ascontiguousarray(buf).tobytes())
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), data])
