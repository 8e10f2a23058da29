"""JSON Lines and JSON arrays of records (synthgen/io.py read_json_records): an API's export is read
with nested objects as dotted columns and prepared like any table."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.io import read_table
from synthgen.pipeline import prepare
from tests.conftest import tiny_overrides


def records(n: int = 120) -> list[dict]:
    rng = np.random.default_rng(0)
    return [
        {
            "user_id": f"u{i % 30}",
            "at": f"2024-01-{1 + i % 28:02d}T10:{i % 60:02d}:00",
            "amount": round(float(rng.gamma(2, 10)), 2),
            "ok": bool(i % 3),
            "address": {"city": ["Oslo", "Rome"][i % 2], "geo": {"lat": 59.9 if i % 2 else 41.9}},
            "note": None if i % 5 else "vip",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_json_records_are_read_with_nested_objects_as_dotted_columns(tmp_path, suffix):
    rows = records()
    path = tmp_path / f"events{suffix}"
    text = "\n".join(json.dumps(r) for r in rows) if suffix == ".jsonl" else json.dumps(rows)
    path.write_text(text)
    t = read_table(path)
    assert t.column_names == ["user_id", "at", "amount", "ok", "address.city", "address.geo.lat", "note"]
    assert t.schema.field("amount").type == pa.float64() and t.schema.field("ok").type == pa.bool_()
    assert t.column("address.city").to_pylist()[:2] == ["Oslo", "Rome"] and t.column("note").null_count == 96
    paths = prepare(load_config(tiny_overrides(tmp_path, "data=file", f"data.path={path}")))
    assert pq.read_table(paths.train_table).num_rows + pq.read_table(paths.holdout_table).num_rows == len(rows)


def test_a_json_file_that_is_no_array_of_records_is_refused_in_one_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"a": 1}, {"a": ')
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    assert "cannot read it as a JSON array of records" in str(e.value) and "\n" not in str(e.value)


def test_parquet_structs_are_read_as_dotted_columns_whole_and_streamed(tmp_path):
    """A Spark or BigQuery export's struct columns, as JSON's nested objects: one column per field."""
    rows = records(300)
    folder = tmp_path / "parts"
    folder.mkdir()
    table = pa.Table.from_pylist(rows)
    assert pa.types.is_struct(table.schema.field("address").type)
    for i in range(3):
        pq.write_table(table.slice(i * 100, 100), folder / f"p{i}.parquet")
    whole = read_table(folder / "p0.parquet")
    assert whole.column_names == ["user_id", "at", "amount", "ok", "address.city", "address.geo.lat", "note"]
    assert whole.column("address.geo.lat").to_pylist()[:2] == [41.9, 59.9]
    cfg = load_config(tiny_overrides(tmp_path, "data=file", f"data.path={folder}", "stream.enabled=true"))
    paths = prepare(cfg)
    streamed = pq.read_table(paths.train_table)
    assert streamed.column_names == whole.column_names
    assert streamed.num_rows + pq.read_table(paths.holdout_table).num_rows == 300


def test_json_lines_stream_plain_gzipped_and_zipped(tmp_path):
    """Folders of JSON Lines files (an API's daily exports) stream as CSV files do, nested objects
    as dotted columns; gzip through pyarrow.dataset, a zip's member through Arrow's JSON stream reader."""
    import gzip
    import zipfile

    from tests.test_streaming import stream_prepared

    rows = records(600)
    text = [("\n".join(json.dumps(r) for r in rows[i * 200 : (i + 1) * 200]) + "\n").encode() for i in range(3)]
    plain, packed = tmp_path / "plain", tmp_path / "gz"
    plain.mkdir(), packed.mkdir()
    for i, t in enumerate(text):
        (plain / f"day{i}.jsonl").write_bytes(t)
        (packed / f"day{i}.jsonl.gz").write_bytes(gzip.compress(t))
    (tmp_path / "all.jsonl").write_bytes(b"".join(text))
    with zipfile.ZipFile(tmp_path / "all.jsonl.zip", "w") as z:
        z.writestr("all.jsonl", b"".join(text))
    got = {name: stream_prepared(tmp_path / f"{name}_out", tmp_path / name) for name in ("plain", "gz")}
    got.update(
        {name: stream_prepared(tmp_path / f"{name}_out", tmp_path / name) for name in ("all.jsonl", "all.jsonl.zip")}
    )
    assert {rows for rows, _ in got.values()} == {600}
    assert got["gz"][1].equals(got["plain"][1]) and got["all.jsonl.zip"][1].equals(got["all.jsonl"][1])
    assert "address.geo.lat" in got["plain"][1].column_names
