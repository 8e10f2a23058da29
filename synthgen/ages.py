"""Ages: an integer column that is, in (nearly) every real row, the whole years between a date
column and a later date: another column ("age" = years from "dob" to "screening_date") or one
fixed day (the day the table was extracted: COMPAS' "age" is the age on 2016-04-19).

Modelled on their own, the three columns disagree in most synthetic rows (a 25-year-old born 60
years before the screening). The encoder keeps the age and the later date as modelled, and writes
the birth date as one that gives exactly that age on that date (`birth_dates`), drawn uniformly
within the year of dates that do. The evaluation reports the synthetic share of rows that agree
(`fidelity.age.<column>`).

Dates here are int64 days since 1970-01-01 (local wall-clock days); ages are calendar ages: a
birthday on the date itself counts, and 29 February birthdays count on 28 February in other years.
"""

from __future__ import annotations

import numpy as np

AGE_MIN_SHARE = 0.99  # the age agrees with its dates in at least this share of the real rows
AGE_MIN_ROWS = 50  # rows with all three set; fewer, and a chance agreement is likely
AGE_MIN_DISTINCT = 3  # a constant or two-valued column agrees by chance too easily
AGE_MAX_YEARS = 150


def day_number(iso: str) -> int:
    """'2016-04-19' -> int64 days since 1970-01-01 (schema.json keeps fixed days as ISO dates)."""
    return int(np.datetime64(iso, "D").astype(np.int64))


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """int64 days -> (year, month 1-12, day 1-31) int64 arrays."""
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]")
    m = d.astype("datetime64[M]")
    return (
        y.astype(np.int64) + 1970,
        (m - y.astype("datetime64[M]")).astype(np.int64) + 1,
        (d - m.astype("datetime64[D]")).astype(np.int64) + 1,
    )


def calendar_age(born: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Whole years from `born` to `at` (int64 days each, same shape) as int64."""
    yb, mb, db = _ymd(born)
    ya, ma, da = _ymd(at)
    before_birthday = (ma < mb) | ((ma == mb) & (da < db))
    return ya - yb - before_birthday.astype(np.int64)


def _years_back(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """The same month and day `years` years earlier (29 February -> 28 February in common years)."""
    y, m, d = _ymd(days)
    y2 = y - years
    leap = ((y2 % 4 == 0) & (y2 % 100 != 0)) | (y2 % 400 == 0)
    d = np.where((m == 2) & (d == 29) & ~leap, 28, d)
    months = (y2 - 1970) * 12 + (m - 1)
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) + d - 1


def birth_dates(
    at: np.ndarray, age: np.ndarray, rng: np.random.Generator, lo: int | None = None, hi: int | None = None
) -> np.ndarray:
    """Days whose calendar age on `at` is `age`, uniform over the (365 or 366) such days, or over
    those within [lo, hi] (the real birth dates' range, days) where some are.

    Those days are (at - (age + 1) years, at - age years]: the latest birth date is `at` moved back
    `age` years, the earliest the day after `at` moved back `age + 1` years.
    """
    latest = _years_back(at, age)
    earliest = _years_back(at, age + 1) + 1  # 365 or 366 candidate days up to `latest`
    if lo is not None and hi is not None:
        inside = np.maximum(earliest, lo) <= np.minimum(latest, hi)  # a day of the range gives that age
        earliest = np.where(inside, np.maximum(earliest, lo), earliest)
        latest = np.where(inside, np.minimum(latest, hi), latest)
    return latest - np.floor(rng.random(len(at)) * (latest - earliest + 1)).astype(np.int64)


def fixed_day(born: np.ndarray, age: np.ndarray) -> tuple[int, float]:
    """(day, share): the day on which the most of these people have these ages, and that share.

    A person aged N on day R was born in (R - (N + 1) years, R - N years], so R lies in
    [born + N years, born + (N + 1) years): the latest of the lower ends is a day every row agrees
    with when it is not past the earliest upper end; else its 99th percentile (1 % of rows off).
    """
    lo = _years_back(born, -age)
    hi = _years_back(born, -(age + 1)) - 1
    day = int(lo.max()) if lo.max() <= hi.min() else int(np.quantile(lo, AGE_MIN_SHARE, method="lower"))
    return day, float((calendar_age(born, np.full(len(born), day)) == age).mean())


def find_age_relations(
    dates: dict[str, tuple[np.ndarray, np.ndarray]], ints: dict[str, tuple[np.ndarray, np.ndarray]]
) -> list[dict]:
    """[{"column": N, "born": A, "at": B or None, "day": fixed day or None, "share": agreeing share}]
    for integer columns N that are the calendar age from date A to date B (or to one fixed day, in
    int64 days) in at least AGE_MIN_SHARE of the >= AGE_MIN_ROWS rows where all are set.

    `dates`: name -> (int64 days, null mask); `ints`: name -> (int64 values, null mask), all of one
    length. Each integer column and each birth date is used once: of several matches the one
    agreeing most wins, then a later date column over a fixed day, then the later date with fewer
    nulls (a birth date tied to the date of screening, not to an equal copy of it), then column order.
    """
    names = list(dates)
    out, born_used = [], set()
    for n_name, (n_vals, n_null) in ints.items():
        valid = n_vals[~n_null]
        if (
            len(valid) < AGE_MIN_ROWS
            or valid.min() < 0
            or valid.max() > AGE_MAX_YEARS
            or len(np.unique(valid)) < AGE_MIN_DISTINCT
        ):
            continue
        best = None
        for a in names:
            if a in born_used:
                continue
            both = ~n_null & ~dates[a][1]
            if both.sum() >= AGE_MIN_ROWS:
                day, share = fixed_day(dates[a][0][both], n_vals[both])
                rank = (share, 0, 0, 0)
                if share >= AGE_MIN_SHARE and (best is None or rank > best[0]):
                    best = (rank, a, None, day)
            for b in names:
                if a == b:
                    continue
                both = ~n_null & ~dates[a][1] & ~dates[b][1]
                rows = np.flatnonzero(both)
                if len(rows) < AGE_MIN_ROWS:
                    continue
                probe = rows[:200]  # most pairs fail at once: check a few rows before them all
                if (
                    calendar_age(dates[a][0][probe], dates[b][0][probe]) == n_vals[probe]
                ).mean() < AGE_MIN_SHARE - 0.05:
                    continue
                share = float((calendar_age(dates[a][0][both], dates[b][0][both]) == n_vals[both]).mean())
                if share < AGE_MIN_SHARE:
                    continue
                rank = (share, 1, -int(dates[b][1].sum()), -names.index(b))
                if best is None or rank > best[0]:
                    best = (rank, a, b, None)
        if best is not None:
            born_used.add(best[1])
            out.append(
                {"column": n_name, "born": best[1], "at": best[2], "day": best[3], "share": round(best[0][0], 6)}
            )
    return out
