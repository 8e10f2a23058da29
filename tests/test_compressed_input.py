"""Compressed CSV and JSON tables (synthgen/compressed.py): data.csv.gz, .bz2, .zst, .lz4, .xz and a
.zip holding one table are read as the table inside them, whole or streamed."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen import compressed, pipeline
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.io import read_table
from synthgen.streaming import wants_streaming
from tests.conftest import tiny_overrides
from tests.hardening_helpers import assert_one_line_error, run_cli
from tests.test_streaming import adult_parts, overrides, stream_prepared  # noqa: F401 (a fixture)


def european_csv(n: int = 300) -> bytes:
    """A CSV as a European spreadsheet writes it: `;`, decimal commas, a byte-order mark and a title
    line above the header, so that reading it right takes the sniffing a plain file gets."""
    rng = np.random.default_rng(0)
    lines = ["Export 2024-03-01;;", "city;amount;day"]
    for i in range(n):
        amount = f"{rng.gamma(2, 50):.2f}".replace(".", ",")
        lines.append(f"{['Oslo', 'Rome', 'Lyon'][i % 3]};{amount};2024-01-{1 + i % 28:02d}")
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def compress(data: bytes, path, kind: str):
    """Write `data` to `path` compressed as `kind` (a zip holds it under the name before ".zip")."""
    if kind == ".gz":
        path.write_bytes(gzip.compress(data))
    elif kind == ".bz2":
        path.write_bytes(bz2.compress(data))
    elif kind == ".xz":
        path.write_bytes(lzma.compress(data))
    elif kind in (".zst", ".lz4"):
        codec = {".zst": "zstd", ".lz4": "lz4"}[kind]
        with pa.CompressedOutputStream(str(path), codec) as out:
            out.write(data)
    elif kind == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            member = path.name[: -len(".zip")]
            z.writestr(f"__MACOSX/._{member}", b"resource fork")  # what macOS's Compress adds: not a table
            z.writestr(member, data)
    return path


@pytest.mark.parametrize("kind", [".gz", ".bz2", ".zst", ".lz4", ".xz", ".zip"])
def test_a_compressed_csv_reads_as_the_plain_file_does(tmp_path, kind):
    data = european_csv()
    plain = tmp_path / "table.csv"
    plain.write_bytes(data)
    packed = compress(data, tmp_path / f"table.csv{kind}", kind)
    assert compressed.table_suffix(packed) == ".csv" and compressed.table_stem(packed) == "table"
    want, got = read_table(plain), read_table(packed)
    assert want.column_names == ["city", "amount", "day"]  # the title line skipped, `;` and the BOM read
    assert want.schema.field("amount").type == pa.string()  # "98,07": kept as written, typed by the schema
    assert got.equals(want)


def test_compressed_json_lines_read_as_the_plain_file_does(tmp_path):
    rows = [{"id": i, "city": ["Oslo", "Rome"][i % 2], "geo": {"lat": 59.9 + i}} for i in range(50)]
    text = "\n".join(json.dumps(r) for r in rows).encode()
    (tmp_path / "events.jsonl").write_bytes(text)
    got = read_table(compress(text, tmp_path / "events.jsonl.gz", ".gz"))
    assert got.equals(read_table(tmp_path / "events.jsonl")) and "geo.lat" in got.column_names
    array = read_table(compress(json.dumps(rows).encode(), tmp_path / "events.json.zip", ".zip"))
    assert array.num_rows == 50 and array.column("city").to_pylist()[:2] == ["Oslo", "Rome"]


def test_a_gzipped_csv_is_prepared_like_the_plain_file(tmp_path):
    data = european_csv()
    (tmp_path / "plain.csv").write_bytes(data)
    compress(data, tmp_path / "packed.csv.gz", ".gz")
    tables, schemas = [], []
    for name in ("plain.csv", "packed.csv.gz"):
        cfg = load_config(tiny_overrides(tmp_path / f"run_{name}", "data=file", f"data.path={tmp_path / name}"))
        paths = pipeline.prepare(cfg)
        tables.append((pq.read_table(paths.train_table), pq.read_table(paths.holdout_table)))
        schemas.append(json.loads(paths.schema.read_text()))
    assert tables[0][0].equals(tables[1][0]) and tables[0][1].equals(tables[1][1])
    assert schemas[0] == schemas[1]
    amount = next(c for c in schemas[1]["columns"] if c["name"] == "amount")
    assert amount["kind"] == "continuous" and amount["codec"]["decimal"] == ","  # "98,07" read as 98.07


def test_compressed_csv_files_stream_like_plain_ones(tmp_path, adult_parts):  # noqa: F811 (the fixture)
    folders = {"plain": tmp_path / "plain", "gz": tmp_path / "gz"}
    for folder in folders.values():
        folder.mkdir()
    for f in sorted(adult_parts.glob("*.parquet")):
        text = pq.read_table(f).to_pandas().to_csv(index=False).encode()
        (folders["plain"] / f"{f.stem}.csv").write_bytes(text)
        compress(text, folders["gz"] / f"{f.stem}.csv.gz", ".gz")
    one = pq.read_table(adult_parts).to_pandas().to_csv(index=False).encode()  # the three parts as one file
    compress(one, tmp_path / "adult.csv.zip", ".zip")
    compress(one, tmp_path / "adult.csv.xz", ".xz")
    (tmp_path / "adult.csv").write_bytes(one)
    folders.update({"zip": tmp_path / "adult.csv.zip", "xz": tmp_path / "adult.csv.xz", "one": tmp_path / "adult.csv"})
    got = {name: stream_prepared(tmp_path / f"{name}_out", folder) for name, folder in folders.items()}
    assert got["gz"][0] == got["plain"][0] == got["zip"][0] == got["xz"][0] == 3000
    assert got["gz"][1].equals(got["plain"][1])
    assert got["zip"][1].equals(got["one"][1]) and got["xz"][1].equals(got["one"][1])  # Arrow's CSV stream reader


def test_a_compressed_file_streams_by_the_size_of_its_text(tmp_path):
    data = european_csv(2000)
    gz = compress(data, tmp_path / "t.csv.gz", ".gz")
    zipped = compress(data, tmp_path / "t.csv.zip", ".zip")
    between = (gz.stat().st_size + 1) * 2  # above the file, below GUESS_RATIO times it
    assert gz.stat().st_size < between < compressed.GUESS_RATIO * gz.stat().st_size
    assert compressed.size_hint(zipped) == len(data)  # a zip records its member's size

    def streams(path, auto_bytes):
        return wants_streaming(load_config(["data=file", f"data.path={path}", f"stream.auto_bytes={auto_bytes}"]))

    assert streams(gz, between) and not streams(gz, 10 * len(data))
    assert streams(zipped, len(data) - 1) and not streams(zipped, len(data))  # by its member's size


@pytest.mark.parametrize(
    "name, build, words",
    [
        ("two.zip", lambda p: _zip(p, {"a.csv": b"x\n1\n", "b.csv": b"x\n2\n"}), "holds 2 files (a.csv, b.csv)"),
        ("empty.zip", lambda p: _zip(p, {}), "holds no file"),
        ("broken.zip", lambda p: p.write_bytes(b"PK\x03\x04 not really"), "not a readable zip archive"),
        ("cut.csv.gz", lambda p: p.write_bytes(gzip.compress(european_csv())[:200]), "cannot read it"),
        ("t.parquet.gz", lambda p: p.write_bytes(gzip.compress(b"PAR1")), "a compressed .parquet"),
        ("t.zip", lambda p: _zip(p, {"t.xlsx": b"PK"}), "a compressed .xlsx"),
    ],
)
def test_an_unreadable_archive_is_refused_in_one_line(tmp_path, name, build, words):
    path = tmp_path / name
    build(path)
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_zip_that_holds_no_csv_is_refused_in_one_line_when_streamed(tmp_path):
    path = tmp_path / "t.parquet.zip"
    _zip(path, {"t.parquet": b"PAR1"})
    err = run_cli("prepare", *overrides(tmp_path / "out", f"data.path={path}", "stream.enabled=true"))
    assert_one_line_error(err, "a compressed .parquet")
    assert not (tmp_path / "out" / "prepared").exists()


def _zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)


def test_a_gzipped_tab_file_reads_tab_separated(tmp_path):
    """Dataverse's downloads: `.tab` files, tab-separated, whose text holds commas."""
    text = b"city\tpop\nNew York, NY\t8336817\nLos Angeles, CA\t3979576\nChicago, IL\t2693976\n"
    t = read_table(compress(text, tmp_path / "cities.tab.gz", ".gz"))
    assert t.column_names == ["city", "pop"] and t.column("city").to_pylist()[0] == "New York, NY"
    assert t.column("pop").to_pylist() == [8336817, 3979576, 2693976]


@pytest.mark.parametrize("kind", ["", ".gz", ".bz2", ".zst", ".lz4", ".xz", ".zip"])
def test_the_tail_of_a_table_is_read_in_bounded_blocks(tmp_path, kind, monkeypatch):
    """read_tail gives the last n decompressed bytes (the whole table when shorter), streaming a
    compressed file in blocks instead of holding it whole."""
    data = european_csv(3000)  # ~60 kB
    path = tmp_path / f"table.csv{kind}"
    if kind:
        compress(data, path, kind)
    else:
        path.write_bytes(data)
    monkeypatch.setattr(compressed, "TAIL_BLOCK", 4096)  # many blocks, a tail that spans two of them
    assert compressed.read_tail(path, 5000) == data[-5000:]
    assert compressed.read_tail(path, 10**7) == data
