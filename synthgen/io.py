"""Reading user tables with clear errors, and atomic writes (temporary name, then rename)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from synthgen import compressed, excel, sqlite_files, stats_files
from synthgen.errors import SynthgenError

# .data, .dat: UCI's and older tools' text tables; .tab: tab-separated (Dataverse's downloads)
TEXT_SUFFIXES = (".csv", ".tsv", ".tab", ".txt", ".data", ".dat")
ARROW_SUFFIXES = (".feather", ".arrow", ".ipc")  # Arrow IPC files (Feather v2; pandas' and R's to_feather)
FILE_TYPES = (
    ".parquet, .feather, .orc, .csv (also .csv.gz, .zip, ...), .xlsx, .xls, .ods, .jsonl, .dta, .sav or .sas7bdat"
)


def _supported(t: pa.DataType) -> bool:
    """Types the schema and encoder model: numbers, strings, booleans, timestamps, dates and times of day."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_date(t)
        or pa.types.is_time(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_null(t)
    )  # an all-null column (carried through as nulls)


def read_table(
    path: str | Path,
    max_rows: int | None = None,
    key: str = "data.path",
    training: bool = True,
    sheet: str | int | None = None,
) -> pa.Table:
    """Read a Parquet, CSV, Excel, JSON, Stata, SPSS or SAS file (synthgen/stats_files.py), or a CSV or
    JSON file compressed (synthgen/compressed.py), into Arrow and validate it for training
    (`training=False`: for other tables, e.g. condition rows, which may have one row or an all-null
    column). `sheet`: an Excel workbook's sheet (synthgen/excel.py), its first by default, or a SQLite
    file's table (synthgen/sqlite_files.py), its only one by default.

    Float NaN is read as null (pandas writes missing numbers either way), and string views as
    large strings; every other type is kept as it is in the file. `key` is the setting named when
    the file is missing.
    """
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", str(path)):  # https://, s3://, gs://: nothing is downloaded
        raise SynthgenError(f"{key}={path} is a URL; synthgen reads local files only: download it and set {key}")
    path = Path(path)
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 2):
        raise SynthgenError(f"data.max_rows={max_rows!r} must be a whole number of at least 2 (or null for all rows)")
    if not path.exists():
        raise SynthgenError(f"input file not found: {path}; set {key} to an existing {FILE_TYPES} file")
    suffix = compressed.table_suffix(path)  # a compressed file's table: data.csv.gz is a CSV file
    encoding = None
    try:
        compressed.check_table_type(path, suffix, (*TEXT_SUFFIXES, *JSON_SUFFIXES))
        if suffix in (".parquet", ".pq"):
            _check_names(pq.read_schema(path).names, str(path))  # the reader fails obscurely on duplicates
            table = flat_structs(pq.read_table(path))
            _check_names(table.column_names, str(path))
        elif suffix in ARROW_SUFFIXES or suffix == ".orc":
            table = flat_structs(read_arrow_file(path, suffix))
            _check_names(table.column_names, str(path))
        elif suffix in TEXT_SUFFIXES:
            dialect = sniff_csv(path, "\t" if suffix in (".tsv", ".tab") else ",")
            encoding = dialect.encoding
            ropts, popts = dialect.options()
            source = dialect.source(path)  # the file, or its lines with runs of spaces made one
            convert = csv_convert_options()
            table = pacsv.read_csv(source(), read_options=ropts, parse_options=popts, convert_options=convert)
            _check_names(table.column_names, str(path))
            for name, text in columns_kept_as_text(source, table, ropts, popts).items():
                i = table.schema.get_field_index(name)
                table = table.set_column(i, pa.field(name, text.type), text)
        elif suffix in excel.SUFFIXES:
            table = excel.read_sheet(path, sheet)
            _check_names(table.column_names, str(path))
        elif suffix in JSON_SUFFIXES:
            table = read_json_records(path)
            _check_names(table.column_names, str(path))
        elif suffix in stats_files.SUFFIXES:
            table = stats_files.read_stats_file(path, max_rows)
        elif suffix in sqlite_files.SUFFIXES:
            table = sqlite_files.read_sqlite_table(path, sheet, max_rows)
            _check_names(table.column_names, str(path))
        else:
            hint = UNSUPPORTED_HINTS.get(suffix, "")
            raise SynthgenError(f"{path}: unsupported file type '{suffix}'; use a {FILE_TYPES} file{hint}")
    except SynthgenError:
        raise
    except (pa.ArrowException, OSError, UnicodeError, *compressed.ERRORS) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if isinstance(e, UnicodeError) or "utf8" in first.lower().replace("-", ""):
            raise SynthgenError(
                f"{path}: text is not valid {encoding or 'UTF-8'} throughout ({first}); save the file as UTF-8"
            ) from None
        raise SynthgenError(
            f"{path}: cannot read it ({first}); check that the file is a complete, "
            f"rectangular {suffix.lstrip('.')} file"
        ) from None
    if training and suffix in (*TEXT_SUFFIXES, *excel.SUFFIXES, *JSON_SUFFIXES):  # an export's blank rows (`,,,,`)
        table = _without_empty_rows(table, str(path))  # (another tool's synthetic rows are scored as they are)
    if max_rows is not None and len(table) > max_rows:
        table = table.slice(0, max_rows)
    validate_table(table, str(path), training)
    return normalise_table(table)


def read_arrow_file(path: Path, suffix: str) -> pa.Table:
    """An ORC file, or an Arrow IPC file (Feather v1 or v2, or an IPC stream saved as .arrow)."""
    if suffix == ".orc":
        import pyarrow.orc as orc

        return orc.read_table(path)
    import pyarrow.feather as feather

    try:
        return feather.read_table(path)
    except pa.ArrowInvalid:  # not the file format: the stream format, which some tools save as .arrow
        with pa.ipc.open_stream(path) as reader:
            return reader.read_all()


# where a table in a format synthgen does not read usually comes from, the way out of it
_FROM_R = " (from R: arrow::write_feather(df, 'table.feather') or write.csv)"
_FROM_PANDAS = " (from pandas: df.to_parquet('table.parquet'))"
UNSUPPORTED_HINTS = {
    ".rds": _FROM_R,
    ".rdata": _FROM_R,
    ".rda": _FROM_R,
    ".h5": _FROM_PANDAS,
    ".hdf5": _FROM_PANDAS,
    ".hdf": _FROM_PANDAS,
    ".pkl": f"; a pickle can run code when it is loaded, so synthgen never loads one{_FROM_PANDAS}",
    ".pickle": f"; a pickle can run code when it is loaded, so synthgen never loads one{_FROM_PANDAS}",
    ".mdb": " (from Access: export the table as CSV)",
    ".accdb": " (from Access: export the table as CSV)",
}


def _without_empty_rows(table: pa.Table, source: str) -> pa.Table:
    """`table` without the rows every field of which is empty, saying how many (a report export's
    blank line of delimiters above its totals row: the totals row is then the last, as it is written)."""
    if not table.num_columns or not len(table):
        return table
    empty = np.logical_and.reduce(
        [table.column(i).is_null().to_numpy(zero_copy_only=False) for i in range(table.num_columns)]
    )
    if not empty.any() or empty.all():
        return table
    import warnings

    warnings.warn(f"{source}: {int(empty.sum())} row(s) with every field empty are left out", UserWarning, stacklevel=3)
    return table.filter(pa.array(~empty))


JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")


def read_json_records(path: Path) -> pa.Table:
    """JSON Lines (one object per line: an API's or a document store's export), or a .json file
    holding one array of such objects. Nested objects become columns named by their path
    ("address.city"); values are typed as pyarrow's JSON reader types them (ISO timestamps included)."""
    import pyarrow.json as pajson

    head = compressed.read_head(path, 4096).lstrip()
    if head.startswith(b"["):  # one array of records: pandas reads it, Arrow types the columns
        import pandas as pd

        try:
            text = io.BytesIO(compressed.read_all(path))
            frame = pd.read_json(text, orient="records", convert_dates=False, dtype=False)
        except ValueError as e:
            raise SynthgenError(f"{path}: cannot read it as a JSON array of records ({e})") from None
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        with compressed.open_binary(path) as f:
            table = pajson.read_json(f)
    return flat_structs(table)


def flat_structs(table):
    """A table (or record batch) with each struct column replaced by its fields, named by their path:
    {"address": {"city": ...}} -> address.city (JSON's nested objects, Spark's and BigQuery's Parquet
    structs). The columns are written back flat."""
    if not any(pa.types.is_struct(f.type) for f in table.schema):
        return table
    batch = isinstance(table, pa.RecordBatch)
    out = pa.Table.from_batches([table]) if batch else table
    while any(pa.types.is_struct(f.type) for f in out.schema):
        out = out.flatten()
    if not batch:
        return out
    return pa.RecordBatch.from_arrays([c.combine_chunks() for c in out.columns], names=out.column_names)


_SNIFF_BYTES = 1 << 20  # encoding and delimiter are judged on the first MiB

# What a CSV writes for a missing value: pandas' read_csv defaults (what a user's notebook reads as
# NaN), less "None", which many tables use as a level (no garage, no alley), plus UCI Adult's "?".
# Words such as "-" or "unknown" stay text here; a column typed but for them gets them as its
# codec's null_text (codecs.MISSING_WORDS).
CSV_NULLS = ["", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "NULL", "null", "<NA>", "?"]
_LEADING_ZERO = r"^[+-]?0[0-9]"  # "02134", "007"; not "0", "0.5"


def csv_convert_options(text_columns=(), only=None) -> pacsv.ConvertOptions:
    """How synthgen's CSV readers (read_table, the streamed prepare) convert text: CSV_NULLS are
    nulls, and `text_columns` stay strings; `only`: convert just these columns."""
    return pacsv.ConvertOptions(
        null_values=CSV_NULLS,
        strings_can_be_null=True,
        column_types={c: pa.string() for c in text_columns},
        include_columns=list(only or []),
    )


def columns_kept_as_text(source, table: pa.Table, ropts, popts) -> dict[str, pa.ChunkedArray]:
    """Columns of `table`, read from the CSV `source()` opens, whose typed read lost their spelling:
    integer columns with a value written with a leading zero ("02134", "007": zip codes and codes,
    02134 -> 2134), and times of day ("16:37" read as time32, written back "16:37:00"; as text they
    get a time codec that keeps the spelling). {name: the column as the file's strings}; a second
    read of those columns only."""
    ints = [f.name for f in table.schema if pa.types.is_integer(f.type)]
    times = [f.name for f in table.schema if pa.types.is_time(f.type)]
    if not ints and not times:
        return {}
    raw = pacsv.read_csv(
        source(),
        read_options=ropts,
        parse_options=popts,
        convert_options=csv_convert_options(ints + times, ints + times),
    )
    padded = [c for c in ints if pc.any(pc.match_substring_regex(raw.column(c), _LEADING_ZERO)).as_py()]
    return {c: raw.column(c) for c in padded + times}


def csv_text_columns(path, dialect: CsvDialect) -> list[str]:
    """columns_kept_as_text judged on the first MiB of a CSV file (the streamed prepare, which types
    a large file from its first block)."""
    head = compressed.read_head(path, _SNIFF_BYTES)
    if len(head) == _SNIFF_BYTES:
        head = head[: head.rfind(b"\n") + 1]  # whole lines only
    ropts, popts = dialect.options()
    try:
        typed = pacsv.read_csv(
            io.BytesIO(head), read_options=ropts, parse_options=popts, convert_options=csv_convert_options()
        )
        return list(columns_kept_as_text(lambda: io.BytesIO(head), typed, ropts, popts))
    except (pa.ArrowException, OSError, KeyError):  # KeyError: a duplicated column name
        return []  # the streamed read itself says what is wrong with the file


@dataclass(frozen=True)
class CsvDialect:
    """How a CSV file is written: its encoding, delimiter and quote character, the column names
    where its first line is data, whether its fields are separated by runs of spaces (aligned
    columns, as R's write.table and older statistics files write them), and the title lines above
    its header (a report export's)."""

    encoding: str
    delimiter: str
    quote: str = '"'
    names: tuple[str, ...] | None = None  # None: the first line names the columns
    spaced: bool = False
    skip: int = 0  # lines above the header (a report's title and date, blank lines)
    footer: tuple[str, ...] = ()  # note lines below the records ("Source: ONS"), left out (footer_lines)

    def options(self) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions]:
        names = list(self.names) if self.names else None
        ropts = pacsv.ReadOptions(encoding=self.encoding, column_names=names, skip_rows=self.skip)
        popts = pacsv.ParseOptions(delimiter=self.delimiter, quote_char=self.quote)
        if self.footer:  # those rows alone are skipped; any other short row is still an error
            notes = set(self.footer)
            popts.invalid_row_handler = lambda row: "skip" if row.text.strip() in notes else "error"
        return ropts, popts

    def source(self, path: Path):
        """A callable that opens the file for reading (pyarrow reads it again for kept text)."""
        if not self.spaced and not compressed.compression(path):
            return lambda: path
        data = compressed.read_all(path)  # decompressed once for both reads (the table, its kept text)
        if not self.spaced:
            return lambda: pa.BufferReader(data)
        text = data.decode(self.encoding)
        one = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip()).encode(self.encoding)
        return lambda: io.BytesIO(one)


def sniff_csv(path: Path, default_delimiter: str = ",") -> CsvDialect:
    """The CsvDialect of a CSV file: a byte-order mark first, then UTF-8, then charset-normalizer's
    guess; the delimiter and quote character from the standard library's csv.Sniffer over whole
    lines (",", ";", tab, "|"), else runs of spaces where every line has the same number of fields
    (_space_separated), else `default_delimiter`; a report's title lines above the header are
    skipped (title_lines). A first line
    of numbers, or one that repeats a number, is data, not names (the columns are then column_1,
    column_2, ...)."""
    import codecs
    import csv

    from charset_normalizer import from_bytes

    head = compressed.read_head(path, _SNIFF_BYTES)
    boms = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
    encoding = next((enc for bom, enc in boms if head.startswith(bom)), None)
    if encoding is None:
        try:
            head.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError as e:
            if e.start < len(head) - 4:  # not merely a character cut at the sample's end
                encoding = _guess_encoding(from_bytes(head), head)
                if encoding is None:
                    raise SynthgenError(
                        f"{path}: not UTF-8 (invalid byte at {e.start}) and its encoding cannot be "
                        f"detected; save the file as UTF-8"
                    ) from None
            else:
                encoding = "utf-8"
    try:
        text = head.decode(encoding, errors="ignore" if len(head) == _SNIFF_BYTES else "strict")
    except (UnicodeDecodeError, LookupError) as e:
        raise SynthgenError(
            f"{path}: cannot read it as {encoding} ({type(e).__name__}); save the file as UTF-8"
        ) from None
    raw = text.splitlines()[:200]
    if len(head) == _SNIFF_BYTES and len(raw) > 1:
        raw = raw[:-1]  # the last line may be cut
    lines = [line for line in raw if line.strip()]
    spaced = False
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
        delimiter, quote = found.delimiter, found.quotechar if found.quotechar in ("'", '"') else '"'
    except csv.Error:
        delimiter, quote = default_delimiter, '"'
        spaced = _space_separated(lines)
    if spaced:
        delimiter = " "
        quote = "'" if lines and all(f[:1] == f[-1:] == "'" for f in lines[0].split()) else '"'
    try:
        skip = 0 if spaced else title_lines(list(csv.reader(raw, delimiter=delimiter, quotechar=quote)))
        first = next(csv.reader((lines if spaced else raw)[skip : skip + 1], delimiter=delimiter, quotechar=quote), [])
    except csv.Error:  # a field over the csv module's size limit: the file read as written, from its first line
        skip, first = 0, []
    names = tuple(f"column_{i + 1}" for i in range(len(first))) if _numbers_not_names(first) else None
    header = [f for f in first if f] if spaced else first  # runs of spaces are one separator there
    if names is None and len(set(header)) < len(header):  # a header naming a column twice: named as pandas does
        names, skip = tuple(unique_names(header, str(path))), skip + 1
    footer = () if spaced else footer_lines(path, encoding, delimiter, quote, len(header))
    return CsvDialect(encoding, delimiter, quote, names, spaced, skip, footer)


FOOTER_MAX_LINES = 10  # note lines below a table's records at most (a source, footnotes, a copyright)
_TAIL_BYTES = 1 << 16


def footer_lines(path: Path, encoding: str, delimiter: str, quote: str, n_fields: int) -> tuple[str, ...]:
    """The lines below the records that hold fewer fields than the header: a statistics office's
    "Source: ...", "Note: ...", "* provisional" under its table (pandas reads them as records of
    nulls; Arrow's reader stopped on them). The last non-empty lines of the file, at most
    FOOTER_MAX_LINES, each of fewer than `n_fields` fields, with a warning naming them; none when
    the file ends on a record (a file over 256 MB compressed is not searched)."""
    import csv

    if n_fields < 2 or (compressed.compression(path) and compressed.size_hint(path) > 256 << 20):
        return ()
    tail = compressed.read_tail(path, _TAIL_BYTES)
    lines = [line for line in tail.decode(encoding, errors="ignore").splitlines() if line.strip()]
    notes = []
    for line in reversed(lines[1:] if len(tail) == _TAIL_BYTES else lines):  # the first may be cut
        fields = next(csv.reader([line], delimiter=delimiter, quotechar=quote), [])
        if len(fields) >= n_fields:
            break
        if line.count(quote) % 2:  # the end of a quoted field over several lines: a record, not a note
            return ()
        notes.append(line.strip())
        if len(notes) > FOOTER_MAX_LINES:
            return ()
    if notes:
        import warnings

        shown = "; ".join(repr(n[:60]) for n in reversed(notes[-3:]))
        warnings.warn(f"{path}: {len(notes)} note line(s) below the records are left out: {shown}", UserWarning, 3)
    return tuple(reversed(notes))


def unique_names(names: list[str], source: str) -> list[str]:
    """Column names made distinct as pandas' readers make them, with a warning: a second `a` is
    `a.1`, a third `a.2` (a number the header already uses is skipped). COMPAS' two-year file names
    decile_score and priors_count twice."""
    taken, out, used, tries = set(names), [], set(), {}
    for name in names:
        new = name
        while new in used:
            tries[name] = tries.get(name, 0) + 1
            new = f"{name}.{tries[name]}"
            if new in taken:
                new = name  # the header has that name already: try the next number
        out.append(new)
        used.add(new)
    renamed = [new for name, new in zip(names, out) if new != name]
    if renamed:
        import warnings

        shown = ", ".join(renamed[:5]) + (", ..." if len(renamed) > 5 else "")
        warnings.warn(f"{source}: columns named twice are read as {shown}, as pandas reads them", UserWarning, 3)
    return out


TITLE_MAX_LINES = 20  # lines above a header that a report's title, date and blank lines take at most


def title_lines(rows: list[list[str]]) -> int:
    """How many lines above the header a report export writes (its title, when it ran, blank lines):
    the leading lines, at most TITLE_MAX_LINES, that either fill fewer than half the fields the lines
    below them fill (their median over the next 50) or leave unnamed a column those lines hold
    (more than a quarter of them on a wide table): `Exported,2026-01-05,` above three columns. The
    first column may be unnamed (pandas writes its index so: `,a,b`)."""
    filled = [sum(1 for f in r if f.strip()) for r in rows]
    for i in range(min(TITLE_MAX_LINES, len(rows) - 1) + 1):
        below = rows[i + 1 : i + 51]
        if not below:
            return i
        typical = sorted(filled[i + 1 : i + 51])[len(below) // 2]
        width = max(len(r) for r in below)
        held = [j for j in range(width) if 2 * sum(1 for r in below if j < len(r) and r[j].strip()) >= len(below)]
        unnamed = sum(1 for j in held if j > 0 and (j >= len(rows[i]) or not rows[i][j].strip()))
        if filled[i] > 0 and 2 * filled[i] >= typical and unnamed <= len(held) // 4:
            return i
    return 0


def _numbers_not_names(first: list[str]) -> bool:
    """A first line of numbers is data, except 0, 1, 2, ... or 1, 2, 3, ... (pandas writes a frame's
    default column labels so); so is one that repeats a number (UCI's german.data: `A11 6 A34 ... 4
    A93 A101 4`; a header never names two columns alike)."""
    if not first:
        return False
    numbers = [f.strip() for f in first if _is_number(f)]
    if len(set(numbers)) < len(numbers):
        return True
    if len(numbers) < len(first):
        return False
    labels = [f.strip() for f in first]
    return labels not in ([str(i) for i in range(len(labels))], [str(i + 1) for i in range(len(labels))])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _space_separated(lines: list[str]) -> bool:
    """Every line (at least two) has the same number (>= 2) of space-separated fields, and that is
    three or more or at least half of those below the first line are numbers: a table, not one
    column of names."""
    fields = [line.split() for line in lines]
    if len(fields) < 2 or len({len(f) for f in fields}) != 1 or len(fields[0]) < 2:
        return False
    if len(fields[0]) >= 3:  # three words on every line: fields (a name or a phrase varies in length)
        return True
    below = [f for row in fields[1:] for f in row]
    return sum(_is_number(f) for f in below) >= len(below) / 2


def _guess_encoding(matches, head: bytes) -> str | None:
    """charset-normalizer's best guess; among equally good single-byte Western guesses, Windows-1252
    (latin-1's superset, what spreadsheets write), since cp1250 would turn 'Æ' into 'Ć'."""
    if not len(matches):
        return None
    least = min(m.chaos for m in matches)
    top = [m for m in matches if m.chaos == least]
    if any({"cp1252", "latin_1"} & set(m.could_be_from_charset) for m in top):
        try:
            head.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"
    return top[0].encoding


def table_from_pandas(df, source: str = "DataFrame") -> pa.Table:
    """A pandas DataFrame -> validated Arrow table (the index is dropped: reset_index() to keep it).

    Object columns that mix types (e.g. numbers and strings) cannot become one Arrow column;
    the error names the column and the types found in it.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise SynthgenError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    names = [str(c) for c in df.columns]
    _check_names(names, source)
    try:
        table = pa.Table.from_pandas(df.set_axis(names, axis=1), preserve_index=False)
    except (pa.ArrowException, ValueError, TypeError) as e:
        raise _pandas_column_error(df, names, source, e) from None
    validate_table(table, source)
    return normalise_table(table)


def _pandas_column_error(df, names: list[str], source: str, err: Exception) -> SynthgenError:
    """Find the column Arrow could not convert and say which types it mixes (error path only)."""
    for i, name in enumerate(names):
        col = df.iloc[:, i]
        try:
            pa.array(col, from_pandas=True)
        except (pa.ArrowException, ValueError, TypeError):
            sample = col.dropna().iloc[:100_000]
            types = sorted({type(v).__name__ for v in sample})
            return SynthgenError(
                f"{source}: column '{name}' mixes types ({', '.join(types)}); convert it to one "
                f"type, e.g. df['{name}'].astype(str) or pd.to_numeric(df['{name}'], errors='coerce')"
            )
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return SynthgenError(
        f"{source}: cannot convert the DataFrame to Arrow ({first}); convert its columns to "
        f"numbers, strings, booleans or datetimes"
    )


def validate_table(table: pa.Table, source: str, training: bool = True) -> None:
    """One-line SynthgenError naming `source` and the column for anything synthgen cannot learn from
    (`training=False`: only what it cannot read, for tables it does not learn from)."""
    names = table.column_names
    _check_names(names, source)
    if not names:
        raise SynthgenError(f"{source}: the table has no columns")
    if not training:
        bad = [n for n in names if not _supported(table.column(n).type)]
        if bad:
            raise SynthgenError(f"{source}: column '{bad[0]}' has unsupported type {table.column(bad[0]).type}")
        return
    if len(table) < 2:
        raise SynthgenError(f"{source}: the table has {len(table)} row(s); at least 2 are needed to learn from")
    for name in names:
        col = table.column(name)
        if not _supported(col.type):
            raise SynthgenError(
                f"{source}: column '{name}' has unsupported type {col.type}; "
                f"flatten or convert it (numbers, strings, booleans, timestamps) or drop it"
            )
        if pa.types.is_floating(col.type) and pc.any(pc.is_inf(col)).as_py():
            raise SynthgenError(
                f"{source}: column '{name}' holds infinite values; replace them with nulls or finite numbers"
            )


def _check_names(names: list[str], source: str) -> None:
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SynthgenError(f"{source}: duplicate column names {dup}; rename them so each is unique")


def normalise_table(table: pa.Table) -> pa.Table:
    """What the readers hand on: float NaN -> null (one meaning for "missing"), string views ->
    large strings (Arrow cannot yet take/filter string views, which splitting a table needs) and
    timestamp[s] -> timestamp[ms] (the CSV reader's unit for "2013-02-20 01:41:20", which Parquet
    stores as milliseconds)."""
    for i, name in enumerate(table.column_names):
        col, field = table.column(i), table.field(i)
        if pa.types.is_floating(col.type) and pc.any(pc.is_nan(col)).as_py():
            table = table.set_column(i, field, pc.if_else(pc.is_nan(col), pa.scalar(None, col.type), col))
        elif pa.types.is_string_view(col.type):
            table = table.set_column(i, field.with_type(pa.large_string()), col.cast(pa.large_string()))
        elif pa.types.is_timestamp(col.type) and col.type.unit == "s":
            ms = pa.timestamp("ms", tz=col.type.tz)  # Parquet holds no seconds unit: what every file of it reads back
            table = table.set_column(i, field.with_type(ms), col.cast(ms))
    return table


# field metadata of a string column a streamed prepare read as a dictionary; its value: the source type
_READ_AS_DICTIONARY = b"synthgen.read_as_dictionary"
_SOURCE_TYPES = {b"string": pa.string(), b"large_string": pa.large_string()}


def read_as_dictionary(field: pa.Field) -> pa.Field:
    """`field` (string or large_string) as the Parquet reader gives it with dictionary reading
    (dictionary<int32, string> either way), marked with its source type."""
    source = b"large_string" if pa.types.is_large_string(field.type) else b"string"
    return field.with_type(pa.dictionary(pa.int32(), pa.string())).with_metadata(
        {**(field.metadata or {}), _READ_AS_DICTIONARY: source}
    )


def plain_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with the columns that were read as dictionaries back to their source type (a source
    column that is itself a dictionary stays one)."""
    fields = []
    for f in schema:
        meta = dict(f.metadata or {})
        source = meta.pop(_READ_AS_DICTIONARY, None)
        if source is not None:
            f = f.with_type(_SOURCE_TYPES.get(source, f.type.value_type)).remove_metadata()
            f = f.with_metadata(meta) if meta else f
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def decoded(table: pa.Table) -> pa.Table:
    """`table` with the columns a streamed prepare read as dictionaries back to their source types.
    The prepared parts keep those dictionaries (written as they were read: a third of the writer's
    time, and no string materialised per row); whoever reads them whole decodes them here, and the
    samples are decoded as they are taken (a batch's dictionary is its whole row group's)."""
    plain = plain_schema(table.schema)
    return table if plain.equals(table.schema, check_metadata=True) else table.cast(plain)


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


def read_json_artifact(path: Path, what: str, stage: str) -> dict:
    """A JSON file a stage wrote, with one-line errors for a missing or corrupt file."""
    path = Path(path)
    if not path.exists():
        raise SynthgenError(f"{what} not found: {path}; run `synthgen {stage}` first")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise SynthgenError(f"{path}: not a valid {what} file ({e}); rerun `synthgen {stage}`") from None


def read_encoder_state(path: Path, version: int, kind: str | None = None) -> dict:
    """An encoder's JSON state, with one-line errors for a missing, corrupt or outdated file."""
    d = read_json_artifact(path, "encoder", "encode")
    if d.get("version") != version or d.get("kind") != kind:
        what = "an image" if kind == "image" else f"a {kind or 'tabular'}"
        raise SynthgenError(f"{path}: not {what} encoder state of version {version}; rerun `synthgen encode`")
    return d


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
    """Move folder `src` to `final`, replacing any old `final`; at every moment one of them is complete.

    Linux swaps the two in one step (renameat2 RENAME_EXCHANGE); elsewhere the old folder is first
    renamed to `.<name>.old` (a fixed name) and removed only once the new one is in place, so a run
    killed between the two renames leaves `.<name>.old`, which `recover_dir` (run by the next stage
    under the out_dir lock) puts back.
    """
    src, final = Path(src), Path(final)
    recover_dir(final)
    if final.exists() and _exchange(src, final):
        shutil.rmtree(src, ignore_errors=True)  # src now holds the old folder
        return
    old = _old_name(final)
    if final.exists():
        os.replace(final, old)
    os.replace(src, final)
    shutil.rmtree(old, ignore_errors=True)


def _old_name(final: Path) -> Path:
    return final.with_name(f".{final.name}.old")


def recover_dir(final: Path) -> None:
    """Finish what an interrupted `replace_dir` left: no `final` but `.<name>.old` -> put the old one
    back; both present -> the new one was in place, drop the old one."""
    final = Path(final)
    old = _old_name(final)
    if old.is_dir():
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final)


# staged_dir's and the atomic writers' temporary names, and generate's staging folder
_STAGING_NAME = re.compile(r"^\.[^/]+\.[0-9a-f]{32}\.(partial|tmp)$|^\.synthetic\.partial$")


def remove_stale_staging(folder: Path) -> None:
    """Delete the temporary names (`.*.partial` folders, `.*.tmp` files) that a killed run left in
    `folder` and its immediate subfolders. Only safe while holding the out_dir lock."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    for d in [folder, *(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for p in d.glob(".*"):
            if not _STAGING_NAME.match(p.name):  # only the names synthgen itself makes
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            elif p.is_file():
                p.unlink(missing_ok=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 with RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def conform_columns(table: pa.Table, schema: pa.Schema, lacks: str, differs: str) -> pa.Table:
    """`table` with `schema`'s columns, in its order and types; else one line: `lacks` formatted with
    {missing} (the absent columns) or `differs` with {error} (Arrow's reason, first line)."""
    missing = [n for n in schema.names if n not in table.column_names]
    if missing:
        raise SynthgenError(lacks.format(missing=missing))
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        error = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SynthgenError(differs.format(error=error)) from None
