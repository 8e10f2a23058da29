"""The evaluate stage's seeded sample of a large synthetic set (streaming.read_parquet_sample): the
same rows for a seed whatever the files and row groups the set is cut into, and read without
holding the set in memory."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from synthgen import streaming
from synthgen.streaming import read_parquet_sample, sample_positions

N = 400_000


def whole_table() -> pa.Table:
    rng = np.random.default_rng(0)
    return pa.table(
        {
            "id": np.arange(N, dtype=np.int64),
            "x": rng.normal(size=N),
            "s": pa.array([f"level-{i % 977:04d}" for i in range(N)]),
        }
    )


def write_parts(folder, table: pa.Table, sizes: list[int], row_group: int) -> list:
    folder.mkdir()
    files, at = [], 0
    for i, n in enumerate(sizes):
        pq.write_table(table.slice(at, n), folder / f"part-{i:06d}.parquet", row_group_size=row_group)
        files.append(folder / f"part-{i:06d}.parquet")
        at += n
    assert at == table.num_rows
    return files


def test_sample_is_the_same_whatever_the_parts_and_chunks(tmp_path, monkeypatch):
    t = whole_table()
    a = write_parts(tmp_path / "a", t, [N], 50_000)
    b = write_parts(tmp_path / "b", t, [1, 99_999, 150_000, 30_000, 120_000], 7_000)
    sa, sb = read_parquet_sample(a, 5_000, seed=3), read_parquet_sample(b, 5_000, seed=3)
    assert sa.num_rows == 5_000 and sa.equals(sb)
    ids = sa.column("id").to_numpy()
    assert len(np.unique(ids)) == 5_000
    # each row is the one at its position, in the sample's (hash) order, not sorted
    np.testing.assert_array_equal(ids, sample_positions(3, N, 5_000))
    assert sa.equals(t.take(pa.array(ids)))
    assert not np.all(np.diff(ids) > 0)
    # the choice does not depend on how many positions are hashed at once
    monkeypatch.setattr(streaming, "HASH_CHUNK", 9_999)
    np.testing.assert_array_equal(sample_positions(3, N, 5_000), ids)
    # another seed, another sample; a different row count, another sample too
    assert len(np.intersect1d(read_parquet_sample(b, 5_000, seed=4).column("id").to_numpy(), ids)) < 500
    # roughly uniform: every tenth of the positions gets about a tenth of the sample
    counts = np.bincount(ids * 10 // N, minlength=10)
    assert counts.min() > 400 and counts.max() < 600


def test_sample_of_a_set_smaller_than_k_is_every_row(tmp_path):
    t = whole_table().slice(0, 1_000)
    files = write_parts(tmp_path / "a", t, [400, 600], 100)
    s = read_parquet_sample(files, 5_000, seed=1)
    assert sorted(s.column("id").to_pylist()) == list(range(1_000))


MEASURE = """
import json, sys, tracemalloc
import pyarrow as pa
from synthgen import streaming
streaming.HASH_CHUNK = 1 << 16
streaming.read_parquet_sample(sys.argv[1:2], 10, seed=1)  # lazy imports and first allocations
tracemalloc.start()  # numpy's allocations (hashes, positions)
s = streaming.read_parquet_sample(sys.argv[1:], 2_000, seed=0)
print(json.dumps({"rows": s.num_rows, "arrow_peak": pa.default_memory_pool().max_memory(),
                  "numpy_peak": tracemalloc.get_traced_memory()[1]}))
"""


def test_reading_the_sample_holds_far_less_than_the_set_and_does_not_grow_with_it(tmp_path):
    part = whole_table().slice(0, 100_000)  # 3 MB in Arrow, 5 row groups
    peaks = {}
    for n_parts in (2, 8):
        folder = tmp_path / f"set{n_parts}"
        files = write_parts(folder, pa.concat_tables([part] * n_parts), [100_000] * n_parts, 20_000)
        # a fresh process, so the Arrow pool's peak is this read's
        out = subprocess.run([sys.executable, "-c", MEASURE, *map(str, files)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        peaks[n_parts] = json.loads(out.stdout)
        assert peaks[n_parts]["rows"] == 2_000
    whole = part.nbytes * 8
    assert 0 < peaks[8]["arrow_peak"] < whole / 8, (peaks, whole)
    assert peaks[8]["numpy_peak"] < whole / 5, (peaks, whole)
    assert peaks[8]["arrow_peak"] < 1.5 * peaks[2]["arrow_peak"], peaks  # 4x the rows, not 4x the memory


def test_take_rows_equals_arrows_take_with_nulls_and_any_cardinality():
    from synthgen.streaming import take_rows

    n = 20_000
    t = pa.table(
        {
            "few": pa.array([None if i % 7 == 0 else f"level-{i % 5}" for i in range(n)], pa.large_string()),
            "many": pa.array([None if i % 11 == 0 else f"id-{i}" for i in range(n)], pa.string()),
            "x": np.arange(n, dtype=np.int64),
        }
    )
    t = pa.Table.from_batches(t.to_batches(max_chunksize=3_000))
    rng = np.random.default_rng(0)
    for idx in (rng.permutation(n), np.sort(rng.choice(n, n // 2, replace=False)), np.arange(10)):
        got = take_rows(t, idx)
        assert got.schema == t.schema and got.equals(t.take(pa.array(idx)))
