"""Tables larger than memory: read in Arrow record batches, split, counted and sampled in one pass.

Sources (`stream_source`): `data.path` as a pyarrow dataset (one Parquet/CSV file, a folder of
them, or a glob such as `data/*.parquet`), or `data.sql`, a DuckDB query (e.g.
`SELECT * FROM 'folder/*.parquet' WHERE year > 2020`, attached databases too) whose result DuckDB
streams as record batches. Either way rows arrive in a fixed order (files sorted by path; DuckDB
keeps insertion order), so the same input and seed give the same outputs.

One pass (`stream_prepare`) over the batches, never more than a batch, a part and the sample in memory:
  - row i (its position in the input) goes to the holdout when a seeded hash of (seed, i) falls below
    data.holdout_share: a Bernoulli split, no shuffle of the whole table (data.holdout_path: the
    whole input trains and the holdout file is streamed the same way);
  - training rows are written as Parquet parts of exactly stream.shard_rows rows,
    prepared/train.parquet/part-*.parquet (a dataset folder; Parquet string columns are read and
    written as the source files' dictionaries, and synthgen.artifacts.read_parquet / io.decoded give
    them back their source types);
  - a seeded sample of stream.sample_rows training rows (the rows with the smallest hashes of
    another seeded stream: uniform, and the same whatever the batch sizes), plus "boundary rows":
    for every column the first null row and the rows holding its minimum and maximum;
  - full-pass counts: rows, nulls per column, and exact level counts of every string, boolean and
    integer column while it has at most COUNT_CAP distinct levels.
The schema is `infer_schema` on the sample (kinds, decimals, resolutions), then corrected with the
full-pass figures: row count, null shares, and exact categories and frequencies (min and max
are exact already: their rows are in the sample). The encoder is fitted on the same sample
(synthgen/shards.py): numeric bin edges are quantiles of >= 1M sampled rows, which places each of
100 edges within about +-0.1 percentage points of its true rank (the binomial error of a
1M-row sample); categories use the exact counts.
"""

from __future__ import annotations

import glob
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgen import compressed, excel, sqlite_files, stats_files
from synthgen.errors import SynthgenError
from synthgen.io import (
    ARROW_SUFFIXES,
    csv_convert_options,
    csv_text_columns,
    decoded,
    flat_structs,
    plain_schema,
    read_as_dictionary,
    sniff_csv,
)

log = logging.getLogger("synthgen")

MAX_STORED_CATEGORIES = 100_000  # as infer_schema stores
BINCOUNT_SPAN = 1 << 20  # an integer column of a narrower range (in a batch) is counted by np.bincount
COUNT_CAP = 200_000  # distinct levels counted exactly per column; above it the sample's counts stand
STREAM_FILE = "stream.json"  # in prepared/: marks a streamed preparation (read by encode/train/generate)
SAMPLE_FILE = "sample.parquet"  # training sample + boundary rows
HOLDOUT_SAMPLE_FILE = "holdout_sample.parquet"


# ---- seeded hashes of row positions ----------------------------------------------------------------
def splitmix64(x: np.ndarray) -> np.ndarray:
    """uint64 -> uint64, a bijective mixer (Steele et al.); equal inputs equal outputs, no state."""
    z = x + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def row_hashes(seed: int, stream: int, first: int, n: int) -> np.ndarray:
    """uint64 [n]: the hash of rows first..first+n-1 in stream `stream` of `seed`."""
    key = splitmix64(np.array([(int(seed) & (2**32 - 1)) << 8 | stream], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        return splitmix64(np.arange(first, first + n, dtype=np.uint64) ^ key)


def unit_floats(h: np.ndarray) -> np.ndarray:
    """uint64 hashes -> float64 uniform in [0, 1) (top 53 bits)."""
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


HOLDOUT_STREAM, SAMPLE_STREAM, HOLDOUT_SAMPLE_STREAM, VAL_STREAM, EVAL_SYNTHETIC_STREAM = 1, 2, 3, 4, 5


# ---- sources -------------------------------------------------------------------------------------
def wants_streaming(cfg) -> bool:
    """True for data.sql, folders and globs, files over stream.auto_bytes, or stream.enabled=true."""
    data, mode = cfg.data, cfg.stream.enabled
    if data.get("sql"):
        return True
    if mode is True or mode is False:
        return mode
    if mode != "auto":
        raise SynthgenError(f"stream.enabled={mode!r} must be auto, true or false")
    p = str(data.path)
    if glob.has_magic(p) or Path(p).is_dir():
        return True
    if not Path(p).is_file():
        return False
    whole = (*excel.SUFFIXES, ".json", *stats_files.SUFFIXES, *sqlite_files.SUFFIXES)  # .json: maybe one array
    if compressed.table_suffix(p) in whole:  # read whole (synthgen/io.py)
        return False
    return compressed.size_hint(p) > int(cfg.stream.auto_bytes)


@dataclass
class Source:
    """A restartable stream of record batches (`batches()`) and where it comes from (`name`)."""

    name: str
    kind: str  # "dataset" or "sql"
    spec: object  # list of files, or the SQL text
    fmt: str = "parquet"

    def known_rows(self) -> int | None:
        """The row count from Parquet footers, without reading rows (None for CSV and SQL)."""
        if self.kind != "dataset" or self.fmt != "parquet":
            return None
        try:
            return sum(pq.read_metadata(f).num_rows for f in self.spec)
        except (pa.ArrowException, OSError):
            return None  # the pass itself says what is wrong with the file

    def batches(self, batch_rows: int, dictionaries: bool = False):
        """Record batches of at most batch_rows rows. `dictionaries`: Parquet string columns come as
        Arrow dictionaries (the file's own dictionary pages, not decoded string by string)."""
        try:
            if self.kind == "sql":
                yield from _sql_batches(self.spec, batch_rows)
                return
            if not all(compressed.dataset_readable(f) for f in self.spec):  # a zip or xz file: Arrow's stream reader
                yield from _text_stream_batches(self.spec, self.fmt, batch_rows)
                return
            import pyarrow.dataset as ds

            dataset = ds.dataset(self.spec, format=_file_format(self.fmt, self.spec[0]))
            target = None
            if dictionaries and self.fmt == "parquet":
                strings = [f.name for f in dataset.schema if _is_string(f.type)]
                if strings:
                    target = pa.schema(
                        [read_as_dictionary(f) if f.name in strings else f for f in dataset.schema],
                        metadata=dataset.schema.metadata,
                    )
                    opts = ds.ParquetReadOptions(dictionary_columns=strings)
                    dataset = ds.dataset(self.spec, format=ds.ParquetFileFormat(read_options=opts))
            # files in list order; one file read ahead, not four (-450 MB at 1M-row row groups, no slower)
            for batch in dataset.to_batches(batch_size=batch_rows, use_threads=True, fragment_readahead=1):
                if batch.num_rows:
                    yield flat_structs(batch if target is None else _marked(batch, target))
        except SynthgenError:
            raise
        except (pa.ArrowException, OSError, *compressed.ERRORS) as e:
            raise SynthgenError(
                f"{self.name}: cannot read it ({_first_line(e)}); check that every file is a "
                f"complete {self.fmt} file with the same columns and types"
            ) from None


def _is_string(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _marked(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """`batch` with `target`'s fields: the read-as-dictionary columns marked with their source type
    (a cast only where the reader's type differs from the mark's)."""
    cols = [c if c.type == f.type else c.cast(f.type) for c, f in zip(batch.columns, target)]
    return pa.RecordBatch.from_arrays(cols, schema=target)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _file_format(fmt: str, first_file: str):
    import pyarrow.dataset as ds

    if fmt == "parquet":
        return ds.ParquetFileFormat()
    if fmt == "ipc":
        return ds.IpcFileFormat()
    if fmt == "orc":
        return ds.OrcFileFormat()
    if fmt == "json":
        return ds.JsonFileFormat()
    ropts, popts, copts = _csv_options(fmt, first_file)
    return ds.CsvFileFormat(parse_options=popts, convert_options=copts, read_options=ropts)


def _csv_options(fmt: str, first_file: str) -> tuple:
    """(read, parse, convert) options of the streamed CSV files, from the first file's dialect."""
    dialect = sniff_csv(Path(first_file), "\t" if fmt == "tsv" else ",")  # as read_table reads a CSV
    if dialect.spaced:
        raise SynthgenError(
            f"{first_file}: its columns are aligned with runs of spaces, which the streamed prepare does not "
            f"read; save it as CSV or Parquet, or set stream.enabled=false for a file that fits in memory"
        )
    ropts, popts = dialect.options()
    ropts.block_size = 64 << 20  # types from a 64 MB first block
    return ropts, popts, csv_convert_options(csv_text_columns(first_file, dialect))


def _text_stream_batches(files: list[str], fmt: str, batch_rows: int):
    """Record batches of CSV or JSON Lines files that pyarrow.dataset cannot open (a zip's member,
    xz), read through Arrow's streaming reader from the decompressed bytes; every file takes the
    first one's column types, as the dataset reader's files do."""
    import pyarrow.json as pajson

    options = None if fmt == "json" else _csv_options(fmt, files[0])
    schema = None
    for f in files:
        with compressed.open_binary(f) as stream:
            if fmt == "json":
                parse = pajson.ParseOptions(explicit_schema=schema) if schema is not None else None
                reader = pajson.open_json(stream, parse_options=parse)
            else:
                ropts, popts, copts = options
                if schema is not None:
                    copts.column_types = schema
                reader = pacsv.open_csv(stream, read_options=ropts, parse_options=popts, convert_options=copts)
            schema = schema or reader.schema
            for batch in reader:
                for start in range(0, batch.num_rows, batch_rows):
                    yield flat_structs(batch.slice(start, batch_rows))


def _sql_batches(sql: str, batch_rows: int):
    import duckdb

    con = duckdb.connect()
    try:
        try:
            reader = con.sql(sql).to_arrow_reader(batch_rows)
        except duckdb.Error as e:
            raise SynthgenError(
                f"data.sql: {_first_line(e)}; fix the query (DuckDB SQL, e.g. SELECT * FROM 'folder/*.parquet')"
            ) from None
        except AttributeError:  # not a query that returns rows (e.g. CREATE TABLE)
            raise SynthgenError("data.sql must be a query that returns rows (SELECT ...)") from None
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (duckdb.Error, pa.ArrowException) as e:
                raise SynthgenError(f"data.sql: {_first_line(e)}; fix the query") from None
            if batch.num_rows:
                yield batch
    finally:
        con.close()


_SUFFIX = {
    **{suffix: "parquet" for suffix in (".parquet", ".pq")},
    **{suffix: "ipc" for suffix in ARROW_SUFFIXES},
    ".orc": "orc",
    **{".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "csv"},
    **{".jsonl": "json", ".ndjson": "json"},  # JSON Lines; a .json file may be one array, read whole
}
_TEXT_SUFFIXES = tuple(s for s, kind in _SUFFIX.items() if kind in ("csv", "tsv", "json"))  # read compressed


def stream_source(cfg, key: str = "data.path", path=None) -> Source:
    """data.sql, or the file/folder/glob at `path` (default data.path)."""
    if path is None and cfg.data.get("sql"):
        sql = str(cfg.data.sql).strip()
        return Source("data.sql", "sql", sql)
    p = str(cfg.data.path if path is None else path)
    if glob.has_magic(p):
        files = sorted(f for f in glob.glob(p, recursive=True) if os.path.isfile(f))
    elif os.path.isdir(p):
        files = sorted(
            str(f)
            for f in Path(p).rglob("*")
            if f.is_file() and not any(part.startswith((".", "_")) for part in f.relative_to(p).parts)
        )
    elif os.path.isfile(p):
        files = [p]
    else:
        raise SynthgenError(f"input not found: {p}; set {key} to a .parquet/.csv file, a folder or a glob")
    if not files:
        raise SynthgenError(f"{p}: no files there; set {key} to a folder or glob of .parquet or .csv files")
    suffix = {f: compressed.table_suffix(f) for f in files}  # data.csv.gz is a CSV file
    for f in files:
        compressed.check_table_type(f, suffix[f], _TEXT_SUFFIXES)
    kind = {f: _SUFFIX.get(suffix[f]) for f in files}
    kinds = set(kind.values())
    if None in kinds or len(kinds) > 1:
        odd = next(f for f in files if kind[f] != kind[files[0]] or kind[f] is None)
        raise SynthgenError(
            f"{p}: mixes file types ({Path(odd).name}); point {key} at files of one type "
            f"(.parquet, .feather, .orc, .csv or .jsonl, plain or compressed)"
        )
    return Source(p, "dataset", files, kinds.pop())


# ---- the pass ----------------------------------------------------------------------------------------
# The parts are the pipeline's own intermediate files, read whole by encode: no column statistics
# (min/max per row group decode a dictionary column to compute; nothing filters on them) and lz4.
# Written from 105k-row dictionary batches, s per 1M rows: zstd + statistics 0.52, zstd 0.35, lz4 0.27
# (files 1.4x zstd's); benchmarks/scale.md.
PART_OPTIONS = {"compression": "lz4", "write_statistics": False}


class PartWriter:
    """Writes record batches as Parquet parts of exactly `part_rows` rows (the last one fewer)."""

    def __init__(self, folder: Path, part_rows: int):
        self.folder, self.part_rows = Path(folder), int(part_rows)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.parts, self.rows, self._writer, self._in_part = [], 0, None, 0

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._writer is None:
                name = f"part-{len(self.parts):06d}.parquet"
                self._writer = pq.ParquetWriter(self.folder / name, table.schema, **PART_OPTIONS)
                self.parts.append({"path": name, "first_row": self.rows, "rows": 0})
            take = min(self.part_rows - self._in_part, table.num_rows)
            self._writer.write_table(table.slice(0, take))
            self._in_part += take
            self.rows += take
            self.parts[-1]["rows"] += take
            table = table.slice(take)
            if self._in_part == self.part_rows:
                self._close()

    def _close(self):
        if self._writer is not None:
            self._writer.close()
        self._writer, self._in_part = None, 0

    def close(self, schema: pa.Schema) -> list[dict]:
        self._close()
        if not self.parts:  # an empty split still reads as a table with the right columns
            pq.write_table(schema.empty_table(), self.folder / "part-000000.parquet")
            self.parts.append({"path": "part-000000.parquet", "first_row": 0, "rows": 0})
        return self.parts


def _write_split(train_w: PartWriter, train: pa.Table, hold_w: PartWriter, held: pa.Table | None) -> None:
    train_w.write(train)
    if held is not None:
        hold_w.write(held)


class InOrderWriter:
    """Runs writes on one background thread, one at a time, in the order submitted: in the pass,
    Parquet encoding (a third of its time) overlaps the sampling and counting on the caller's thread
    (pyarrow releases the GIL), and a batch in flight is the only extra memory."""

    def __init__(self):
        self._pool, self._pending = ThreadPoolExecutor(1), None

    def submit(self, fn, *args) -> None:
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # a write's error surfaces here, in the caller's thread

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        try:
            if exc_type is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)


def take_rows(table: pa.Table, indices: np.ndarray) -> pa.Table:
    """table.take(indices), the same values and types, faster for strings of few levels: Arrow's
    take copies a string per row (~0.3 s per 800k-row column); a column with at most a quarter as
    many levels as rows is dictionary-encoded (one hash pass) and its levels taken by index instead
    (when at least a quarter of the rows are taken: else the hash pass costs more than it saves)."""
    idx = pa.array(indices)
    cols = []
    for col in table.columns:
        stringy = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
        if stringy and len(col) >= 4096 and 4 * len(indices) >= len(col):
            d = pc.dictionary_encode(col.combine_chunks())
            if len(d.dictionary) * 4 <= len(d):
                cols.append(pc.take(d.dictionary, d.indices.take(idx)))
                continue
        cols.append(col.take(idx))
    return pa.Table.from_arrays(cols, schema=table.schema)


class BottomK:
    """The k rows with the smallest hashes seen so far: a uniform seeded sample of fixed size,
    independent of how the input was cut into batches.

    `expected` (rows to be offered, when the input's size is known in advance) starts the threshold at
    the hash quantile that ~k + 10 sd rows fall below, so the pass keeps ~k rows instead of up to 2k
    and prunes once; with probability ~1e-23 fewer than k fall below it, and then `complete` is
    False and the caller offers the rows again to a plain BottomK (the result is exact either way).
    Preset from 1.5 k expected rows (a 5M-row table's 1M-row sample: prepare 9.6 -> 6.1-6.9 s)."""

    def __init__(self, k: int, expected: float | None = None):
        self.k, self.tables, self.hashes, self.rows, self.offered = int(k), [], [], 0, 0
        self.threshold = np.uint64(2**64 - 1)
        if expected is not None and expected > 1.5 * self.k > 0:
            share = (self.k + 10 * self.k**0.5) / (expected - 10 * expected**0.5)
            if share < 1:
                self.threshold = np.uint64(int(share * 2**64))

    @property
    def complete(self) -> bool:
        """False when a preset threshold turned away rows the k smallest need."""
        kept = sum(len(h) for h in self.hashes)
        return kept >= min(self.k, self.offered)

    def offer(self, table: pa.Table, hashes: np.ndarray) -> None:
        if self.k < 1:
            return
        self.offered += len(hashes)
        keep = np.flatnonzero(hashes <= self.threshold)
        if not len(keep):
            return
        self.tables.append(decoded(table if len(keep) == table.num_rows else take_rows(table, keep)))
        self.hashes.append(hashes[keep])
        self.rows += len(keep)
        if self.rows > 2 * self.k:
            self._prune()

    def _prune(self):
        h = np.concatenate(self.hashes)
        t = pa.concat_tables(self.tables)
        if len(h) > self.k:
            top = np.argpartition(h, self.k - 1)[: self.k]
            h, t = h[top], take_rows(t, top)
            self.threshold = h.max()
        self.tables, self.hashes, self.rows = [t], [h], len(h)

    def result(self, schema: pa.Schema) -> pa.Table:
        self._prune() if self.tables else None
        if not self.tables:
            return schema.empty_table()
        order = np.argsort(self.hashes[0], kind="stable")
        return take_rows(self.tables[0], order)


class ColumnStats:
    """Full-pass figures of one column: nulls, exact level counts (capped), boundary rows."""

    def __init__(self, name: str, typ: pa.DataType):
        self.name, self.nulls, self.null_row = name, 0, None
        vt = typ.value_type if pa.types.is_dictionary(typ) else typ
        self.countable = (
            pa.types.is_string(vt)
            or pa.types.is_large_string(vt)
            or pa.types.is_boolean(vt)
            or pa.types.is_integer(vt)
            or pa.types.is_string_view(vt)
        )
        self.ordered = (
            pa.types.is_integer(vt)
            or pa.types.is_floating(vt)
            or pa.types.is_decimal(vt)
            or pa.types.is_timestamp(vt)
            or pa.types.is_date(vt)
        )
        self._counts = None  # pa.Table(values, counts) while <= COUNT_CAP levels
        self._pending, self._pending_rows = [], 0  # batches' value counts not merged yet
        self.min = self.max = self.min_row = self.max_row = None

    def update(self, table: pa.Table) -> None:
        from synthgen.schema import plain_values

        col = table.column(self.name)
        col = col if pa.types.is_dictionary(col.type) else plain_values(col)
        nulls, span = col.null_count, None
        if nulls and self.null_row is None:
            self.null_row = decoded(table.slice(pc.index(pc.is_null(col), True).as_py(), 1))
        self.nulls += nulls
        if self.ordered and nulls < len(col):
            mm = pc.min_max(col)
            lo, hi = mm["min"], mm["max"]
            if self.min is None or pc.less(lo, self.min).as_py():
                self.min, self.min_row = lo, decoded(table.slice(pc.index(col, lo).as_py(), 1))
            if self.max is None or pc.greater(hi, self.max).as_py():
                self.max, self.max_row = hi, decoded(table.slice(pc.index(col, hi).as_py(), 1))
            if pa.types.is_integer(col.type) and -(2**62) < lo.as_py() and hi.as_py() < 2**62:  # int64-safe
                span = (lo.as_py(), hi.as_py() - lo.as_py())
        if self.countable is True:
            # counted by a bincount where the levels are small integers (a dictionary's indices, an
            # integer column of a narrow range): 2-3 ns a row; a hash table of the values 12-15 ns
            if pa.types.is_dictionary(col.type):
                vc = _dictionary_counts(col)
            elif span is not None and span[1] < BINCOUNT_SPAN:
                vc = _integer_counts(col, *span)
            else:
                vc = _value_counts(col)
            self._pending.append(vc)
            self._pending_rows += vc.num_rows
            if self._pending_rows > COUNT_CAP:  # merge in rounds, not per batch (one group_by per round)
                self._merge()

    def _merge(self) -> None:
        """Fold the pending counts into `_counts` (in no particular order: _apply_full_counts orders
        levels by count, then value, so the result does not depend on when merges run)."""
        tables = ([self._counts] if self._counts is not None else []) + self._pending
        self._pending, self._pending_rows = [], 0
        if not tables or self.countable is not True:
            return
        both = pa.concat_tables(tables)
        counts = (
            both.group_by("values", use_threads=False)
            .aggregate([("counts", "sum")])
            .rename_columns(["values", "counts"])
            if len(tables) > 1
            else both
        )
        self._counts = counts
        if counts.num_rows > COUNT_CAP:
            self._counts, self.countable = None, "over"

    @property
    def counts(self):
        """pa.Table(values, counts) of every level, or None (not countable, or over COUNT_CAP levels)."""
        if self._pending:
            self._merge()
        return self._counts

    def boundary_rows(self) -> list[pa.Table]:
        return [t for t in (self.null_row, self.min_row, self.max_row) if t is not None]


def _value_counts(col) -> pa.Table:
    vc = pc.value_counts(col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col)
    return pa.table({"values": vc.field("values"), "counts": vc.field("counts")})


def _integer_counts(col, lo: int, span: int) -> pa.Table:
    """(values, counts) of an integer column whose values lie in [lo, lo + span], the null count as
    a null value (as value_counts gives it)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    v = pc.subtract(arr.fill_null(lo) if arr.null_count else arr, pa.scalar(lo, arr.type)).to_numpy().astype(np.intp)
    per_value = np.bincount(v, minlength=span + 1)
    if arr.null_count:
        per_value[0] -= arr.null_count
    present = np.flatnonzero(per_value)
    values = pa.array(present + lo, type=arr.type)
    counts = per_value[present]
    if arr.null_count:
        values = pa.concat_arrays([values, pa.nulls(1, arr.type)])
        counts = np.append(counts, arr.null_count)
    return pa.table({"values": values, "counts": counts})


def _dictionary_counts(col) -> pa.Table:
    """(values, counts) of a dictionary column by a bincount over its indices, the null count as a
    null value."""
    values, counts = [], []
    for chunk in col.chunks if isinstance(col, pa.ChunkedArray) else [col]:
        n_levels = len(chunk.dictionary)
        idx = chunk.indices.fill_null(n_levels) if chunk.null_count else chunk.indices  # nulls: one slot past
        per_level = np.bincount(idx.to_numpy(), minlength=n_levels + 1)
        present = np.flatnonzero(per_level)
        values.append(
            pc.take(pa.concat_arrays([chunk.dictionary, pa.nulls(1, chunk.dictionary.type)]), pa.array(present))
        )
        counts.append(per_level[present])
    t = pa.table({"values": pa.chunked_array(values), "counts": np.concatenate(counts)})
    if len(values) > 1:  # chunks with their own dictionaries may share levels
        t = t.group_by("values", use_threads=False).aggregate([("counts", "sum")]).rename_columns(["values", "counts"])
    return t


def _normalise(batch) -> pa.Table:
    from synthgen.io import normalise_table

    t = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
    return normalise_table(t)


def stream_prepare(cfg, prepared: Path) -> dict:
    """The one pass over the source; writes into `prepared` (a staging folder) and returns the
    figures recorded in stream.json. `prepared` gets train.parquet/ and holdout.parquet/ (parts),
    sample.parquet, holdout_sample.parquet, schema.json and stream.json."""
    from omegaconf import OmegaConf

    from synthgen.io import validate_table
    from synthgen.schema import infer_schema

    s, seed = cfg.stream, int(cfg.seed)
    batch_rows, shard_rows, sample_rows = int(s.batch_rows), int(s.shard_rows), int(s.sample_rows)
    for key, v in (("batch_rows", batch_rows), ("shard_rows", shard_rows), ("sample_rows", sample_rows)):
        if v < 2:
            raise SynthgenError(f"stream.{key}={v} must be at least 2")
    share = float(cfg.data.holdout_share)
    if not cfg.data.holdout_path and not 0 < share < 1:
        raise SynthgenError(f"data.holdout_share={share} must be between 0 and 1")
    source = stream_source(cfg)
    max_rows = cfg.data.max_rows
    train_w = PartWriter(prepared / "train.parquet", shard_rows)
    hold_w = PartWriter(prepared / "holdout.parquet", shard_rows)
    total = source.known_rows()
    if total is not None and max_rows is not None:
        total = min(total, int(max_rows))
    train_share = 1.0 if cfg.data.holdout_path else 1 - share
    sample = BottomK(sample_rows, None if total is None else total * train_share)
    hold_sample = BottomK(min(sample_rows, int(cfg.evaluate.max_rows)))
    stats, schema, n_in = None, None, 0
    n_train_seen = n_held_seen = 0
    with InOrderWriter() as writes:
        for batch in source.batches(batch_rows, dictionaries=True):
            table = _normalise(batch)
            if max_rows is not None and n_in + table.num_rows > max_rows:
                table = table.slice(0, max(int(max_rows) - n_in, 0))
            if schema is None:
                schema, plain = table.schema, plain_schema(table.schema)
                validate_table(decoded(table.slice(0, 0)), source.name, training=False)  # names and types, once
                stats = [ColumnStats(f.name, f.type) for f in schema]
            elif table.schema != schema:
                table = _conform(table, schema, source.name)
            n = table.num_rows
            if cfg.data.holdout_path:
                hold = np.zeros(n, dtype=bool)
            else:
                hold = unit_floats(row_hashes(seed, HOLDOUT_STREAM, n_in, n)) < share
            train = table.filter(pa.array(~hold)) if hold.any() else table
            held = table.filter(pa.array(hold)) if hold.any() else None
            first_train, first_held = n_train_seen, n_held_seen
            n_train_seen += train.num_rows
            n_held_seen += held.num_rows if held is not None else 0
            writes.submit(_write_split, train_w, train, hold_w, held)
            if held is not None:
                hold_sample.offer(held, row_hashes(seed, HOLDOUT_SAMPLE_STREAM, first_held, held.num_rows))
            sample.offer(train, row_hashes(seed, SAMPLE_STREAM, first_train, train.num_rows))
            for st in stats:
                st.update(train)
            n_in += n
            if max_rows is not None and n_in >= max_rows:
                break
    if schema is None:
        raise SynthgenError(f"{source.name}: no rows; at least 2 are needed to learn from")
    if cfg.data.holdout_path:
        hsrc = stream_source(cfg, "data.holdout_path", cfg.data.holdout_path)
        for batch in hsrc.batches(batch_rows):
            held = _conform(_normalise(batch), plain, hsrc.name)
            hold_sample.offer(held, row_hashes(seed, HOLDOUT_SAMPLE_STREAM, hold_w.rows, held.num_rows))
            hold_w.write(held)
    n_train = train_w.rows
    if n_train < 2:
        raise SynthgenError(f"{source.name}: {n_train} training row(s); at least 2 are needed to learn from")
    if hold_w.rows < 1:
        raise SynthgenError(f"{source.name}: no holdout rows; raise data.holdout_share or set data.holdout_path")
    # an all-null column is inferred as kind empty (a warning) and carried through as nulls
    train_parts, hold_parts = train_w.close(plain), hold_w.close(plain)
    if not sample.complete:  # the preset threshold was too low (see BottomK): offer the parts again
        sample = BottomK(sample_rows)
        for first, t in _read_parts(prepared / "train.parquet", train_parts, batch_rows):
            sample.offer(t, row_hashes(seed, SAMPLE_STREAM, first, t.num_rows))
    boundary = [t for st in stats for t in st.boundary_rows()]
    sample_t = sample.result(plain)
    sample_t = pa.concat_tables([sample_t, *[b.cast(plain) for b in boundary]]) if boundary else sample_t
    columns = OmegaConf.to_container(cfg.data.columns, resolve=True) if cfg.data.columns else {}
    schema_obj = infer_schema(sample_t, columns, source=f"{source.name} (sample of the training split)")
    _apply_full_counts(schema_obj, stats, n_train)
    for col in ([cfg.data.target] if cfg.data.target is not None else []) + list(cfg.data.sensitive or []):
        schema_obj.column(col)  # one-line error for an unknown column
    pq.write_table(sample_t, prepared / SAMPLE_FILE, compression="zstd")
    pq.write_table(hold_sample.result(plain), prepared / HOLDOUT_SAMPLE_FILE, compression="zstd")
    schema_obj.save(prepared / "schema.json")
    info = {
        "version": 1,
        "source": source.name,
        "input_rows": n_in,
        "train_rows": n_train,
        "holdout_rows": hold_w.rows,
        "shard_rows": shard_rows,
        "sample_rows": sample_t.num_rows,
        "train_parts": train_parts,
        "holdout_parts": hold_parts,
        "exact_counts": [st.name for st in stats if st.counts is not None],
    }
    (prepared / STREAM_FILE).write_text(json.dumps(info, indent=1) + "\n")
    return info


def _read_parts(folder: Path, parts: list[dict], batch_rows: int):
    """(first row, table) for the record batches of the written parts, in order."""
    for part in parts:
        first = part["first_row"]
        with pq.ParquetFile(folder / part["path"]) as pf:
            for batch in pf.iter_batches(batch_size=batch_rows):
                yield first, pa.Table.from_batches([batch])
                first += batch.num_rows


def _conform(table: pa.Table, schema: pa.Schema, source: str) -> pa.Table:
    from synthgen.io import conform_columns

    return conform_columns(
        table,
        schema,
        f"{source}: some rows lack column(s) {{missing}}; every file needs the same columns",
        f"{source}: column types differ between files or batches ({{error}}); give every file the same types",
    )


def _merged_counts(values: pa.ChunkedArray, counts: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Counts summed over equal values (nulls dropped), in the order of each value's first entry."""
    t = pa.table({"values": values, "counts": counts}).filter(pc.is_valid(values))
    t = t.group_by("values", use_threads=False).aggregate([("counts", "sum")])
    return t.column("values").combine_chunks(), t.column("counts_sum").to_numpy()


def _apply_full_counts(schema, stats: list[ColumnStats], n_rows: int) -> None:
    """Row count, null shares and (where counted) exact category frequencies from the full pass."""
    from synthgen.codecs import parse

    by_name = {st.name: st for st in stats}
    schema.n_rows = int(n_rows)
    for col in schema.columns:
        st = by_name[col.name]
        col.null_share = float(st.nulls / max(n_rows, 1))
        if st.counts is None:
            continue
        valid = st.counts.filter(pc.is_valid(st.counts.column("values")))
        values, freq = valid.column("values"), valid.column("counts").to_numpy()
        if col.codec:  # counted as the source's strings; the schema holds parsed values (True for "yes")
            values, freq = _merged_counts(parse(col.codec, values), freq)
        col.n_unique = len(values)
        if col.kind in ("categorical", "boolean") and col.categories is not None:
            rank = pc.rank(values, sort_keys="ascending", tiebreaker="first").to_numpy()
            order = np.lexsort((rank, -freq))[:MAX_STORED_CATEGORIES]  # by count, ties by value
            values = values.to_pylist()
            col.categories = [values[i] for i in order]
            col.frequencies = [int(freq[i]) for i in order]


# ---- a seeded sample of a large Parquet set, read without materialising it -------------------------
HASH_CHUNK = 1 << 20  # positions hashed at once when choosing a sample (8 MB of uint64 per array)
READ_BATCH = 65_536  # rows decoded at once when reading the sample


def sample_positions(seed: int, n_total: int, k: int, stream: int = EVAL_SYNTHETIC_STREAM) -> np.ndarray:
    """int64 [min(k, n_total)]: the k row positions in 0..n_total-1 with the smallest seeded hashes,
    in hash order (a uniform sample without replacement, in random order). Depends on
    (seed, n_total, k) only; memory O(k + HASH_CHUNK)."""
    k = min(int(k), int(n_total))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    pos, hs = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    thr = np.uint64(2**64 - 1)
    for first in range(0, n_total, HASH_CHUNK):
        n = min(HASH_CHUNK, n_total - first)
        h = row_hashes(seed, stream, first, n)
        keep = np.flatnonzero(h <= thr)
        pos, hs = np.concatenate([pos, keep + first]), np.concatenate([hs, h[keep]])
        if len(hs) > k:  # keep the k smallest; later chunks only add hashes below the k-th
            top = np.argpartition(hs, k - 1)[:k]
            pos, hs = pos[top], hs[top]
            thr = hs.max()
    order = np.lexsort((pos, hs))
    return pos[order]


def read_parquet_sample(files: list, k: int, seed: int) -> pa.Table:
    """A seeded sample of k rows of the Parquet files read as one table (in list order): the rows at
    `sample_positions(seed, total rows, k)`, in that order. Row counts come from the files'
    footers; only row groups holding a sampled row are decoded, READ_BATCH rows at a time, so memory
    is the sample plus one batch, whatever the set's size. The sample depends on the concatenated
    rows and the seed only, not on how they are cut into files or row groups."""
    metas = [pq.read_metadata(f) for f in files]  # footers only; a file is opened when it is read
    sizes = [m.num_rows for m in metas]
    want = sample_positions(seed, sum(sizes), k)
    srt = np.sort(want)
    pieces, offset = [], 0
    for f, meta, size in zip(files, metas, sizes):
        lo, hi = np.searchsorted(srt, [offset, offset + size])
        mine = srt[lo:hi] - offset  # local positions in this file, ascending
        offset += size
        if not len(mine):
            continue
        starts = np.cumsum([0] + [meta.row_group(g).num_rows for g in range(meta.num_row_groups)])
        groups = np.unique(np.searchsorted(starts, mine, side="right") - 1)
        with pq.ParquetFile(f) as pf:
            for g in groups.tolist():
                at = int(starts[g])
                for batch in pf.iter_batches(batch_size=READ_BATCH, row_groups=[g], use_threads=False):
                    a, b = np.searchsorted(mine, [at, at + batch.num_rows])
                    if b > a:
                        pieces.append(pa.Table.from_batches([batch]).take(pa.array(mine[a:b] - at)))
                    at += batch.num_rows
    schema = metas[0].schema.to_arrow_schema() if metas else pa.schema([])
    table = pa.concat_tables(pieces) if pieces else schema.empty_table()
    # `table` holds the rows in position order; give them the sample's (hash) order
    return decoded(table.take(pa.array(np.searchsorted(srt, want))))


def read_stream_info(prepared: Path) -> dict | None:
    p = Path(prepared) / STREAM_FILE
    return json.loads(p.read_text()) if p.exists() else None
