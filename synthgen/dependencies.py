"""Columns another column determines: each level of a category has one value of them.

Real tables repeat a lookup beside its key: a country's continent (plotly's gapminder), a plane's
carrier (nycflights' tailnum), a degree's number of school years (Adult's education and
education_num), a make-and-model's origin (vega's cars). Modelled on their own, the two disagree
wherever the model draws a rare key: cars' rare names came with an origin drawn regardless of the
name. The encoder writes the dependent column from its key's level (schema `dependencies`;
encoders/tabular.py), so the lookup holds in every synthetic row where both are set, and draws a
rare key among the rare levels whose lookups give the row's own values (the model drew those with
the rest of the row); the evaluation reports the synthetic share of rows that keep the real lookup
(`fidelity.dependency.<column>`, `fidelity.dependencies` the lowest).

Found from the real rows alone (`find`): a categorical, boolean or integer (at most
MAX_INTEGER_KEY_LEVELS values) key A determines a column B (categorical, boolean, integer or
continuous) when, over the rows where both are set,
- at least MIN_AGREEMENT of the rows carry their A level's most common B value (data-entry slips
  must not hide a lookup that holds elsewhere);
- at least MIN_REPEATS rows repeat an A level already seen (a key seen once per row "determines"
  every column: that is no evidence);
- repeats that agree so well would be a chance below MAX_CHANCE if B were independent of A: a
  level of k rows all sharing one B value has probability sum_b p_b^k, p the B shares over those
  rows (a 98 %-False flag agrees within most small groups by itself).
Keys are tried from the most levels down; a column is a key or a dependent, never both, so a
chain (country -> continent -> hemisphere) is written from its finest key. Numbers written by
another rule (dates' relations, ages, spans, durations, totals) are left to that rule; a number
never below another is a dependent before it is an ordering (schema.infer_schema).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

MIN_AGREEMENT = 0.99
MIN_REPEATS = 20
MAX_CHANCE = 1e-6
SEARCH_ROWS = 20_000  # rows the pair search reads (a found lookup is then built from every row)
SCREEN_ROWS, SCREEN_AGREEMENT = 2_000, 0.95  # a cheap first look: 60 categorical columns, 30k rows: 3.5 s -> 0.5 s
KEY_KINDS = ("categorical", "boolean", "integer")  # an integer key: a score band, a store's number
# An integer key has at most this many values: the encoder's most bins, so the model draws each key
# as itself, with its row (a binned key's draw between real values says nothing about its row:
# Adult's fnlwgt, 18,412 values, "determines" race through its repeated values).
MAX_INTEGER_KEY_LEVELS = 100
VALUE_KINDS = ("categorical", "boolean", "integer", "continuous")
NUMERIC_VALUE_KINDS = ("integer", "continuous")  # read parsed (native), codec or not


def find(columns: list, table: pa.Table, native: dict, not_keys: set[str], not_values: set[str]) -> list[dict]:
    """[{"column": B, "by": A, "levels": [A values], "values": [B values]}] for the real `table`
    (`columns`: its ColumnSchemas; `native`: number columns as the model sees them, parsed where
    they have a codec; `not_keys`, `not_values`: columns another rule writes or ties, which cannot
    be a key or a dependent)."""
    keys = {
        c.name: _series(native.get(c.name, table.column(c.name)), object)
        for c in columns
        if c.name not in not_keys
        and is_key(c.kind, c.n_unique or 0)
        and (c.kind == "integer" or (c.categories and not c.codec))  # a level the encoder lists, as written
    }
    values = {
        c.name: _series(native.get(c.name, table.column(c.name)), None if c.kind in NUMERIC_VALUE_KINDS else object)
        for c in columns
        if c.kind in VALUE_KINDS
        and (c.n_unique or 0) >= 2
        and c.name not in not_values
        and (c.kind in NUMERIC_VALUE_KINDS or not c.codec)
    }
    return search(keys, values)


def is_key(kind: str, n_unique: int) -> bool:
    """Whether a column of this kind and this many values can be a key (schema and evaluation alike)."""
    return kind in KEY_KINDS and n_unique >= 2 and (kind != "integer" or n_unique <= MAX_INTEGER_KEY_LEVELS)


def search(keys: dict[str, pd.Series], values: dict[str, pd.Series]) -> list[dict]:
    """The dependencies among row-aligned columns: `keys` the candidate keys (is_key), `values` the
    candidate dependents (module docstring)."""
    if not keys or not values:
        return []
    columns = {**keys, **values}
    codes = {name: _codes(v.iloc[:SEARCH_ROWS]) for name, v in columns.items()}
    every_row = {}  # a table longer than SEARCH_ROWS: a pair that held on them is checked on all rows

    def all_codes(name: str) -> np.ndarray:
        if name not in every_row:
            every_row[name] = _codes(columns[name])
        return every_row[name]

    found, key_of, is_key = [], {}, set()
    for a in sorted(keys, key=lambda k: -keys[k].nunique()):
        if a in key_of:
            continue
        for b in values:
            if b == a or b in key_of or b in is_key:
                continue
            if (
                _agreement(codes[a][:SCREEN_ROWS], codes[b][:SCREEN_ROWS]) >= SCREEN_AGREEMENT
                and _determines(codes[a], codes[b])
                and (len(keys[a]) <= SEARCH_ROWS or _determines(all_codes(a), all_codes(b)))
            ):
                found.append(_lookup(a, b, keys[a], values[b]))
                key_of[b] = a
                is_key.add(a)
    return found


def scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """The evaluation's view, from the real rows alone (any generator's output is scored alike):
    for each dependency found in the real rows, `fidelity.dependency.<column>` is the synthetic
    share of rows keeping the real lookup (`agreement`), and `fidelity.dependencies` the lowest."""
    from synthgen.evaluate.columns import key_part

    levels = {c: real[c].nunique(dropna=True) for c in kinds if c in real and c in syn}
    keys = {c: real[c].astype(object) for c, n in levels.items() if is_key(kinds[c], n)}
    values = {c: real[c] for c, n in levels.items() if kinds[c] in VALUE_KINDS and n >= 2}
    out = {}
    for dep in search(keys, values):
        got = agreement(dep, syn[dep["by"]], syn[dep["column"]])
        if got is not None:
            out[f"fidelity.dependency.{key_part(dep['column'])}"] = got
    if out:
        out["fidelity.dependencies"] = min(out.values())
    return out


def _series(arr, dtype) -> pd.Series:
    return pd.Series(arr.to_pandas(), dtype=dtype)


def _codes(v: pd.Series) -> np.ndarray:
    """int64 codes of the values, -1 for null."""
    return pd.factorize(v, use_na_sentinel=True)[0].astype(np.int64)


def _levels(a: np.ndarray, b: np.ndarray):
    """(a, b) where both are set, then per A level: its rows and its rows with the level's most common B."""
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    if len(a) < 2:
        return a, b, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    nb = int(b.max()) + 1
    pairs, counts = np.unique(a * nb + b, return_counts=True)
    level = pairs // nb
    starts = np.flatnonzero(np.r_[True, level[1:] != level[:-1]])
    return a, b, np.add.reduceat(counts, starts), np.maximum.reduceat(counts, starts)


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the rows (both set) that carry their A level's most common B."""
    a, _, _, top = _levels(a, b)
    return top.sum() / len(a) if len(a) >= 2 else 0.0


def _determines(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether codes `a` determine codes `b` (-1: null) by the module's three tests."""
    a, b, rows, top = _levels(a, b)
    if len(a) < 2 or top.sum() < MIN_AGREEMENT * len(a) or len(a) - len(rows) < MIN_REPEATS:
        return False
    repeated = rows >= 2
    share = np.bincount(b)[np.unique(b)] / len(b)
    # log10 P(every repeated level's rows agree as they do | B independent of A): sum_b p_b^k per level
    sizes, per_size = np.unique(rows[repeated & (top == rows)], return_counts=True)
    agree = np.maximum((share[None, :] ** sizes[:, None]).sum(axis=1), 1e-300)  # a large level's p^k underflows
    chance = per_size @ np.log10(agree) if len(sizes) else 0.0
    return bool(chance < np.log10(MAX_CHANCE))


def _lookup(a_name: str, b_name: str, a: pd.Series, b: pd.Series) -> dict:
    """The dependency's entry: each A level (with a set B) and its most common B value."""
    both = a.notna() & b.notna()
    frame = pd.DataFrame({"a": a[both].to_numpy(), "b": b[both].to_numpy()})
    top = frame.groupby(["a", "b"], sort=False).size().reset_index(name="n")
    top = top.sort_values("n", ascending=False, kind="stable").drop_duplicates("a")
    return {"column": b_name, "by": a_name, "levels": _plain(top["a"]), "values": _plain(top["b"])}


def _plain(s: pd.Series) -> list:
    """JSON-ready Python values (numpy scalars -> int / float / bool / str)."""
    return [v.item() if isinstance(v, np.generic) else v for v in s.tolist()]


def agreement(dep: dict, a: pd.Series, b: pd.Series) -> float | None:
    """Share of the rows whose B is the lookup's value for their A, over the rows with both set and
    an A level the lookup knows (a real holdout's new car names are not a broken lookup); None: no
    such row."""
    want = a.map(dict(zip(dep["levels"], dep["values"])))
    rows = want.notna() & b.notna()
    if not rows.any():
        return None
    return float((want[rows].to_numpy() == b[rows].to_numpy()).mean())
