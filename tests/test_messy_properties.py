"""Property test: messy tables (date strings in several formats, orderings between dates, names,
e-mails, formatted numbers, nulls, all-null columns) survive prepare -> encode -> decode.

Properties, for the real rows' tokens and for any tokens a model may emit:
- the decoded table has the input's Arrow schema;
- with the real tokens, every modelled column is null exactly where it was;
- every date string comes back in its column's format, inside the real range;
- an ordering between two date columns that holds in every real row holds in every decoded row;
- no decoded row carries a real first + last name pair or a real e-mail.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synthgen.encoders import TabularEncoder
from synthgen.schema import RELATION_MIN_ROWS, RELATION_MIN_SHARE, infer_schema
from tests.test_real_world_tables import FIRST, LAST

FORMATS = ["%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S"]


@st.composite
def messy_tables(draw):
    n = draw(st.integers(20, 200))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    cols = {}

    def nulls(share):
        m = rng.random(n) < share
        m[0] = False
        return m

    start = pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 5000, n), "D")
    start = start + pd.to_timedelta(rng.integers(0, 86400, n), "s") * draw(st.sampled_from([0, 1]))
    f_a, f_b = draw(st.sampled_from(FORMATS)), draw(st.sampled_from(FORMATS))
    gap = pd.to_timedelta(rng.integers(0, draw(st.sampled_from([1, 3, 400])), n), "D")
    a_null = nulls(draw(st.sampled_from([0.0, 0.2])))
    b_null = a_null | nulls(draw(st.sampled_from([0.0, 0.3])))  # B set only where A is
    cols["start"] = pd.Series(start.strftime(f_a)).where(~a_null, None)
    cols["end"] = pd.Series((start + gap).strftime(f_b)).where(~b_null, None)
    if draw(st.booleans()):
        cols["first_name"] = rng.choice(FIRST, n)
        cols["last_name"] = rng.choice(LAST, n)
        cols["email"] = [
            f"{a}.{b}{i // 2}@mail.com" for i, (a, b) in enumerate(zip(cols["first_name"], cols["last_name"]))
        ]
    if draw(st.booleans()):
        cols["amount"] = pd.Series([f"{x:,.2f}" for x in rng.uniform(0, 10**6, n)]).where(~nulls(0.1), None)
    if draw(st.booleans()):
        cols["nothing"] = pd.Series([None] * n, dtype=object)
    cols["level"] = pd.Series(rng.choice(["low", "mid", "high"], n)).where(
        ~nulls(draw(st.sampled_from([0, 0.3]))), None
    )
    cols["count"] = rng.integers(0, draw(st.sampled_from([3, 1000])), n)
    table = pa.table(
        {k: pa.array(v, type=pa.string()) if k not in ("count",) else pa.array(v) for k, v in cols.items()}
    )
    return table, (f_a, f_b)


def _dates(arr: pa.ChunkedArray, fmt: str) -> pd.Series:
    return pd.to_datetime(pd.Series(arr.to_pylist(), dtype=object), format=fmt)  # raises on another spelling


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messy_tables(), st.integers(0, 2**32 - 1))
def test_messy_tables_keep_schema_validity_and_date_orderings(case, seed):
    table, (f_a, f_b) = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(table)
        enc = TabularEncoder.fit(table, schema, n_bins=20)
    assert schema.column("start").kind == schema.column("end").kind == "datetime"
    real_tokens = enc.encode(table)
    rng = np.random.default_rng(seed)
    any_tokens = np.stack([rng.integers(0, k, 300) for k in enc.layout.cardinalities], axis=1)
    start, end = _dates(table.column("start"), f_a), _dates(table.column("end"), f_b)
    real_both = start.notna() & end.notna()
    # a relation is stated (schema.date_relations) when end >= start in nearly every row where both
    # are set, in enough rows: not so when end is a date and start has times
    ordered = (
        float((end[real_both] >= start[real_both]).mean()) >= RELATION_MIN_SHARE
        and int(real_both.sum()) >= RELATION_MIN_ROWS
    )
    for tokens in (real_tokens, any_tokens):
        out = enc.decode(tokens, np.random.default_rng(seed))
        assert out.schema == table.schema
        s, e = _dates(out.column("start"), f_a), _dates(out.column("end"), f_b)
        assert s.min() >= start.min() and s.max() <= start.max()
        # end in its real range, or equal to a start later than any real end (a start whose end is null)
        assert e.dropna().empty or (e.min() >= end.min() and e.max() <= max(end.max(), start.max()))
        both = s.notna() & e.notna()
        assert not ordered or (e[both] >= s[both]).all()
        if "first_name" in table.column_names:
            real_pairs = set(zip(table.column("first_name").to_pylist(), table.column("last_name").to_pylist()))
            fake_pairs = set(zip(out.column("first_name").to_pylist(), out.column("last_name").to_pylist()))
            assert not real_pairs & fake_pairs
            assert not set(out.column("email").to_pylist()) & set(table.column("email").to_pylist())
    out = enc.decode(real_tokens, np.random.default_rng(seed))
    for name in enc.layout.columns:
        if name not in enc.derived:
            assert out.column(name).null_count == table.column(name).null_count, name
