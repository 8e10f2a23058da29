"""Day counts tied to date columns: spans and durations.

Spans: an integer column N that is, in (nearly) every real row, the days between two date columns,
N = B - A (COMPAS' `c_days_from_compas` is the screening date minus the offence date). Drawn on its
own, N disagrees with the two dates in most synthetic rows (dates are drawn within bins days wide).
The encoder keeps N and one of the dates as modelled and writes the other date from them (the one
missing more often: it depends on the other, as an offence date on the screening date), so the
three agree wherever they are set (`fidelity.span.<column>`).

Durations: an integer column that counts the days from a date column to an event, or to one
fixed day when no event came first (follow-up time, censored on the day the table was extracted).
COMPAS' `end` is the days from `screening_date` to a new offence or to 2016-04-01; 41 % of its
rows end on that day, and none passes it.

Modelled as a count on its own, the bound is lost: `screening_date + end` passed 2016-04-01 in 24 %
of the synthetic rows (0.02 % of the real ones), and a classifier telling real rows from synthetic
ones finds that at once. So the count gets one more token, "ends on the fixed day", written as
day - start once the start date is drawn (the censored rows, exactly), and its other draws are
capped at that day. (Modelling the end date start + N as a date instead put 14 % of the synthetic
counts at their minimum: the end and start dates, each drawn within a bin, often crossed.) The
evaluation reports the synthetic share of rows that stay within the day
(`fidelity.duration.<column>`).

Dates here are int64 days since 1970-01-01 (local wall-clock days), as in synthgen/ages.py.
"""

from __future__ import annotations

import numpy as np

DURATION_MIN_ROWS = 50  # rows with the count set; fewer, and a shared end day is likely chance
DURATION_MIN_SHARE = 0.99  # start + N is on or before the fixed day in at least this share of them
DURATION_MIN_AT_END = 0.05  # and on it in at least this share (the censored rows)
# different counts among the rows that end on the day: fewer, and the day is just the common
# start date plus the common count, not a bound
DURATION_MIN_COUNTS_AT_END = 10
SPAN_MIN_ROWS = 50  # rows with all three set
SPAN_MIN_SHARE = 0.99  # N == B - A in at least this share of them
SPAN_MIN_DISTINCT = 3  # a constant or two-valued count agrees by chance too easily


def find_spans(
    dates: dict[str, tuple[np.ndarray, np.ndarray]],
    ints: dict[str, tuple[np.ndarray, np.ndarray]],
    skip: set[str] = frozenset(),
) -> list[dict]:
    """[{"column": N, "start": A, "end": B, "derived": A or B, "share"}] for integer columns N (not
    in `skip`) that are the days from date A to date B (N = B - A) in at least SPAN_MIN_SHARE of
    the >= SPAN_MIN_ROWS rows where all three are set.

    `derived` is the date written from the other one and N: the one with more nulls (B on a tie).
    Each date is derived once, by the first count in column order; of several other dates for it,
    the one agreeing most wins, then the one with fewer nulls, then column order. One count may
    derive several dates (an offence date and, where it is missing, an arrest date).
    """
    names = list(dates)
    out, taken = [], set()
    for n_name, (n_vals, n_null) in ints.items():
        if n_name in skip or (~n_null).sum() < SPAN_MIN_ROWS or len(np.unique(n_vals[~n_null])) < SPAN_MIN_DISTINCT:
            continue
        best: dict[str, tuple] = {}  # derived date -> (rank, start, end, share)
        for a in names:
            for b in names:
                if a == b:
                    continue
                (va, na), (vb, nb) = dates[a], dates[b]
                rows = np.flatnonzero(~n_null & ~na & ~nb)
                if len(rows) < SPAN_MIN_ROWS:
                    continue
                probe = rows[:200]  # most pairs fail at once: check a few rows before them all
                if ((vb[probe] - va[probe]) == n_vals[probe]).mean() < SPAN_MIN_SHARE - 0.05:
                    continue
                share = float(((vb[rows] - va[rows]) == n_vals[rows]).mean())
                if share < SPAN_MIN_SHARE:
                    continue
                derived, other = (a, b) if na.sum() > nb.sum() else (b, a)
                if derived in taken:
                    continue
                rank = (share, -int(dates[other][1].sum()), -names.index(other))
                if derived not in best or rank > best[derived][0]:
                    best[derived] = (rank, a, b, share)
        for derived, (_, a, b, share) in best.items():
            taken.add(derived)
            out.append({"column": n_name, "start": a, "end": b, "derived": derived, "share": round(share, 6)})
    return out


def find_durations(
    dates: dict[str, tuple[np.ndarray, np.ndarray]],
    ints: dict[str, tuple[np.ndarray, np.ndarray]],
    skip: set[str] = frozenset(),
) -> list[dict]:
    """[{"column": N, "start": A, "day": fixed day (int64 days), "share", "at_end"}] for integer
    columns N (not in `skip`, never negative) that count days from date A to at most one fixed day:
    A + N <= day in at least DURATION_MIN_SHARE and A + N == day in at least DURATION_MIN_AT_END of
    the >= DURATION_MIN_ROWS rows where N is set (A must be set wherever N is: N is written from it).

    `dates`: name -> (int64 days, null mask); `ints`: name -> (int64 values, null mask), all of one
    length. Of several start dates, the one with the most rows on the day wins, then the one with
    fewer nulls, then column order.
    """
    names = list(dates)
    out = []
    for n_name, (n_vals, n_null) in ints.items():
        set_ = ~n_null
        if n_name in skip or set_.sum() < DURATION_MIN_ROWS or n_vals[set_].min() < 0:
            continue
        best = None
        for a in names:
            a_vals, a_null = dates[a]
            if (set_ & a_null).any():
                continue
            ends = a_vals[set_] + n_vals[set_]
            days, counts = np.unique(ends, return_counts=True)
            k = int(counts.argmax())
            day, at_end = int(days[k]), float(counts[k] / len(ends))
            if at_end < DURATION_MIN_AT_END:
                continue
            share = float((ends <= day).mean())
            if share < DURATION_MIN_SHARE or len(np.unique(n_vals[set_][ends == day])) < DURATION_MIN_COUNTS_AT_END:
                continue
            rank = (at_end, -int(a_null.sum()), -names.index(a))
            if best is None or rank > best[0]:
                best = (rank, a, day, share)
        if best is not None:
            rank, a, day, share = best
            out.append(
                {"column": n_name, "start": a, "day": day, "share": round(share, 6), "at_end": round(rank[0], 6)}
            )
    return out
