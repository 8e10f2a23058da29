"""The column that tells a person's sex, so that the fake first names agree with it.

A table of people often holds a first (or full) name and a gender, sex or salutation column
(Male / Female, M / F, Mr / Mrs, a boolean is_female). The names are never modelled: every row
gets a fake person (synthgen/pii.py), and drawn from all first names alike, "Julie" lands on rows
marked male as often as on those marked female (vega's la-riots, 63 rows: 3 of the first 6
synthetic rows disagreed). Such a column is found from the real rows, not from its header, so
any coding and language is found: per level of each categorical or boolean column with at most
MAX_LEVELS levels, the rows whose first name Faker lists only as a male name (any locale) or only
as a female one (at least MIN_TOTAL such rows in the table). A level is male (female) where at
least LEVEL_AGREEMENT of its at least MIN_NAMED such rows are; the column counts with a male and a
female level and an overall agreement (rows of the sexed levels that fit, over all rows with a
sexed name) of at least LEVEL_AGREEMENT, which a column unrelated to the names does not reach.
Of several, the most agreeing one is kept.

schema.json keeps {"column", "names", "male": [levels], "female": [levels], "agreement"}: the
levels are category values the model sees anyway, no name is stored. The decoder then draws each
row's first name from Faker's male or female list by the row's level (pii.fake_people).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MAX_LEVELS = 8  # levels of a candidate column (male, female, unknown, other, ...)
MIN_NAMED = 3  # rows with a sexed first name a level needs to be called male or female
MIN_TOTAL = 20  # rows with a sexed first name the table needs: fewer, and chance agrees too easily
LEVEL_AGREEMENT = 0.8  # share of a level's sexed names of one sex; also the column's overall share
MAX_ROWS = 100_000  # rows looked at (the first ones)


def first_names(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A first- or full-name column's first words ("Cesar A." -> "cesar"), lowercase."""
    s = pc.utf8_lower(pc.utf8_trim_whitespace(values.cast(pa.large_string())))
    return pc.utf8_rtrim(pc.list_element(pc.split_pattern(s, " ", max_splits=1), 0), characters=".,")


def find(columns: list, table: pa.Table) -> dict | None:
    """The sex column of `table` for its first- or full-name column (`columns`: the inferred
    ColumnSchemas), or None where there is no name column or no column agrees with the names."""
    names = next((c for c in columns if c.kind == "pii" and c.pii in ("first_name", "full_name")), None)
    levels = [
        c.name
        for c in columns
        if c.kind in ("categorical", "boolean") and c.categories and 2 <= len(c.categories) <= MAX_LEVELS
    ]
    if names is None or not levels:
        return None
    table = table.slice(0, MAX_ROWS)
    found = detect(table.column(names.name), {c: table.column(c).to_pandas() for c in levels})
    return {**found, "names": names.name} if found else None


def name_sexes(values) -> np.ndarray:
    """Per value of a name column (Arrow or pandas), 1 where its first word is only ever a male
    first name, 2 only ever a female one, else 0."""
    from synthgen.pii import sexed_first_names

    if not isinstance(values, pa.ChunkedArray):
        values = pa.chunked_array([pa.array(values, type=pa.large_string(), from_pandas=True)])
    first = first_names(values)
    male_only, female_only = sexed_first_names()
    male = pc.fill_null(pc.is_in(first, value_set=male_only), False).to_numpy(zero_copy_only=False)
    female = pc.fill_null(pc.is_in(first, value_set=female_only), False).to_numpy(zero_copy_only=False)
    return np.where(male, 1, np.where(female, 2, 0)).astype(np.int8)


def detect(names, candidates: dict[str, pd.Series]) -> dict | None:
    """{"column", "male", "female", "agreement"} for the candidate column (name -> values, row-aligned
    with the name column `names`) that agrees best with the names' sexes, or None."""
    sexes = name_sexes(names)
    if (sexes > 0).sum() < MIN_TOTAL:
        return None
    best = None
    for name, values in candidates.items():
        found = _levels(values, sexes)
        if found and (best is None or found["agreement"] > best["agreement"]):
            best = {"column": name, **found}
    return best


def _levels(values: pd.Series, sexes: np.ndarray) -> dict | None:
    frame = pd.DataFrame({"v": np.asarray(values, dtype=object), "m": sexes == 1, "f": sexes == 2})
    counts = frame.groupby("v", dropna=True)[["m", "f"]].sum()
    sexed, fit = {"male": [], "female": []}, 0
    for level, (m, f) in counts.iterrows():
        named = m + f
        if named < MIN_NAMED:
            continue
        if m >= LEVEL_AGREEMENT * named:
            sexed["male"].append(_plain(level))
            fit += m
        elif f >= LEVEL_AGREEMENT * named:
            sexed["female"].append(_plain(level))
            fit += f
    total = int((sexes > 0).sum())
    if not sexed["male"] or not sexed["female"] or fit < LEVEL_AGREEMENT * total:
        return None
    return {**sexed, "agreement": round(float(fit / total), 4)}


def _plain(v):
    """A level as schema.json stores categories (numpy scalars as Python ones)."""
    return v.item() if isinstance(v, np.generic) else v


def agreement(spec: dict, names, levels) -> float | None:
    """Share of rows with a sexed first name and a sexed level (by `spec`) whose two agree; None
    where no row has both. `names`, `levels`: row-aligned values (a synthetic table's columns)."""
    sexes, level = name_sexes(names), level_sexes(spec, levels)
    both = (sexes > 0) & (level > 0)
    return float((sexes[both] == level[both]).mean()) if both.any() else None


def level_sexes(spec: dict, levels) -> np.ndarray:
    """Per value of the sex column: 1 where `spec` reads it as male, 2 as female, else 0."""
    levels = pd.Series(np.asarray(levels, dtype=object))
    return np.where(levels.isin(spec["male"]), 1, np.where(levels.isin(spec["female"]), 2, 0)).astype(np.int8)


def row_sexes(spec: dict, categories: list, idx: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Per synthetic row, 1 (male), 2 (female) or 0 (either), from the sex column's decoded
    category indices `idx` and nulls (CategoryCodec.decode)."""
    code = level_sexes(spec, categories)  # one lookup per level, not per row
    return np.where(null, 0, code[idx]).astype(np.int8)


def scores(real: pd.DataFrame, syn: pd.DataFrame, kinds: dict[str, str]) -> dict[str, float]:
    """The evaluation's view, from the real rows alone (any generator's output is scored alike):
    for each pii column whose first names agree with a categorical or boolean column (detect),
    `fidelity.name_sex.<column>` is the synthetic rows' agreement (1 is ideal; first names drawn
    without regard to the column agree about half the time), `fidelity.name_sex` the lowest of
    them and `fidelity.name_sex_real` the real rows' own lowest."""
    from synthgen.evaluate.columns import key_part

    levels = [c for c, k in kinds.items() if k in ("categorical", "boolean") and c in syn]
    levels = [c for c in levels if 2 <= real[c].nunique(dropna=True) <= MAX_LEVELS]
    out, own = {}, []
    for col in (c for c, k in kinds.items() if k == "pii" and c in syn) if levels else ():
        spec = detect(real[col].head(MAX_ROWS), {c: real[c].head(MAX_ROWS) for c in levels})
        got = agreement(spec, syn[col], syn[spec["column"]]) if spec else None
        if got is not None:
            out[f"fidelity.name_sex.{key_part(col)}"] = got
            own.append(agreement(spec, real[col], real[spec["column"]]))
    if out:
        out["fidelity.name_sex"] = min(out.values())
        out["fidelity.name_sex_real"] = min(own)
    return out
