"""The token encoder's guarantees on every decoded table, checked on a table of every kind.

Decoded tables are checked for tokens a model could emit (uniformly random ones, not only the
encoded real rows): the guarantees must hold whatever the model samples.
"""

from __future__ import annotations

import decimal
import json
import re
import time
import tracemalloc
import uuid
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from synthgen.encoders import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.schema import infer_schema, temporal_ints, unit_ratio
from tests.conftest import ROOT

N = 3000


def zoo_table(n: int = N, seed: int = 0) -> pa.Table:
    """Every kind and most Arrow types, with and without nulls."""
    rng = np.random.default_rng(seed)

    def with_nulls(a: np.ndarray, share: float = 0.1):
        return pa.array(a, mask=rng.random(n) < share)

    secs = np.datetime64("2021-03-01") + rng.integers(0, 10**8, n).astype("timedelta64[s]")
    days = np.datetime64("1960-01-01") + rng.integers(0, 30_000, n).astype("timedelta64[D]")  # before 1970 too
    cg = np.where(rng.random(n) < 0.9, 0, rng.integers(100, 99_999, n))
    return pa.table(
        {
            "age": rng.integers(17, 91, n),
            "code": rng.integers(1, 5, n).astype(np.int8),
            "u16": rng.integers(0, 60_000, n).astype(np.uint16),
            "capital_gain": cg,
            "int_as_float": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 5000, n)), from_pandas=True),
            "price": with_nulls(np.round(rng.lognormal(3, 1, n), 2)),
            "f32": pa.array(np.round(rng.normal(size=n), 3).astype(np.float32)),
            "tiny": rng.random(n) * 1e-9,
            "dec": pa.array([decimal.Decimal(f"{x:.2f}") for x in rng.random(n) * 100], pa.decimal128(8, 2)),
            "cat": with_nulls(rng.choice(["a", "b", "c", "d"], n, p=[0.5, 0.3, 0.15, 0.05])),
            "large": pa.array(rng.choice(["x", "y"], n)).cast(pa.large_string()),
            "dict": pa.array(rng.choice(["p", "q", "r"], n)).dictionary_encode(),
            "view": pa.array(rng.choice(["u", "v"], n)).cast(pa.string_view()),
            "flag": with_nulls(rng.random(n) < 0.3, 0.05),
            "yes_no": rng.choice(["yes", "no"], n),
            "ts_s": pa.array(secs.astype("datetime64[s]")),
            "ts_paris": pa.array(
                (secs.astype("datetime64[us]") + rng.integers(0, 10**6, n).astype("timedelta64[us]"))
            ).cast(pa.timestamp("us", tz="Europe/Paris")),
            "paris_day": pc.assume_timezone(pa.array(days.astype("datetime64[s]")), "Europe/Paris"),
            "d32": with_nulls(days, 0.2).cast(pa.date32()),
            "ts_day": pa.array(days.astype("datetime64[ns]")),
            "d64": pa.array(days).cast(pa.date64()),
            "row_id": np.arange(10, 10 + n),
            "customer": [f"CUST-{i:06d}" for i in rng.permutation(n)],
            "email": [f"user{i}@example.org" if i % 2 else f"person.{i}@mail.com" for i in range(n)],
            "uuid": [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
            "ref_id": with_nulls(rng.choice(10**12, n, replace=False), 0.05),
            "note": [f"free text that is long enough to be a comment, row {i} " + "x" * (i % 17) for i in range(n)],
        }
    )


@pytest.fixture(scope="module")
def zoo():
    t = zoo_table()
    s = infer_schema(t)
    enc = TabularEncoder.fit(t, s, n_bins=20, max_categories=1000)
    return t, s, enc


def random_tokens(enc: TabularEncoder, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, k, n) for k in enc.layout.cardinalities], axis=1)


def test_inferred_kinds(zoo):
    _, s, _ = zoo
    assert s.kinds() == {
        "age": "integer",
        "code": "integer",
        "u16": "integer",
        "capital_gain": "integer",
        "int_as_float": "integer",
        "price": "continuous",
        "f32": "continuous",
        "tiny": "continuous",
        "dec": "continuous",
        "cat": "categorical",
        "large": "categorical",
        "dict": "categorical",
        "view": "categorical",
        "flag": "boolean",
        "yes_no": "boolean",
        "ts_s": "datetime",
        "ts_paris": "datetime",
        "paris_day": "datetime",
        "d32": "datetime",
        "ts_day": "datetime",
        "d64": "datetime",
        "row_id": "identifier",
        "customer": "identifier",
        "email": "pii",
        "uuid": "identifier",
        "ref_id": "identifier",
        "note": "text",
    }


@pytest.mark.parametrize("source", ["real", "random"])
def test_decoded_table_guarantees(zoo, source):
    real, s, enc = zoo
    tokens = enc.encode(real) if source == "real" else random_tokens(enc, 20_000)
    out = enc.decode(tokens, np.random.default_rng(0))
    # Exactly the input's columns, in order, with their Arrow types and metadata (free text and
    # e-mails are fake, never real values).
    assert out.schema == real.schema
    for name in ("note", "email"):
        assert not set(out.column(name).to_pylist()) & set(real.column(name).to_pylist())
    assert len(out) == len(tokens)
    j = {name: i for i, name in enumerate(enc.layout.columns)}
    for col in s.columns:
        if col.kind in ("text", "pii"):
            continue
        a, b = real.column(col.name), out.column(col.name)
        # Nulls: exactly where the tokens say null (token 0 of a column that had nulls), else none.
        if col.name in j:
            expected = (tokens[:, j[col.name]] == 0).sum() if col.null_share > 0 else 0
            assert b.null_count == expected, col.name
        elif col.null_share == 0:
            assert b.null_count == 0, col.name
        if col.kind in ("continuous", "integer", "datetime"):
            if col.name in enc.derived:  # B >= A, also where A lies beyond B's real maximum

                def wall(arr):
                    ints, null, unit = temporal_ints(arr)
                    return ints[~null].astype(f"datetime64[{unit}]").astype("datetime64[us]").astype(np.int64)

                chain, name = [], col.name  # the column and its bases, down to one modelled on its own
                bases = {r["column"]: r["base"] for r in s.relations}
                while name in bases:
                    name = bases[name]
                    chain.append(name)
                assert wall(b).min() >= wall(a).min(), col.name
                assert wall(b).max() <= max(wall(real.column(c)).max() for c in [col.name, *chain]), col.name
                continue
            lo, hi = pc.min_max(a)["min"].as_py(), pc.min_max(a)["max"].as_py()
            got = pc.min_max(b)
            assert lo <= got["min"].as_py() and got["max"].as_py() <= hi, col.name
        if col.kind == "integer" and pa.types.is_floating(b.type):
            v = b.drop_null().to_numpy()
            assert np.array_equal(v, np.round(v)), col.name
        if col.kind in ("categorical", "boolean"):
            assert set(b.drop_null().to_pylist()) <= set(a.drop_null().to_pylist()), col.name
        if col.kind == "datetime":
            ints, null, unit = temporal_ints(b)
            k = unit_ratio(col.resolution, unit)
            assert not (ints[~null] % k).any(), f"{col.name} not at {col.resolution} resolution"
            assert getattr(b.type, "tz", None) == col.timezone


def test_decoded_values_re_encode_to_the_same_tokens(zoo):
    """A decoded value lies in the bin (or is the exact value, or the rare level) of its token."""
    _, _, enc = zoo
    tokens = random_tokens(enc, 20_000, seed=5)
    out = enc.decode(tokens, np.random.default_rng(5))
    assert_same_tokens(enc, out, tokens)


def test_decoding_leaves_no_reference_cycles(zoo):
    """A decoded chunk is freed when its table is, not when Python's cyclic collector next runs:
    a cycle through the decoded columns grew generate's memory ~12 MB a 50,000-row chunk."""
    import gc

    _, _, enc = zoo
    tokens = random_tokens(enc, 2_000, seed=6)
    gc.collect()
    gc.disable()
    try:
        enc.decode(tokens, np.random.default_rng(6), row_offset=2_000)  # the table is dropped at once
        assert gc.collect() == 0
    finally:
        gc.enable()


def assert_same_tokens(enc, out, tokens):
    """Every modelled column's tokens but those of dates modelled as another date plus an offset
    (d32, d64 and ts_day always equal paris_day, ts_paris is never before ts_s: test_date_relations)."""
    keep = [j for j, name in enumerate(enc.layout.columns) if name not in enc.derived]
    assert enc.derived and np.array_equal(enc.encode(out)[:, keep], tokens[:, keep])


def test_date_relations(zoo):
    real, s, enc = zoo
    rel = {r["column"]: r for r in s.relations}
    assert rel["d32"] == {
        "column": "d32",
        "base": "paris_day",
        "op": "==",
        "encoding": "offset",
        "also": ["ts_day", "d64"],
    }  # equal to those too: each bounds it from below
    assert rel["ts_day"] == {
        "column": "ts_day",
        "base": "paris_day",
        "op": "==",
        "encoding": "offset",
        "also": [],
    }  # ns storage
    assert rel["ts_paris"]["base"] == "ts_s" and rel["ts_paris"]["op"] == ">="  # Paris wall clock >= the UTC one
    out = enc.decode(random_tokens(enc, 5000, seed=8), np.random.default_rng(8))
    for r, base in ((r, base) for r in s.relations for base in (r["base"], *r["also"])):
        a, b = (out.column(c) for c in (base, r["column"]))
        a, b = (
            x.cast(pa.timestamp("us", tz=getattr(x.type, "tz", None)))
            if pa.types.is_timestamp(x.type)
            else x.cast(pa.date32()).cast(pa.timestamp("us"))
            for x in (a, b)
        )
        a = pc.local_timestamp(a) if a.type.tz else a  # wall-clock time, as the encoder compares them
        b = pc.local_timestamp(b) if b.type.tz else b
        ok = (pc.equal if r["op"] == "==" and base == r["base"] else pc.greater_equal)(b, a)
        assert pc.all(ok).as_py() is not False, r


def test_datetimes_are_real_dates_at_the_real_resolution(zoo):
    real, _, enc = zoo
    out = enc.decode(random_tokens(enc, 5000), np.random.default_rng(2))
    local = pc.local_timestamp(out.column("paris_day"))
    assert pc.all(pc.equal(pc.hour(local), 0)).as_py()  # local midnights, not UTC ones
    assert pc.min(out.column("d32")).as_py() >= pc.min(real.column("d32")).as_py()
    assert pc.min(out.column("d32")).as_py().year < 1970  # negative days survive
    for name in ("ts_s", "ts_paris", "d32", "ts_day", "d64"):
        years = pc.year(out.column(name).drop_null()).to_numpy()
        assert len(years) and (years != 1970).mean() > 0.9, name  # no 1970 artefacts, no all-NaT
    us = pc.microsecond(out.column("ts_paris")).to_numpy()
    assert (us != 0).mean() > 0.5  # microsecond resolution kept


def test_low_cardinality_and_spikes_decode_exactly(zoo):
    real, _, enc = zoo
    out = enc.decode(enc.encode(real), np.random.default_rng(0))
    for name in ("code", "cat", "flag", "yes_no", "dict"):
        assert out.column(name).to_pylist() == real.column(name).to_pylist(), name
    zeros = lambda t: pc.sum(pc.equal(t.column("capital_gain"), 0)).as_py()  # noqa: E731
    assert zeros(out) == zeros(real)


def test_identifiers_are_fresh_unique_keys_in_the_real_format(zoo):
    real, _, enc = zoo
    n = 4000
    parts = [enc.decode(random_tokens(enc, n, seed=i), np.random.default_rng(i), row_offset=i * n) for i in range(2)]
    out = pa.concat_tables(parts)
    assert not pc.any(pc.is_in(out.column("email"), value_set=real.column("email"))).as_py()  # pii: fake, never real
    patterns = {
        "customer": r"CUST-\d{6}",
        "row_id": None,
        "ref_id": None,
        "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    }
    for name, pattern in patterns.items():
        b, a = out.column(name).drop_null(), real.column(name).drop_null()
        assert len(pc.unique(b)) == len(b), name
        assert not pc.any(pc.is_in(b, value_set=a)).as_py(), f"{name} copied a real key"
        if pattern:
            assert pc.all(pc.match_substring_regex(b, f"^{pattern}$")).as_py(), name
    assert out.column("row_id").type == pa.int64() and pc.min(out.column("row_id")).as_py() > N + 9
    share = out.column("ref_id").null_count / len(out)
    assert abs(share - 0.05) < 4 * np.sqrt(0.05 * 0.95 / len(out))  # real null share, within noise


def test_unpatterned_keys_avoid_every_real_prefix():
    """Real keys that look like our fallback format push the generated prefix away from them."""
    real = [f"k-syn-{i:09d}" for i in range(100)] + [f"kx-syn-{i}" for i in range(100)] + ["k-synx-0"] * 1
    t = pa.table({"k": real, "v": np.arange(201) % 3})
    s = infer_schema(t)
    assert s.column("k").kind == "identifier"
    enc = TabularEncoder.fit(t, s)
    out = enc.decode(np.zeros((1000, 1), np.int64), np.random.default_rng(0)).column("k")
    assert not pc.any(pc.is_in(out, value_set=t.column("k"))).as_py()
    for r in set(real):
        assert not pc.any(pc.starts_with(out, r)).as_py()


def test_integer_keys_that_overflow_their_type_are_refused():
    t = pa.table({"id": pa.array(np.arange(32_667, 32_767), pa.int16())})
    enc = TabularEncoder.fit(t, infer_schema(t))
    enc.decode(np.zeros((1, 0), np.int64), np.random.default_rng(0))
    with pytest.raises(SynthgenError, match="'id' \\(int16\\) has no room"):
        enc.decode(np.zeros((10, 0), np.int64), np.random.default_rng(0))


def test_state_is_json_and_reloads_to_the_same_output(zoo, tmp_path):
    _, _, enc = zoo
    path = tmp_path / "encoder.json"
    enc.save(path)
    raw = json.loads(path.read_text())
    assert raw["version"] == 3 and raw["layout"] == enc.layout.to_dict()
    back = TabularEncoder.load(path)
    tokens = random_tokens(enc, 3000)
    a = enc.decode(tokens, np.random.default_rng(3), row_offset=7)
    b = back.decode(tokens, np.random.default_rng(3), row_offset=7)
    assert a.equals(b) and a.schema.equals(b.schema, check_metadata=True)
    assert not enc.decode(tokens, np.random.default_rng(4)).equals(a)
    raw["version"] = 1
    path.write_text(json.dumps(raw))
    with pytest.raises(SynthgenError, match="rerun `synthgen encode`"):
        TabularEncoder.load(path)


def test_bad_tokens_are_refused(zoo):
    _, _, enc = zoo
    tokens = random_tokens(enc, 10)
    tokens[3, 2] = enc.layout.cardinalities[2]
    with pytest.raises(ValueError, match=f"'{enc.layout.columns[2]}'"):
        enc.decode(tokens, np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        enc.decode(tokens[:, :3], np.random.default_rng(0))
    assert len(enc.decode(tokens[:0], np.random.default_rng(0))) == 0


# ---- conditions ------------------------------------------------------------------------------
def test_condition_tokens(zoo):
    real, _, enc = zoo
    j = {name: i for i, name in enumerate(enc.layout.columns)}
    cond = enc.condition_tokens({"cat": "b", "flag": None, "code": 3, "age": 40, "paris_day": "1999-05-01"})
    assert set(cond) == {j["cat"], j["flag"], j["code"], j["age"], j["paris_day"]} and cond[j["flag"]] == 0
    with pytest.raises(SynthgenError, match="'d32': it is modelled as an offset from 'paris_day'"):
        enc.condition_tokens({"d32": "1999-05-01"})  # always equal to paris_day: condition on that one
    tokens = random_tokens(enc, 500)
    for col, tok in cond.items():
        tokens[:, col] = tok
    out = enc.decode(tokens, np.random.default_rng(0))
    assert set(out.column("cat").to_pylist()) == {"b"} and out.column("flag").null_count == 500
    assert set(out.column("code").to_pylist()) == {3}
    assert 40 in set(out.column("age").to_pylist())  # age is binned: values of 40's bin
    assert_same_tokens(enc, out, tokens)


@pytest.mark.parametrize(
    "condition,needle",
    [
        ({"nosuch": 1}, "unknown column 'nosuch'"),
        ({"row_id": 3}, "identifier column, which is not modelled"),
        ({"note": "x"}, "text column"),
        ({"cat": "Martian"}, "'Martian' is not among its real values"),
        ({"age": 300}, "between 17 and 90"),
        ({"age": "old"}, "expected a integer value"),
        ({"yes_no": None}, "never null"),
        ({"ts_s": "1800-01-01"}, "ts_s"),
    ],
)
def test_unmeetable_conditions(zoo, condition, needle):
    _, _, enc = zoo
    with pytest.raises(SynthgenError) as e:
        enc.condition_tokens(condition)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_rare_levels_cannot_be_conditioned_on():
    t = pa.table({"c": ["a"] * 50 + ["b"] * 40 + ["z"]})
    enc = TabularEncoder.fit(t, infer_schema(t), rare_min_count=5)
    with pytest.raises(SynthgenError, match="too rare"):
        enc.condition_tokens({"c": "z"})


def test_a_column_of_mostly_one_row_levels_keeps_tokens_only_for_its_frequent_ones():
    """city: 300 towns seen once or twice (most rows) and 3 cities of 100 rows: the towns share the
    rare token, the cities keep theirs; model: 5 frequent models and a tail of 30 seen once (a
    tenth of the rows) keeps a token for every level; a 12-row column of 3 levels stays whole."""
    from synthgen.encoders.columns import sparse_column

    towns = [f"town-{i}" for i in range(300) for _ in range(1 + i % 2)]
    t = pa.table(
        {
            "city": ["Oslo"] * 100 + ["Lima"] * 100 + ["Pune"] * 100 + towns,
            "model": [f"m{i % 5}" for i in range(720)] + [f"rare-{i}" for i in range(30)],
        }
    )
    enc = TabularEncoder.fit(t, infer_schema(t), rare_min_count=1)
    assert enc.codecs["city"].kept == ["Oslo", "Lima", "Pune"]
    assert len(enc.codecs["model"].kept) == 35
    out = enc.decode(enc.encode(t), np.random.default_rng(0)).column("city").to_pylist()
    assert sum(v.startswith("town-") for v in out) == len(towns)  # rare draws stay town names
    small = pa.table({"region": ["n", "s", "e", "w"] * 3})
    assert not sparse_column(infer_schema(small).column("region").frequencies, 12)
    assert len(TabularEncoder.fit(small, infer_schema(small), rare_min_count=1).codecs["region"].kept) == 4


# ---- fitting edge cases --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,needle",
    [
        ({"n_bins": 1}, "n_bins"),
        ({"max_categories": 0}, "max_categories"),
        ({"rare_min_count": "5"}, "rare_min_count"),
        ({"text_strategy": "copy"}, "text_strategy"),
    ],
)
def test_bad_settings(kwargs, needle):
    t = pa.table({"a": [1, 2, 3]})
    with pytest.raises(SynthgenError, match=needle):
        TabularEncoder.fit(t, infer_schema(t), **kwargs)


def test_nearest_value_encoding_has_no_row_cap():
    """Values never seen at fit time map to the nearest exact value, at any table size."""
    fit = pa.table({"x": np.tile([0, 10, 20], 10)})
    enc = TabularEncoder.fit(fit, infer_schema(fit))
    n = 300_000
    other = pa.table({"x": np.tile([-5, 4, 6, 14, 16, 25], n // 6)})
    tok = enc.encode(other)[:, 0]
    assert tok.tolist()[:6] == [0, 0, 1, 1, 2, 2] and len(tok) == n


def test_spike_inside_a_bin_is_not_over_produced():
    """A frequent exact value inside the range of a bin is skipped by that bin's draws."""
    rng = np.random.default_rng(0)
    v = np.where(rng.random(20_000) < 0.3, 500, rng.integers(0, 1000, 20_000))
    t = pa.table({"v": v})
    enc = TabularEncoder.fit(t, infer_schema(t), n_bins=10)
    out = enc.decode(enc.encode(t), np.random.default_rng(1)).column("v")
    assert pc.sum(pc.equal(out, 500)).as_py() == (v == 500).sum()


@pytest.mark.parametrize("grid", [True, False])
def test_within_bin_draws_follow_the_real_values(grid):
    """A long, lumpy bin (a rare large value at the top, like capital_gain's 99999) decodes close
    to the real distribution, not spread uniformly across the bin; the KS distance of the round
    trip stays far below a uniform draw's."""
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    n = 20_000
    v = np.where(rng.random(n) < 0.02, 99_999, rng.integers(100, 3000, n)).astype(np.int64)
    t = pa.table({"v": v if grid else v * 1.000001 + rng.random(n) * 1e-3})  # floats: no grid
    enc = TabularEncoder.fit(t, infer_schema(t), n_bins=10)
    out = enc.decode(enc.encode(t), np.random.default_rng(1)).column("v").to_numpy()
    real = t.column("v").to_numpy()
    assert np.array_equal(enc.encode(pa.table({"v": out})), enc.encode(t))  # same tokens back
    assert ks_2samp(real, out).statistic < 0.01
    top = np.isclose(out, real.max(), rtol=1e-6) if not grid else out == real.max()
    assert abs(top.mean() - 0.02) < 0.005  # the large value keeps its mass (a uniform draw: ~0)


def test_adult_round_trip():
    real = pq.read_table(ROOT / "data/adult/adult_train.parquet").slice(0, 5000)
    enc = TabularEncoder.fit(real, infer_schema(real))
    tokens = enc.encode(real)
    out = enc.decode(tokens, np.random.default_rng(0))
    assert out.schema == real.schema
    assert np.array_equal(enc.encode(out), tokens)
    for name in ("age", "education_num", "hours_per_week", "workclass", "native_country", "income"):
        assert out.column(name).equals(real.column(name)), name  # exact tokens: exact values


# ---- high cardinality --------------------------------------------------------------------------
def test_high_cardinality_column_is_cheap(tmp_path):
    n, levels = 200_000, 50_000
    rng = np.random.default_rng(0)
    codes = np.minimum(rng.zipf(1.3, n), levels) - 1
    codes[:levels] = np.arange(levels)  # every level present
    names = np.char.add("level-", np.arange(levels).astype(str))
    t = pa.table({"city": pa.array(names[codes]), "x": rng.integers(0, 10, n)})
    t0 = time.perf_counter()
    s = infer_schema(t)
    enc = TabularEncoder.fit(t, s, max_categories=1000)
    tokens = enc.encode(t)
    t1 = time.perf_counter()
    tracemalloc.start()
    out = enc.decode(tokens, np.random.default_rng(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t2 = time.perf_counter()
    print(f"50k levels, 200k rows: fit+encode {t1 - t0:.2f}s, decode {t2 - t1:.2f}s, numpy peak {peak / 1e6:.1f} MB")
    assert s.column("city").kind == "categorical" and len(s.column("city").categories) == levels
    assert enc.layout.cardinalities[0] == 1001  # 1000 kept levels + one rare token
    assert peak < 64e6  # a few arrays of n rows, not n x levels
    city = out.column("city")
    assert pc.all(pc.is_in(city, value_set=pa.array(names))).as_py()
    # The rare token keeps the rare levels' total share, and draws them by their frequencies.
    kept = set(enc.codecs["city"].kept)
    rare_share = lambda col: 1 - pc.sum(pc.is_in(col, value_set=pa.array(sorted(kept)))).as_py() / n  # noqa: E731
    assert rare_share(city) == pytest.approx(rare_share(t.column("city")), abs=1e-9)
    assert len(pc.unique(city)) > 20_000
    path = tmp_path / "encoder.json"
    enc.save(path)
    size = path.stat().st_size
    assert size < 30 * levels, size  # the levels and their counts once, about 20 bytes each
    assert (
        TabularEncoder.load(path)
        .decode(tokens[:1000], np.random.default_rng(0))
        .equals(enc.decode(tokens[:1000], np.random.default_rng(0)))
    )


def test_free_text_is_dropped_with_a_warning_when_asked():
    t = pa.table({"a": np.arange(60) % 3, "note": [f"{'long ' * 10} comment {i}" for i in range(60)]})
    s = infer_schema(t)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        enc = TabularEncoder.fit(t, s, text_strategy="drop")
    assert any("'note' is free text" in str(x.message) for x in w)
    out = enc.decode(enc.encode(t), np.random.default_rng(0))
    assert out.column_names == ["a"]
    assert re.search("note", json.dumps(enc.to_dict()["codecs"])) is None


def test_auto_category_cap_keeps_every_level_seen_20_times():
    """encoder.max_categories=auto: 1,500 levels of 20 rows each all get a token (a fixed cap of 1,000
    merged a third of them into the rare token); levels seen fewer times share the rare token; a
    small table keeps every level up to the 1,000 floor."""
    from synthgen import sizing

    names = [f"tail-{i:04d}" for i in range(1500) for _ in range(20)] + [f"once-{i}" for i in range(300)]
    t = pa.table({"tailnum": names, "x": np.arange(len(names)) % 7})
    s = infer_schema(t)
    auto = TabularEncoder.fit(t, s, max_categories="auto")
    fixed = TabularEncoder.fit(t, s, max_categories=1000)
    assert auto.layout.cardinalities[0] == 1500 + 1 and fixed.layout.cardinalities[0] == 1000 + 1
    small = pa.table({"city": [f"c{i}" for i in range(800)] * 5})  # 5 rows a level: not sparse
    assert TabularEncoder.fit(small, infer_schema(small), max_categories="auto").layout.cardinalities[0] == 800
    assert sizing.max_categories([5] * 30_000) == 1000 and sizing.max_categories([20] * 30_000) == 20_000
    with pytest.raises(SynthgenError, match="max_categories"):
        TabularEncoder.fit(t, s, max_categories="many")


def as_dictionaries(t: pa.Table, cut: int) -> pa.Table:
    """`t` with every string column as a two-chunk dictionary column: each chunk its own dictionary,
    holding a level no row uses (as a streamed part's row-group dictionary may)."""
    cols = []
    for col in t.columns:
        if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
            cols.append(col)
            continue
        chunks = []
        for piece in (col.slice(0, cut), col.slice(cut)):
            d = pc.dictionary_encode(piece.combine_chunks())
            levels = pa.concat_arrays([pa.array(["an unused level"], d.dictionary.type), d.dictionary])
            chunks.append(pa.DictionaryArray.from_arrays(pc.add(d.indices, 1), levels))
        cols.append(pa.chunked_array(chunks))
    return pa.Table.from_arrays(cols, names=t.column_names)


def test_dictionary_columns_encode_as_their_values_do(zoo):
    """Category columns arriving as Arrow dictionaries (streamed parts, pandas categoricals) are looked
    up per level; tokens, row hashes and errors are those of the plain column."""
    from synthgen.shards import value_hashes

    t, _, enc = zoo
    d = as_dictionaries(t, cut=1234)
    assert sum(pa.types.is_dictionary(c.type) for c in d.columns) >= 3
    np.testing.assert_array_equal(enc.encode(d), enc.encode(t))
    np.testing.assert_array_equal(value_hashes(enc, d), value_hashes(enc, t))
    # given the rows' tokens, a category column without a rare token hashes its levels from them
    from synthgen.encoders.columns import CategoryCodec

    assert any(isinstance(c, CategoryCodec) and c.n_rare == 0 for c in enc.codecs.values())
    np.testing.assert_array_equal(value_hashes(enc, d, enc.encode(t)), value_hashes(enc, t))
    first = t.column_names.index("large")
    unseen = t.set_column(first, "large", pa.array(["x"] * 7 + ["never seen"] + ["y"] * (t.num_rows - 8)))
    for table in (unseen, as_dictionaries(unseen, cut=5)):
        with pytest.raises(SynthgenError, match="has value 'never seen', which the real data never had"):
            enc.encode(table)


def test_unpatterned_keys_keep_their_shape_and_never_equal_a_real_key():
    """Airport codes and tail numbers come back as new codes of their shape, unique across chunks."""
    rng = np.random.default_rng(5)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    codes = np.unique(["".join(rng.choice(letters, 3)) for _ in range(4000)])[:3000]
    tails = [f"N{rng.integers(100, 1000)}{''.join(rng.choice(letters, 2))}" for _ in range(3500)]
    alnum = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    refs = ["".join(rng.choice(alnum, 5)) + "-" + "".join(rng.choice(alnum, 5)) for _ in range(len(codes))]
    t = pa.table({"iata": codes, "tail": np.unique(tails)[: len(codes)], "ref": refs, "v": np.arange(len(codes)) % 3})
    s = infer_schema(t)
    assert {s.column(k).kind for k in ("iata", "tail", "ref")} == {"identifier"}
    enc = TabularEncoder.fit(t, s)
    state = json.dumps(enc.to_dict())
    assert not any(f'"{k}"' in state for k in codes[:50])  # the shape and hashes, never a key
    n = len(codes)
    out = pa.concat_tables(
        [enc.decode(np.zeros((n, 1), np.int64), np.random.default_rng(i), row_offset=i * n) for i in range(2)]
    )
    for name, pattern in (
        ("iata", r"^[A-Z]{3}$"),
        ("tail", r"^N\d{3}[A-Z]{2}$"),
        ("ref", r"^[0-9A-Z]{5}-[0-9A-Z]{5}$"),
    ):
        col = out.column(name)
        assert len(pc.unique(col)) == len(col), name
        assert not pc.any(pc.is_in(col, value_set=t.column(name))).as_py(), name
        assert pc.all(pc.match_substring_regex(col, pattern)).as_py(), name
    # the codes' letters hold 23 x 26 x 26 codes (the first 3,000 in order end at W..), of which
    # 3,000 are real: the rows past the last free code count up
    free = 23 * 26 * 26 - len(codes)
    end = enc.decode(np.zeros((20, 1), np.int64), np.random.default_rng(9), row_offset=free - 10).column("iata")
    assert pc.all(pc.match_substring_regex(end[:10], r"^[A-Z]{3}$")).as_py()
    assert end[10:].to_pylist() == [f"iata-syn-{free + i + 1:09d}" for i in range(10)]
    assert not set(end.to_pylist()) & set(out.column("iata").to_pylist()) - {None}
