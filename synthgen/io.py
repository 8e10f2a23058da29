"""Reading user tables with clear errors, and atomic writes (temporary name, then rename)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgen.errors import SynthgenError

_UNSUPPORTED = (pa.types.is_list, pa.types.is_large_list, pa.types.is_struct, pa.types.is_map,
                pa.types.is_binary, pa.types.is_large_binary, pa.types.is_fixed_size_binary)


def read_table(path: str | Path, max_rows: int | None = None) -> pa.Table:
    """Read a Parquet or CSV file into Arrow and validate it for training."""
    path = Path(path)
    if not path.exists():
        raise SynthgenError(f"input file not found: {path}; set data.path to an existing .parquet or .csv file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            table = pq.read_table(path)
        elif suffix in (".csv", ".tsv", ".txt"):
            delim = "\t" if suffix == ".tsv" else ","
            table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delim),
                                   convert_options=pacsv.ConvertOptions(null_values=["", "NA", "NaN", "null", "?"],
                                                                        strings_can_be_null=True))
        else:
            raise SynthgenError(f"{path}: unsupported file type '{suffix}'; use .parquet or .csv")
    except SynthgenError:
        raise
    except (pa.ArrowInvalid, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SynthgenError(f"{path}: cannot read it ({first}); check that the file is a complete, "
                            f"rectangular {suffix.lstrip('.')} file") from None
    if max_rows is not None and len(table) > max_rows:
        table = table.slice(0, max_rows)
    validate_table(table, str(path))
    return table


def validate_table(table: pa.Table, source: str) -> None:
    names = table.column_names
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SynthgenError(f"{source}: duplicate column names {dup}; rename them so each is unique")
    if len(table) < 2:
        raise SynthgenError(f"{source}: the table has {len(table)} row(s); at least 2 are needed to learn from")
    for name in names:
        col = table.column(name)
        if any(f(col.type) for f in _UNSUPPORTED):
            raise SynthgenError(f"{source}: column '{name}' has unsupported type {col.type}; "
                                f"flatten it or drop it before synthesis")
        if col.null_count == len(col):
            raise SynthgenError(f"{source}: column '{name}' is entirely null; drop it before synthesis")


def write_parquet_atomic(table: pa.Table, path: Path) -> None:
    """Write Parquet under a temporary name in the same folder, then rename into place."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True) + "\n")


@contextmanager
def staged_dir(final: Path):
    """Yield a fresh sibling folder; on success it replaces `final` whole, on error it is removed.

    Readers therefore see either the old complete output or the new complete output.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = final.with_name(f".{final.name}.{uuid.uuid4().hex}.partial")
    stage.mkdir()
    try:
        yield stage
        replace_dir(stage, final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def replace_dir(src: Path, final: Path) -> None:
    """Move folder `src` to `final`, replacing any old `final` (two renames, old removed last)."""
    old = final.with_name(f".{final.name}.{uuid.uuid4().hex}.old")
    if final.exists():
        os.replace(final, old)
    os.replace(src, final)
    shutil.rmtree(old, ignore_errors=True)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
