"""What the tests of the encoder's written columns (products, bands, date parts) share: a table's
schema and fitted encoder, and the table decoded from random tokens (every token the model could
draw, whatever the rows it learnt)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen.encoders import TabularEncoder
from synthgen.schema import TableSchema, infer_schema


def schema_and_encoder(df: pd.DataFrame, n_bins: int = 20) -> tuple[TableSchema, TabularEncoder]:
    t = pa.Table.from_pandas(df, preserve_index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the schema's notes on single-valued columns and the like
        s = infer_schema(t)
        return s, TabularEncoder.fit(t, s, n_bins=n_bins)


def decoded_random_tokens(enc: TabularEncoder, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tokens = np.stack([rng.integers(0, k, n) for k in enc.layout.cardinalities], axis=1)
    return enc.decode(tokens, rng).to_pandas()
