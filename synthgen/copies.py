"""No more copies of real rows than real data has: generation redraws the synthetic rows that
copy a training row beyond the share a fresh real sample shows.

A model that has learned a table well still emits, by chance, rows identical to training rows.
How many is natural depends on the table: in six categorical Adult columns most real holdout
rows also occur in train, in the full Adult table none do (fnlwgt alone nearly identifies a
row). The evaluation's privacy gate holds synthetic data to the holdout's copy share, and so
does generation: each chunk keeps at most `allowed_share` of its rows as copies (the holdout's
share, measured when generation starts) and redraws the rest: new tokens from the model for the
row's own conditions and new within-bin draws, from a random stream fixed by (seed, chunk,
round), so outputs stay deterministic per seed whatever the number of processes. Redrawing every
copy would bias low-entropy tables towards unseen rows. After `max_rounds` rounds the rows still
copying are kept and counted.

Cost: one 64-bit hash per token row and a table lookup; only rows whose tokens equal a training
row's tokens are decoded values compared (a binned number can decode to another value). The token
hash leaves out the columns the decoder writes from other columns (`TabularEncoder.rewritten`: a
lookup's dependent, a date from its base, a raised ordering): their tokens need not match their
written values, and a row whose written values copy a training row must still be a candidate (the
democracy-dictatorship table's politycode, written from the country, let a copy through).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

_WEIGHTS_SEED = 0x5EED


def token_hashes(tokens: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
    """int tokens [n, C] -> uint64 [n]: a fixed random linear hash (wrapping), equal rows equal hashes;
    `columns`: the column positions hashed (None: all)."""
    w = np.random.default_rng(_WEIGHTS_SEED).integers(1, 2**63, tokens.shape[1], dtype=np.uint64) | np.uint64(1)
    t = np.asfortranarray(tokens, dtype=np.int64).view(np.uint64)  # columns contiguous: 131k x 15, 18 -> 1.5 ms
    h = np.zeros(len(t), dtype=np.uint64)
    for c in range(t.shape[1]) if columns is None else columns:  # column by column: no [n, C] temporary
        h += t[:, c] * w[c]
    return h


def guarded_positions(enc) -> list[int]:
    """Positions of the encoder's modelled columns whose value follows from their own token (the
    token hash's columns; module docstring)."""
    rewritten = enc.rewritten
    return [i for i, name in enumerate(enc.layout.columns) if name not in rewritten]


class _HashSet:
    """Membership of uint64 hashes: a 4-Mbit table of their low 22 bits rules most values out with
    one gather; the few left are checked exactly on the sorted hashes (searchsorted on uint64 is
    slow here: 16 ms for 50,000 values, against ~1 ms for the table)."""

    _MASK = np.uint64((1 << 22) - 1)

    def __init__(self, hashes: np.ndarray):
        self.sorted = np.unique(hashes)
        self.bits = np.zeros(1 << 22, dtype=bool)
        self.bits[(self.sorted & self._MASK).astype(np.int64)] = True

    def contains(self, values: np.ndarray) -> np.ndarray:
        out = self.bits[(values & self._MASK).astype(np.int64)]
        maybe = np.flatnonzero(out)
        if len(maybe):
            i = np.minimum(np.searchsorted(self.sorted, values[maybe]), len(self.sorted) - 1)
            out[maybe] = self.sorted[i] == values[maybe]
        return out


def value_hashes(table: pa.Table) -> np.ndarray:
    """uint64 per row of `table` (pandas' row hash of the plain values)."""
    plain = (
        pa.table(
            {
                n: c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c
                for n, c in zip(table.column_names, table.columns)
            }
        )
        if table.num_columns
        else table
    )
    return pd.util.hash_pandas_object(plain.to_pandas(), index=False).to_numpy()


class CopyGuard:
    """The training rows' hashes, and which synthetic rows copy one of them."""

    def __init__(
        self,
        train: pa.Table,
        train_tokens: np.ndarray,
        columns: list[str],
        holdout: pa.Table | None = None,
        max_rounds: int = 10,
        token_columns: list[int] | None = None,
    ):
        """`token_columns`: the token positions hashed to find candidates (guarded_positions; None: all)."""
        self.columns, self.max_rounds, self.token_columns = list(columns), max_rounds, token_columns
        self.train_tokens = _HashSet(token_hashes(train_tokens, token_columns))
        self.train_values = _HashSet(value_hashes(train.select(self.columns)))
        # the share of real rows, never trained on, that copy a training row: what chance allows
        self.allowed_share = (
            float(self.train_values.contains(value_hashes(holdout.select(self.columns))).mean())
            if holdout is not None and holdout.num_rows
            else 0.0
        )

    def copies(self, tokens: np.ndarray, table: pa.Table) -> np.ndarray:
        """tokens [n, C] and their decoded table -> indices of the rows that copy a training row."""
        candidates = np.flatnonzero(self.train_tokens.contains(token_hashes(tokens, self.token_columns)))
        if not len(candidates):
            return candidates
        rows = table.select(self.columns).take(pa.array(candidates))
        return candidates[self.train_values.contains(value_hashes(rows))]
