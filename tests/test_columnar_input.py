"""Arrow IPC (Feather, .arrow) and ORC files as input (synthgen/io.py read_arrow_file): read as the
same table in Parquet is, whole and streamed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest

from synthgen.errors import SynthgenError
from synthgen.io import read_table
from tests.test_streaming import ROOT, stream_prepared


@pytest.fixture(scope="module")
def adult() -> pa.Table:
    return pq.read_table(ROOT / "data/adult/adult_train.parquet").slice(0, 3000)


def write(table: pa.Table, path) -> None:
    """`table` in the format `path` names: Feather v2 (.feather), an IPC stream (.arrow), ORC."""
    if path.suffix == ".feather":
        feather.write_feather(table, path)
    elif path.suffix == ".arrow":
        with pa.ipc.new_stream(path, table.schema) as writer:
            writer.write_table(table)
    else:
        orc.write_table(table, path)


@pytest.mark.parametrize("suffix", [".feather", ".arrow", ".orc"])
def test_arrow_and_orc_files_read_as_their_parquet_does(tmp_path, adult, suffix):
    pq.write_table(adult, tmp_path / "t.parquet")
    write(adult, tmp_path / f"t{suffix}")
    want, got = read_table(tmp_path / "t.parquet"), read_table(tmp_path / f"t{suffix}")
    assert got.cast(want.schema).equals(want)  # ORC has no large_string: its text reads as string


def test_a_folder_of_feather_files_streams_as_its_parquet_files_do(tmp_path, adult):
    got = {}
    for suffix in (".parquet", ".feather"):
        folder = tmp_path / suffix.lstrip(".")
        folder.mkdir()
        for i in range(3):
            part = adult.slice(i * 1000, 1000)
            (pq.write_table if suffix == ".parquet" else feather.write_feather)(part, folder / f"p{i}{suffix}")
        got[suffix] = stream_prepared(tmp_path / f"out{suffix}", folder)
    assert got[".feather"][0] == got[".parquet"][0] == 3000
    assert got[".feather"][1].equals(got[".parquet"][1])


def test_a_file_that_is_no_arrow_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "t.feather"
    path.write_bytes(b"not an arrow file" * 10)
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    assert "cannot read it" in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "name, words",
    [
        ("t.rds", "arrow::write_feather"),
        ("t.h5", "df.to_parquet"),
        ("t.pkl", "a pickle can run code when it is loaded, so synthgen never loads one"),
        ("t.xyz", "unsupported file type '.xyz'; use a .parquet"),
    ],
)
def test_a_file_of_another_format_is_refused_with_the_way_out(tmp_path, name, words):
    path = tmp_path / name
    path.write_bytes(b"\x80\x04K\x01." if name.endswith(".pkl") else b"data")  # a pickle of 1: never loaded
    with pytest.raises(SynthgenError) as e:
        read_table(path)
    assert words in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_url_is_refused_in_one_line_without_a_download():
    with pytest.raises(SynthgenError) as e:
        read_table("https://example.org/data/table.csv")
    assert "data.path=https://example.org/data/table.csv is a URL; synthgen reads local files only" in str(e.value)
