"""The table and image writers share one completeness check (writers/chunks.py:read_chunks): a
chunk missing or short when rank 0 finishes fails naming the chunk and its file, for both."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen.io import write_parquet_atomic
from synthgen.writers.image import MANIFEST_SCHEMA, ImageChunkWriter, write_image_chunk
from synthgen.writers.table import TableChunkWriter, shard_name


def _table_writer(out, counts: dict[int, int]) -> TableChunkWriter:
    out.mkdir()
    for chunk, n in counts.items():
        write_parquet_atomic(pa.table({"x": np.arange(n)}), out / shard_name(chunk))
    return TableChunkWriter(out, encoder=None, seed=0)


def _image_writer(out, counts: dict[int, int]) -> ImageChunkWriter:
    writer = ImageChunkWriter(out, enc=None, seed=0)
    for chunk, n in counts.items():
        images = np.full((n, 4, 4, 1), chunk, np.uint8)
        rows = write_image_chunk(out, chunk, images, np.zeros(n, np.int64), ["a"], 0, first_index=10 * chunk)
        write_parquet_atomic(pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA), writer._rows_part(chunk))
    return writer


PLAN = [(0, 0, 3), (1, 10, 3), (2, 20, 3)]  # (chunk, first row, rows)
WRITERS = {"table": (_table_writer, "rows"), "image": (_image_writer, "images")}


@pytest.mark.parametrize("kind", WRITERS)
def test_missing_or_short_chunk_fails_naming_it(tmp_path, kind):
    make, unit = WRITERS[kind]
    writer = make(tmp_path / "a", {0: 3, 1: 3})
    with pytest.raises(RuntimeError, match=r"^chunk 2 was not written: .*a/\S*000002\.parquet$"):
        writer.finish(PLAN, {"class_names": ["a"]})
    writer = make(tmp_path / "b", {0: 3, 1: 2, 2: 3})
    with pytest.raises(RuntimeError, match=rf"^chunk 1 has 2 {unit}, expected 3: .*b/\S*000001\.parquet$"):
        writer.finish(PLAN, {"class_names": ["a"]})


@pytest.mark.parametrize("kind", WRITERS)
def test_complete_chunks_give_a_manifest_of_every_row(tmp_path, kind):
    writer = WRITERS[kind][0](tmp_path / "out", {0: 3, 1: 3, 2: 3})
    manifest = writer.finish(PLAN, {"class_names": ["a"]})
    assert manifest["rows"] == 9 and [f["chunk"] for f in manifest["files"]] == [0, 1, 2]
    if kind == "image":  # the per-chunk rows files are merged into the one manifest, then removed
        assert pq.read_table(tmp_path / "out" / "_manifest.parquet").column("index").to_pylist() == [
            0,
            1,
            2,
            10,
            11,
            12,
            20,
            21,
            22,
        ]
        assert not list((tmp_path / "out").glob(".rows-*"))
