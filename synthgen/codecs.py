"""How a string column was written: dates, datetimes, times, elapsed times ("31:05"), formatted
numbers and yes/no words;
and the codecs of two non-string columns: an Arrow time of day (time_of_day_codec) and integers
that are yyyymmdd dates (detect_int_date).

A CSV (or a Parquet file written from one) often holds typed values as text: "2013-02-21",
"2013-02-20 01:41:20+00:00", "1,234.5", "$12.00", "45%", "Yes"/"No". `detect` finds such a
column when (nearly) every non-null value parses (PARSE_MIN), and returns its codec, a small
JSON dict that schema.json keeps per column:

    {"type": "datetime", "format": "%Y-%m-%d", "native": "date32[day]", "parse_rate": 1.0}
    {"type": "number", "thousands": ",", "decimal": ".", "prefix": "$", "suffix": "", "decimals": 2,
     "fixed": true, "native": "double", "parse_rate": 1.0}
    {"type": "boolean", "true": "Yes", "false": "No", "native": "bool", "parse_rate": 1.0}

`parse` turns the column into its native Arrow type (values that do not parse become null) and
`format` writes native values back in the same spelling and the input's Arrow string type, so
the model sees numbers and times while the output keeps the input's types and format.
Parsing is vectorised (pandas to_datetime with an explicit format, Arrow string kernels).
"""

from __future__ import annotations

import datetime
import re
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from synthgen.errors import SynthgenError

PARSE_MIN = 0.98  # share of the non-null values that must parse for a codec to be inferred
_SAMPLE = 2000  # distinct values tried against each candidate format before measuring the rate

# strftime formats, most common first. Order breaks ties: "01/02/2013" reads as month/day.
DATE_FORMATS = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%Y/%m/%d",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d %b %Y",
    "%b %d, %Y",
    "%b %d %Y",  # "Jan 1 2000" (vega's stocks)
    "%d-%b-%Y",
    "%B %d, %Y",
    "%B %d %Y",
    "%d %B %Y",
    "%Y%m%d",
    "%m/%d/%y",  # two-digit years (spreadsheets, "01/05/20"; %y reads 69-99 as 19xx), after the four-digit ones
    "%d/%m/%y",
    "%d-%b-%y",  # "05-JAN-20": Oracle's default
    "%Y-%m",  # months: "2006-01", "Jan 2000", "01/2006" (read as the month's first day)
    "%b %Y",
    "%B %Y",
    "%m/%Y",
    "%b-%y",  # "Feb-21": a spreadsheet's mmm-yy month format
    "%b-%Y",
]
TIME_FORMATS = ["%H:%M:%S", "%H:%M", "%H:%M:%S.%f", "%I:%M %p", "%I:%M:%S %p"]
_DT_TIMES = ["%H:%M:%S", "%H:%M", "%H:%M:%S.%f"]
_CLOCK_TIMES = ["%I:%M %p", "%I:%M:%S %p"]  # "1/5/2020 9:05 AM": US spreadsheets' timestamps
_ZONES = ["", "%z"]
BOOL_WORDS = [("yes", "no"), ("y", "n"), ("true", "false"), ("t", "f"), ("on", "off")]
# what a spreadsheet or an export writes for a missing value, lower-cased (detect's null_text); a
# CSV's own null spellings are nulls on reading already (io.CSV_NULLS)
MISSING_WORDS = {
    "-",
    "--",
    "\u2013",
    "\u2014",
    ".",
    "?",
    "n/a",
    "na",
    "n.a.",
    "#n/a",
    "null",
    "nil",
    "none",
    "nan",
    "missing",
    "unknown",
    "not available",
}
CURRENCY = "$€£¥₹"
# ISO 4217 codes a finance export writes before or after an amount ("USD 1,234.00", "12,50 EUR")
CURRENCY_CODES = "USD|EUR|GBP|CHF|JPY|CNY|INR|CAD|AUD|NZD|SEK|NOK|DKK|PLN|CZK|HUF|BRL|MXN|ZAR|SGD|HKD|KRW|TRY|RUB"
# a unit after a number: "kg", "km/h", "°C", "mg/dL", "m²", "GB", "min", "years" (letters, no digits)
_UNIT = r"°?[^\W\d_]{1,8}(?:/[^\W\d_]{1,4})?[²³]?|°"
DECIMAL_COMMA = r",\d{1,2}$|,\d{4,}$"  # "80,7", "0,25", "3,14159": never thousands groups
# an optional currency sign or code, a number with optional thousands groups and decimals, then
# "%", a currency or a unit; negatives as "-12", "$-12", "-$12" or in accountants' parentheses
# "(1,234.50)" / "($12)". The prefix and suffix groups keep their spacing ("€ 12", "12.5 kg"), which
# the output is written with.
_NUMBER = re.compile(
    r"^\s*(?P<open>\(?)\s*(?P<lead>-?)\s*(?P<prefix>(?:(?:[" + CURRENCY + r"]|" + CURRENCY_CODES + r")\s*)?)"
    r"(?P<num>[-+]?\d{1,3}(?:[,.' ]\d{3})+(?:[.,]\d+)?"
    r"|[-+]?\d+(?:[.,]\d+)?)(?P<suffix>(?:\s*(?:%|[" + CURRENCY + r"]|" + _UNIT + r"))?)\s*(?P<close>\)?)\s*$"
)


def _datetime_formats() -> list[str]:
    out = []
    for d in ("%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y"):
        for sep in (" ", "T"):
            if sep == "T" and d != "%Y-%m-%d":
                continue
            for t in _DT_TIMES:
                for z in _ZONES:
                    out.append(f"{d}{sep}{t}{z}")
            if sep == " " and "/" in d:
                out += [f"{d} {t}" for t in _CLOCK_TIMES]
    # e-mail and HTTP headers, RSS feeds, logs: "Mon, 01 Jan 2024 10:00:00 +0000" (RFC 2822)
    out += ["%a, %d %b %Y %H:%M:%S %z", "%a, %d %b %Y %H:%M:%S"]
    return out


DATETIME_FORMATS = _datetime_formats()


# ---- detection -------------------------------------------------------------------------------
def detect(arr: pa.ChunkedArray, want: str | None = None) -> dict | None:
    """A string column -> its codec, or None when it is plain text.

    `want` narrows the search to one family ("datetime", "number", "boolean"), for a kind the
    user forced; then the best codec is returned even below PARSE_MIN (the caller decides).
    A column whose values parse but for a missing-value word (MISSING_WORDS: "-", "unknown", ...,
    under half its rows) gets the codec of the rest, plain numbers too ("47.5", "-"), with the
    most common such word as `null_text`: those rows are nulls to the model, written back as it.
    """
    values, counts = _distinct(arr)
    if not len(values):
        return None
    missing = np.array([str(v).strip().lower() in MISSING_WORDS for v in values], dtype=bool)
    if missing.any() and not missing.all() and counts[missing].sum() < counts.sum() / 2:
        codec = _detect(values[~missing], counts[~missing], want, plain_numbers=True)
        if codec is not None and codec["parse_rate"] >= PARSE_MIN:
            return {**codec, "null_text": str(values[missing][np.argmax(counts[missing])])}
    return _detect(values, counts, want)


def _detect(values, counts, want: str | None, plain_numbers: bool = False) -> dict | None:
    total = counts.sum()
    best = None
    for family in ("boolean", "duration", "datetime", "number"):
        if want is not None and family != want and not (want == "number" and family == "duration"):
            continue
        detector = {
            "boolean": _detect_bool,
            "duration": _detect_duration,
            "datetime": _detect_datetime,
            "number": _detect_number,
        }[family]
        codec = detector(values, counts, plain_numbers) if family == "number" else detector(values, counts)
        if codec is None:
            continue
        codec["parse_rate"] = round(float(codec.pop("_ok") / total), 6)
        if best is None or codec["parse_rate"] > best["parse_rate"]:
            best = codec
        if codec["parse_rate"] >= PARSE_MIN:
            return codec
    return best if want is not None else None


# elapsed time written like a clock: "4:24", "31:05", "1:02:03" (hours, minutes and seconds)
_CLOCK = re.compile(r"^\s*(\d+):([0-5]\d)(?::([0-5]\d))?\s*$")


def _detect_duration(values, counts) -> dict | None:
    """Elapsed times written like a clock, whose first field passes 23 somewhere ("31:05", "25:10:00")
    or that mix "m:ss" and "h:mm:ss" (race times): a time of day cannot hold them, and read as one
    the longer ones became nulls (or the column a category of every value). Modelled as a whole
    count of the last field's unit (seconds, or minutes for "h:mm"), written back in the same fields
    and padding: {"type": "duration", "fields": 2 | 3 | "mixed", "width", "native": "int64"}."""
    m = pd.Series(values, dtype=object).astype(str).str.extract(_CLOCK)
    ok = m[0].notna().to_numpy()
    if not ok.any():
        return None
    three = m[2][ok].notna()
    mixed = bool(three.any() and not three.all())
    if not (mixed or (m[0][ok].astype(np.int64) >= 24).any()):
        return None  # a time of day ("9:05", "23:59") reads these
    first = m[0][ok].str.len()  # "04:24" beside "116:40": padded to two digits
    padded = bool(first.min() > 1 and m[0][ok].str.startswith("0").any())
    return {
        "type": "duration",
        "fields": "mixed" if mixed else 3 if three.all() else 2,
        "width": int(first.min()) if padded else 1,
        "native": "int64",
        "_ok": int(counts[ok].sum()),
    }


def _clock_counts(codec: dict, s: pd.Series) -> pd.Series:
    """Strings -> whole counts of the last field's unit (nullable Int64; null where one does not parse)."""
    m = s.astype(object).where(s.notna(), None).astype("string").str.extract(_CLOCK).astype("Int64")
    if codec["fields"] == 2:
        return m[0] * 60 + m[1]
    if codec["fields"] == 3:
        return m[0] * 3600 + m[1] * 60 + m[2]
    return (m[0] * 3600 + m[1] * 60 + m[2]).fillna(m[0] * 60 + m[1])  # "m:ss" beside "h:mm:ss"


def _clock_strings(codec: dict, v: np.ndarray) -> np.ndarray:
    """Whole counts -> "m:ss" / "h:mm:ss" in the codec's fields and padding (object array)."""
    v = np.maximum(v.astype(np.int64), 0)

    def sixty(x):  # minutes or seconds: "05"
        return pd.Series(x % 60).astype(str).str.zfill(2)

    w = codec["width"]
    two = pd.Series(v // 60).astype(str).str.zfill(w) + ":" + sixty(v)
    three = pd.Series(v // 3600).astype(str).str.zfill(w) + ":" + sixty(v // 60) + ":" + sixty(v)
    if codec["fields"] == 2:
        return two.to_numpy(dtype=object)
    if codec["fields"] == 3:
        return three.to_numpy(dtype=object)
    return np.where(v >= 3600, three, two).astype(object)


def from_format(fmt: str, arr) -> dict:
    """The datetime codec of a user-given strftime format, with its parse rate on `arr`."""
    values, counts = _distinct(arr)
    ok = _parse_dt(values, fmt).notna().to_numpy() if len(values) else np.zeros(0, dtype=bool)
    has_time = any(x in fmt for x in ("%H", "%I", "%M", "%S"))
    has_date = any(x in fmt for x in ("%d", "%m", "%Y", "%y", "%b", "%j"))
    native = "timestamp[us, tz=UTC]" if fmt.endswith("%z") else "timestamp[us]" if has_time else "date32[day]"
    codec = {
        "type": "datetime",
        "format": fmt,
        "native": native,
        "parse_rate": round(float(counts[ok].sum() / max(counts.sum(), 1)), 6),
    }
    if fmt.endswith("%z") and len(values):
        last = str(values[0]).strip()
        codec["zone"] = "Z" if last.endswith("Z") else ":" if re.search(r"[+-]\d\d:\d\d$", last) else ""
    if has_time and not has_date:
        codec["time_only"] = True
    return codec


# A time of day is modelled as a timestamp on the day strptime gives a bare time ("16:37" ->
# 1900-01-01 16:37), whether it was written as text or stored as an Arrow time32/time64 column.
TIME_OF_DAY_EPOCH_US = int((pd.Timestamp("1900-01-01") - pd.Timestamp("1970-01-01")).value // 1000)
TIME_OF_DAY_BOUNDS = ["1900-01-01 00:00:00", "1900-01-01 23:59:59.999999"]  # the type's range: public
_DAY_US = 86_400_000_000


def time_of_day_codec() -> dict:
    """The codec of an Arrow time-of-day column (a database's TIME, a Parquet time32/time64):
    read as timestamps like a time written as text, written back as the column's own time type."""
    return {
        "type": "datetime",
        "format": "%H:%M:%S",
        "native": "timestamp[us]",
        "time_only": True,
        "arrow_time": True,
        "parse_rate": 1.0,
    }


INT_DATE_MIN_VALUES = 5  # distinct values an integer column needs before it can be yyyymmdd dates


def detect_int_date(arr) -> dict | None:
    """An integer column of dates written as yyyymmdd (a data warehouse's date key, a government
    export's 20130101), when at least PARSE_MIN of its values are such dates of 1800-2199: modelled
    as dates and written back as the same integers. Modelled as a number, 20130131 drew 20130150.
    Random 8-digit integers are such dates ~4 % of the time, so five distinct ones all being dates
    is no chance; counts and codes of other lengths never are."""
    arr = arr.drop_null() if not isinstance(arr, pa.ChunkedArray) else pa.chunked_array(arr.chunks).drop_null()
    if not len(arr):
        return None
    values, counts = np.unique(
        np.asarray(arr.to_numpy() if isinstance(arr, pa.Array) else arr.to_numpy()), return_counts=True
    )
    if len(values) < INT_DATE_MIN_VALUES:
        return None
    plausible = (values >= 18000101) & (values <= 21991231)
    if counts[plausible].sum() < PARSE_MIN * counts.sum():
        return None
    parsed = pd.to_datetime(pd.Series(values[plausible].astype(str)), format="%Y%m%d", errors="coerce")
    rate = float(counts[plausible][parsed.notna().to_numpy()].sum() / counts.sum())
    if rate < PARSE_MIN:
        return None
    return {
        "type": "datetime",
        "format": "%Y%m%d",
        "native": "date32[day]",
        "int_date": True,
        "parse_rate": round(rate, 6),
    }


def _distinct(arr) -> tuple[np.ndarray, np.ndarray]:
    """Distinct non-null strings (object array) and their counts."""
    arr = arr.drop_null()
    if not len(arr):
        return np.array([], dtype=object), np.array([], dtype=np.int64)
    vc = pc.value_counts(arr.cast(pa.large_string()))
    return (np.asarray(vc.field("values").to_pylist(), dtype=object), vc.field("counts").to_numpy())


def _detect_bool(values, counts) -> dict | None:
    low = {str(v).strip().lower() for v in values}
    for t, f in BOOL_WORDS:
        if low <= {t, f}:
            spell = {
                str(v).strip().lower(): str(v) for v in values[np.argsort(counts, kind="stable")]
            }  # most frequent wins
            true, false = spell.get(t, _like(t, values[0])), spell.get(f, _like(f, values[0]))
            return {"type": "boolean", "true": true, "false": false, "native": "bool", "_ok": counts.sum()}
    return None


def _like(word: str, example: str) -> str:
    """`word` in the letter case of `example` (for a yes/no word the column never shows)."""
    return word.upper() if example.isupper() else word.title() if example[:1].isupper() else word


def _parse_dt(values, fmt: str) -> pd.Series:
    """Text -> datetimes in `fmt` (NaT where a value is not in it); a format with whole seconds also
    reads them with a fraction: a timestamp column of `1893-10-30 00:00:00` beside its extraction
    moment `2013-10-01 22:20:10.165196` (lifelines' canadian_senators) is one column of dates."""
    s = pd.Series(values, dtype=object)
    d = pd.to_datetime(s, format=fmt, errors="coerce", utc=fmt.endswith("%z"))
    if _FRACTION_FREE.search(fmt) and d.isna().any():
        rest = d.isna().to_numpy()
        fine = pd.to_datetime(s[rest], format=with_fraction(fmt), errors="coerce", utc=fmt.endswith("%z"))
        d = d.where(~rest, fine) if fine.notna().any() else d
    return d


_FRACTION_FREE = re.compile(r"%S(?!\.%f)")


def with_fraction(fmt: str) -> str:
    """`fmt` with microseconds after its seconds."""
    return fmt.replace("%S", "%S.%f", 1)


def _detect_datetime(values, counts) -> dict | None:
    sample = values[np.argsort(-counts, kind="stable")[:_SAMPLE]]
    if not any(ch.isdigit() for ch in str(sample[0])):
        return None
    best, best_n = None, 0
    for fmt in DATE_FORMATS + DATETIME_FORMATS + TIME_FORMATS:
        n = int(_parse_dt(sample, fmt).notna().sum())
        if n > best_n:
            best, best_n = fmt, n
        if n == len(sample):
            break
    if best is None or best_n < PARSE_MIN * len(sample):
        mixed = _two_date_formats(values, counts, best) if best in DATE_FORMATS else None
        if mixed is not None:
            return mixed
        best = next((f for f in _guessed_formats(sample) if _parse_dt(sample, f).notna().mean() >= PARSE_MIN), None)
        if best is None:
            return None
    ok = _parse_dt(values, best).notna().to_numpy()
    if best.endswith("%z"):
        native = "timestamp[us, tz=UTC]"
    elif best in DATE_FORMATS or not any(x in best for x in ("%H", "%I", "%M", "%S")):
        native = "date32[day]"
    else:
        native = "timestamp[us]"
    codec = {"type": "datetime", "format": best, "native": native, "_ok": int(counts[ok].sum())}
    unpadded = _unpadded_format(best, sample)
    if unpadded:
        codec["write_format"] = unpadded
    if best.endswith("%z"):  # "+00:00", "+0000" or "Z": written back as the input wrote it
        last = str(sample[0]).strip()
        codec["zone"] = "Z" if last.endswith("Z") else ":" if re.search(r"[+-]\d\d:\d\d$", last) else ""
        codec["offset_minutes"] = _common_offset(values, counts)
    if best in TIME_FORMATS:
        codec["time_only"] = True
    return codec


MIX_MIN_SHARE = 0.05  # a date column's second format reads at least this share of its rows


def _two_date_formats(values, counts, first: str) -> dict | None:
    """A date column written in two formats (two systems' exports merged: `2024-01-05` beside
    `01/06/2024`): `first` (the format that reads most rows) and the date format that reads most of
    the rest, when together they read PARSE_MIN of the rows and the second at least MIX_MIN_SHARE.
    Each value is read by the first format that reads it, and written back in one of the two by
    their shares of the rows (format_values): {"format": first, "formats": [first, second],
    "shares", "write_formats"}."""
    one = _parse_dt(values, first).notna().to_numpy()
    rest = values[~one]
    if not len(rest):
        return None
    tried = [(f, _parse_dt(rest, f).notna().to_numpy()) for f in DATE_FORMATS if f != first]
    second, two = max(tried, key=lambda t: counts[~one][t[1]].sum())
    total, n1, n2 = counts.sum(), counts[one].sum(), counts[~one][two].sum()
    if n1 + n2 < PARSE_MIN * total or n2 < MIX_MIN_SHARE * total:
        return None
    written = [_unpadded_format(first, values[one]) or first, _unpadded_format(second, rest[two]) or second]
    return {
        "type": "datetime",
        "format": first,
        "native": "date32[day]",
        "formats": [first, second],
        "shares": [round(float(n1 / (n1 + n2)), 6), round(float(n2 / (n1 + n2)), 6)],
        "write_formats": written,
        "_ok": int(n1 + n2),
    }


def _guessed_formats(sample, tries: int = 50) -> list[str]:
    """Formats outside the lists above, as pandas guesses them from the most frequent values
    ("Jan-1-1995": "%b-%d-%Y", "01.Jan.1995", "Mon Jan 02 2006"), the most often guessed first. Only
    formats that hold a year and a month (a bare year stays a number) and no zone name (a "%z"
    offset only at the end, as the zone handling reads it)."""
    from pandas.tseries.api import guess_datetime_format

    guesses: dict[str, int] = {}
    for v in sample[:tries]:
        with warnings.catch_warnings():  # "could not infer format": a value that is not a date
            warnings.simplefilter("ignore")
            fmt = guess_datetime_format(str(v).strip())
        if fmt is None or "%Z" in fmt or ("%z" in fmt and not fmt.endswith("%z")):
            continue
        if ("%Y" in fmt or "%y" in fmt) and any(m in fmt for m in ("%m", "%b", "%B")):
            guesses[fmt] = guesses.get(fmt, 0) + 1
    return sorted(guesses, key=lambda f: -guesses[f])


def _unpadded_format(fmt: str, sample) -> str | None:
    """The format that writes days, months and hours as the values do without a leading zero ("Jan
    1 2000", "1/5/2020 9:05": "%-d", "%-m", "%-H", "%-I"), where the padded `fmt` does not spell
    them back and that one does: every field unpadded, or only the date's, or only the hour's (the
    C library's "-" flag: where it is missing, the padded spelling stays); else None."""
    fields = [f for f in ("%d", "%m", "%H", "%I") if f in fmt]
    if not fields:
        return None
    parsed = _parse_dt(sample, fmt)
    ok = parsed.notna().to_numpy()
    text = pd.Series(sample[ok], dtype=object).astype(str).str.strip().to_numpy()
    if (parsed[ok].dt.strftime(fmt).to_numpy() == text).mean() >= PARSE_MIN:
        return None
    date, hour = [f for f in fields if f in ("%d", "%m")], [f for f in fields if f in ("%H", "%I")]
    for unpad in (fields, date, hour):
        loose = fmt
        for f in unpad:
            loose = loose.replace(f, f"%-{f[1]}")
        if loose == fmt:
            continue
        try:
            same = (parsed[ok].dt.strftime(loose).to_numpy() == text).mean()
        except ValueError:  # a C library without the flag
            return None
        if same >= PARSE_MIN:
            return loose
    return None


def _common_offset(values, counts) -> int:
    """The most frequent UTC offset written in the values, in minutes ("Z" is 0): the output is
    written at that offset (a zone's summer and winter offsets cannot both be kept without its name)."""
    m = pd.Series(values, dtype=object).astype(str).str.strip().str.extract(r"(?:([+-])(\d\d):?(\d\d)|Z)$")
    minutes = (m[1].astype(float) * 60 + m[2].astype(float)) * np.where(m[0] == "-", -1, 1)
    weights = pd.Series(counts).groupby(minutes.fillna(0).astype(int).to_numpy()).sum()
    return int(weights.idxmax()) if len(weights) else 0


def _detect_number(values, counts, plain: bool = False) -> dict | None:
    """The number codec of the values; `plain`: unformatted numbers ("47.5") qualify too (a column
    of numbers with a missing-value word), codes with a leading zero never."""
    s = pd.Series(values, dtype=object).astype(str)
    m = _extract_number(s)
    ok = m["num"].notna().to_numpy()
    if ok.sum() == 0:
        return None
    num = m["num"][ok]
    prefix, suffix = m["prefix"][ok], m["suffix"][ok]
    negative = (
        "parentheses"
        if (m["open"][ok] == "(").any()
        else "before prefix"
        if ((m["lead"][ok] == "-") & (prefix != "")).any()
        else "sign"
    )
    # Plain digit strings (codes, zip codes, "007") stay text: a codec needs some formatting, which a
    # decimal comma is ("80,7", "0,25": a CSV reader parses "80.7" itself; three digits could be groups).
    formatted = (
        (prefix != "")
        | (suffix != "")
        | num.str.contains(r"\d[,.' ]\d{3}(?:\D|$)", regex=True)
        | num.str.contains(DECIMAL_COMMA, regex=True)
    )
    if not (formatted.any() or plain) or num.str.match(r"^[-+]?0\d").any():
        return None
    weights = counts[np.flatnonzero(ok)]
    singular = _singular_unit(suffix, num)  # "1 day" beside "3 days": one unit
    plural = suffix.where(suffix != singular, f"{singular}s") if singular else suffix
    pre, suf = _affix(prefix, weights), _affix(plural, weights)
    if pre is None or suf is None:  # "12 kg" beside "12 lb", "$" beside "€": not one quantity
        return None
    dec_comma = num.str.contains(DECIMAL_COMMA, regex=True).any() or (
        num.str.contains(r"\.\d{3}(?:\D|$)", regex=True).any()
        and not num.str.contains(r"\.\d{1,2}$", regex=True).any()
        and num.str.contains(",", regex=False).any()
    )
    decimal, thousands = (",", ".") if dec_comma else (".", ",")
    if num.str.contains(" ", regex=False).any():
        thousands = " "
    elif num.str.contains("'", regex=False).any():
        thousands = "'"
    parsed = _to_float(num, thousands, decimal)
    good = parsed.notna().to_numpy()
    # digits after the decimal mark ("" where there is none: all-whole columns give no strings at all)
    frac = num[good].str.split(re.escape(decimal), regex=True).str[1].fillna("").astype(str).str.len()
    codec = {
        "type": "number",
        "thousands": thousands,
        "decimal": decimal,
        "prefix": pre,
        "suffix": suf,
        "decimals": int(frac.max()) if len(frac) else 0,
        "fixed": bool(frac.nunique() <= 1),
        "grouped": bool(num.str.contains(re.escape(thousands), regex=True).any()),
        "negative": negative,
        **({"suffix_one": singular} if singular else {}),
        "native": "double",
        "_ok": int(counts[np.flatnonzero(ok)[good]].sum()),
    }
    return codec


def _affix(spellings: pd.Series, weights: np.ndarray) -> str | None:
    """The one prefix (or suffix) a number column is written with, in its commonest spelling ("12 kg"
    and "12kg" are one unit, written "12 kg" if most rows are); "" when there is none; None when the
    values carry two different ones."""
    keys = spellings.str.strip()
    if keys[keys != ""].nunique() > 1:
        return None
    written = spellings[(keys != "").to_numpy()]
    if not len(written):
        return ""
    return str(pd.Series(weights[(keys != "").to_numpy()]).groupby(written.to_numpy()).sum().idxmax())


def _singular_unit(suffix: pd.Series, num: pd.Series) -> str | None:
    """The singular spelling of a unit written in the plural elsewhere ("1 day" beside "3 days",
    " year" beside " years"), when only the values 1 and -1 carry it; None otherwise."""
    keys = suffix.str.strip()
    units = set(keys[keys != ""])
    if len(units) != 2:
        return None
    one, many = sorted(units, key=len)
    if many != one + "s":
        return None
    at_one = (keys == one).to_numpy()
    if not (pd.to_numeric(num[at_one].str.replace(",", "."), errors="coerce").abs() == 1).all():
        return None
    return str(suffix[at_one].iloc[0])


def _extract_number(s: pd.Series) -> pd.DataFrame:
    """_NUMBER's groups per string; "num" is null unless parentheses are paired, and carries the
    sign of a leading "-" or of the parentheses ("(12)" -> "-12")."""
    m = s.str.extract(_NUMBER)
    paired = m["open"] == m["close"].replace(")", "(")
    neg = ((m["open"] == "(") | (m["lead"] == "-")) & m["num"].notna()
    twice = (
        ((m["open"] == "(") & (m["lead"] == "-"))  # "(-12)", "-$-12": not a spelling
        | (neg & m["num"].str.startswith(("-", "+"), na=False))
    )
    m["num"] = m["num"].where(paired & ~twice)
    m.loc[neg & paired & ~twice, "num"] = "-" + m.loc[neg & paired & ~twice, "num"]
    return m


def _to_float(num: pd.Series, thousands: str, decimal: str) -> pd.Series:
    clean = num.str.replace(thousands, "", regex=False)
    if decimal != ".":
        clean = clean.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(clean, errors="coerce")


# ---- parse / format --------------------------------------------------------------------------
def native_type(codec: dict) -> pa.DataType:
    return {
        "date32[day]": pa.date32(),
        "timestamp[us]": pa.timestamp("us"),
        "bool": pa.bool_(),
        "timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"),
        "double": pa.float64(),
        "int64": pa.int64(),
    }[codec["native"]]


def parse(codec: dict, arr) -> pa.ChunkedArray:
    """Strings -> native values (null where a value does not parse)."""
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    typ = native_type(codec)
    if pa.types.is_dictionary(arr.type):  # each level parsed once, then taken by the rows' indices
        return pa.chunked_array(
            [parse(codec, c.dictionary).combine_chunks().take(c.indices) for c in arr.chunks], type=typ
        )
    if arr.type == typ:
        return arr
    if codec.get("int_date") and pa.types.is_integer(arr.type):  # 20130131 -> "20130131" -> a date
        arr = arr.cast(pa.string())
    if pa.types.is_time(arr.type):  # time of day -> microseconds after midnight -> that time on 1900-01-01
        us = pc.add(arr.cast(pa.time64("us")).cast(pa.int64()), TIME_OF_DAY_EPOCH_US)
        return us.cast(typ)
    if not (
        pa.types.is_string(arr.type)
        or pa.types.is_large_string(arr.type)
        or pa.types.is_string_view(arr.type)
        or pa.types.is_null(arr.type)
    ):
        raise SynthgenError(f"a {codec['type']} codec reads strings, not {arr.type}; rerun `synthgen prepare`")
    s = arr.to_pandas().astype(object)
    if codec["type"] == "boolean":
        low = s.str.strip().str.lower()
        out = pd.Series(
            np.where(low == codec["true"].lower(), True, np.where(low == codec["false"].lower(), False, None)),
            dtype=object,
        )
        return pa.chunked_array([pa.array(out, type=pa.bool_(), from_pandas=True)])
    if codec["type"] == "duration":
        return pa.chunked_array([pa.array(_clock_counts(codec, s), type=pa.int64(), from_pandas=True)])
    if codec["type"] == "datetime":
        d = _parse_dt(s.to_numpy(), codec["format"])
        for fmt in codec.get("formats", [])[1:]:  # a column in two formats: what the first did not read
            rest = (d.isna() & s.notna()).to_numpy()
            if rest.any():
                d[rest] = _parse_dt(s.to_numpy()[rest], fmt).to_numpy()
        if pa.types.is_date(typ):
            return pa.chunked_array([pa.array(d.dt.date, type=typ, from_pandas=True)])
        return pa.chunked_array(
            [pa.array(d.astype("datetime64[us, UTC]" if typ.tz else "datetime64[us]"), type=typ, from_pandas=True)]
        )
    m = _extract_number(s)
    f = _to_float(
        m["num"].astype(object).where(m["num"].notna(), None).astype("string"), codec["thousands"], codec["decimal"]
    )
    return pa.chunked_array(
        [pa.array(f.to_numpy(dtype=np.float64, na_value=np.nan), type=pa.float64(), from_pandas=True)]
    )


def format_values(codec: dict, arr, typ: pa.DataType) -> pa.Array:
    """Native values -> strings in the codec's spelling, as Arrow type `typ` (the input's)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    vt = typ.value_type if pa.types.is_dictionary(typ) else typ
    if pa.types.is_time(vt):  # a timestamp on 1900-01-01 -> its time of day, in the column's unit
        us = pc.subtract(arr.cast(pa.timestamp("us")).cast(pa.int64()), TIME_OF_DAY_EPOCH_US)
        # within the day, as the model's bounds keep it; nulls stay nulls
        us = pc.min_element_wise(pc.max_element_wise(us, 0, skip_nulls=False), _DAY_US - 1, skip_nulls=False)
        return us.cast(pa.time64("us")).cast(vt, safe=False)  # safe=False: microseconds floored to `vt`'s unit
    null = arr.is_null().to_numpy(zero_copy_only=False)
    if codec["type"] == "boolean":
        v = np.where(arr.fill_null(False).to_numpy(zero_copy_only=False), codec["true"], codec["false"])
    elif codec["type"] == "datetime":
        s = pd.to_datetime(pd.Series(arr.to_pandas()))
        if codec.get("offset_minutes") and s.dt.tz is not None:  # UTC instants at the input's offset
            s = s.dt.tz_convert(datetime.timezone(datetime.timedelta(minutes=codec["offset_minutes"])))
        # each distinct value formatted once (strftime runs per value in Python: 20,000 dates of ten
        # years took 63 ms, formatting their ~3,650 days 11 ms)
        codes, distinct = pd.factorize(s)
        fmt = codec.get("write_format") or codec["format"]
        text = pd.Series(distinct.strftime(fmt), dtype="string")
        if codec.get("formats"):  # two formats: each date in one, by their shares (the same date alike)
            second = pd.Series(distinct.strftime(codec["write_formats"][1]), dtype="string")
            from synthgen.streaming import splitmix64

            unit = (splitmix64(distinct.asi8.astype(np.uint64)) >> np.uint64(11)) / 2.0**53  # [0, 1) per date
            text = text.where(unit < codec["shares"][0], second)
        if _FRACTION_FREE.search(fmt) and len(distinct) and (distinct.microsecond != 0).any():
            fine = np.asarray(distinct.microsecond != 0)  # a fraction of a second, written as read
            text[fine] = distinct[fine].strftime(with_fraction(fmt))
        v = text.reindex(codes).reset_index(drop=True)  # code -1 (null) -> <NA>
        if codec.get("zone") == "Z":  # UTC instants: "+0000" -> "Z", or "+00:00"
            v = v.str.replace(r"[+-]0000$", "Z", regex=True)
        elif codec.get("zone") == ":":
            v = v.str.replace(r"([+-]\d\d)(\d\d)$", r"\1:\2", regex=True)
        v = v.to_numpy(dtype=object, na_value=None)
    elif codec["type"] == "duration":
        v = _clock_strings(codec, arr.fill_null(0).to_numpy(zero_copy_only=False))
    else:
        v = _format_numbers(arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64), codec)
    if codec.get("null_text") is not None and null.any():  # the input's word for a missing value
        v = np.asarray(v, dtype=object)
        v[null] = codec["null_text"]
        null = np.zeros(len(v), dtype=bool)
    out = pa.array(v, type=pa.large_string(), mask=null if null.any() else None).cast(vt)
    return out.dictionary_encode().cast(typ) if pa.types.is_dictionary(typ) else out


def _format_numbers(v: np.ndarray, codec: dict) -> np.ndarray:
    d = codec["decimals"]
    sep = "," if codec.get("grouped") else ""
    text = [f"{x:{sep}.{d}f}" for x in v]  # Python's grouping writes "," and "."
    if not codec["fixed"] and d:
        text = [t.rstrip("0").rstrip(".") for t in text]
    if codec["thousands"] != "," or codec["decimal"] != ".":
        table = str.maketrans({",": codec["thousands"], ".": codec["decimal"]})
        text = [t.translate(table) for t in text]
    style, pre = codec.get("negative", "sign"), codec["prefix"]
    # each value's unit: the singular one at 1 and -1 ("1 day", "3 days"), else the column's
    one = codec.get("suffix_one")
    sufs = np.where(np.abs(v) == 1, one, codec["suffix"]) if one else [codec["suffix"]] * len(text)
    if style == "sign":  # Python's "-" after the prefix: "$-12"
        return np.array([f"{pre}{t}{suf}" for t, suf in zip(text, sufs)], dtype=object)
    out = [
        f"{pre}{t}{suf}"
        if not t.startswith("-")
        else f"({pre}{t[1:]}{suf})"
        if style == "parentheses"
        else f"-{pre}{t[1:]}{suf}"
        for t, suf in zip(text, sufs)
    ]
    return np.array(out, dtype=object)
