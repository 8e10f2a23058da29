"""Columns a categorical key determines (synthgen/dependencies.py): found from the real rows, written
from the key's level in every decoded row, and scored for any generator's rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen import dependencies
from synthgen.encoders import TabularEncoder
from synthgen.schema import infer_schema

CONTINENTS = ["Africa", "Americas", "Asia", "Europe", "Oceania"]
HEMISPHERE = {"Africa": "S", "Americas": "W", "Asia": "N", "Europe": "N", "Oceania": "S"}


def countries(n_countries: int = 60, years: int = 8, seed: int = 0) -> pd.DataFrame:
    """A gapminder-like panel: each country has one continent, hemisphere and area; the rest vary."""
    rng = np.random.default_rng(seed)
    names = [f"country {i:02d}" for i in range(n_countries)]
    continent = dict(zip(names, rng.choice(CONTINENTS, n_countries)))
    area = dict(zip(names, np.round(rng.lognormal(12, 1, n_countries), 1)))
    rows = [(c, y) for c in names for y in range(years)]
    df = pd.DataFrame(rows, columns=["country", "year"])
    df["continent"] = df["country"].map(continent)
    df["hemisphere"] = df["continent"].map(HEMISPHERE)
    df["area"] = df["country"].map(area)
    df["life"] = np.round(rng.normal(60, 10, len(df)), 1)
    df["flag"] = rng.random(len(df)) < 0.02  # 98 % False: agrees within most small groups by itself
    df["row"] = [f"r{i}" for i in range(len(df))]  # one level per row: no evidence of anything
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def schema_of(df: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pa.Table.from_pandas(df, preserve_index=False)
        return table, infer_schema(table, {"row": "categorical"} if "row" in df else {})


def found(schema) -> set[tuple[str, str]]:
    return {(d["by"], d["column"]) for d in schema.dependencies}


def test_lookups_are_found_from_the_finest_key_and_chance_agreement_is_not():
    _, schema = schema_of(countries())
    # the chain country -> continent -> hemisphere is written from country; a 98 %-False flag and
    # a key seen once per row determine nothing
    assert found(schema) == {("country", "continent"), ("country", "hemisphere"), ("country", "area")}
    area = next(d for d in schema.dependencies if d["column"] == "area")
    assert len(area["levels"]) == 60 and all(isinstance(v, float) for v in area["values"])


def test_every_decoded_row_keeps_the_lookup_whatever_the_tokens():
    df = countries()
    table, schema = schema_of(df)
    enc = TabularEncoder.fit(table, schema, n_bins=10)
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(4)).to_pandas()
    for dep in schema.dependencies:
        assert dependencies.agreement(dep, out[dep["by"]], out[dep["column"]]) == 1.0
    # random tokens otherwise: the other columns are not tied to country
    assert (
        dependencies.agreement(
            {"by": "country", "levels": list(df["country"]), "values": list(df["life"])}, out["country"], out["life"]
        )
        < 0.1
    )


def test_slips_are_tolerated_and_written_as_the_rule():
    df = countries(years=20)
    slips = df.index[:3]  # 3 of 1,200 rows (0.25 %) carry another continent
    df.loc[slips, "continent"] = [CONTINENTS[(CONTINENTS.index(c) + 1) % 5] for c in df.loc[slips, "continent"]]
    table, schema = schema_of(df)
    dep = next(d for d in schema.dependencies if d["column"] == "continent")
    assert dependencies.agreement(dep, df["country"], df["continent"]) == 1 - 3 / len(df)
    out = TabularEncoder.fit(table, schema, n_bins=10)
    tokens = out.encode(table)
    decoded = out.decode(tokens, np.random.default_rng(1)).to_pandas()
    assert dependencies.agreement(dep, decoded["country"], decoded["continent"]) == 1.0


def test_many_slips_or_too_few_repeats_are_no_lookup():
    df = countries()
    noisy = df.copy()
    noisy.loc[noisy.index[:20], "continent"] = "Antarctica"  # 4 % of the rows
    assert ("country", "continent") not in found(schema_of(noisy)[1])
    few = countries(n_countries=30, years=1)  # every country once: a key seen once per row is none
    assert found(schema_of(few)[1]) == {("continent", "hemisphere")}  # 5 levels over 30 rows still are


def test_the_evaluation_scores_any_generators_rows_from_the_real_rows():
    real = countries()
    kinds = {
        "country": "categorical",
        "continent": "categorical",
        "hemisphere": "categorical",
        "area": "continuous",
        "life": "continuous",
        "year": "integer",
        "flag": "boolean",
        "row": "categorical",
    }
    same = dependencies.scores(real, real.sample(frac=1.0, random_state=1), kinds)
    assert same["fidelity.dependencies"] == 1.0 and set(same) == {
        "fidelity.dependency.continent",
        "fidelity.dependency.hemisphere",
        "fidelity.dependency.area",
        "fidelity.dependencies",
    }
    shuffled = real.copy()
    shuffled["continent"] = np.random.default_rng(2).permutation(shuffled["continent"].to_numpy())
    got = dependencies.scores(real, shuffled, kinds)
    assert got["fidelity.dependency.continent"] < 0.4 and got["fidelity.dependencies"] < 0.4
    assert got["fidelity.dependency.area"] == 1.0


def test_a_rare_key_is_drawn_among_the_levels_that_agree_with_its_row():
    """vega's cars: most make-and-model names are rare levels, drawn regardless of the row; writing
    the origin from such a name put Japanese names on rows of 8-cylinder American cars. The rare
    draw now picks among the names whose origin is the row's."""
    rng = np.random.default_rng(5)
    origins = rng.choice(["usa", "japan", "europe"], 200, p=[0.6, 0.2, 0.2])
    names = [f"model {i}" for i in range(200)]
    reps = np.where(np.arange(200) < 150, 2, 1)  # 350 rows: every name a rare level (sparse column)
    df = pd.DataFrame({"name": np.repeat(names, reps), "origin": np.repeat(origins, reps)})
    usa, other = rng.choice([8, 6], len(df), p=[0.9, 0.1]), rng.choice([4, 6], len(df), p=[0.9, 0.1])
    df["cylinders"] = np.where(df["origin"] == "usa", usa, other)  # follows the origin, not the name
    table, schema = schema_of(df)
    assert found(schema) == {("name", "origin")}
    enc = TabularEncoder.fit(table, schema, n_bins=10)
    assert enc.codecs["name"].n_kept <= 1  # the rows' names come from the rare token
    out = enc.decode(enc.encode(table), np.random.default_rng(2)).to_pandas()
    dep = schema.dependencies[0]
    assert dependencies.agreement(dep, out["name"], out["origin"]) == 1.0
    assert (out["origin"] == df["origin"]).mean() > 0.99  # the model's origin kept: the name follows it
    assert (out["cylinders"] == df["cylinders"]).all()  # the row's other columns as the model drew them
    assert (out["name"] != df["name"]).mean() > 0.5  # still a fresh draw among them


def test_an_integer_key_with_few_values_is_a_key_and_a_many_valued_one_is_not():
    """COMPAS' decile_score (1-10) gives score_text (Low 1-4, Medium 5-7, High 8-10) (its copy
    decile_score.1 is a conversion); a weight of thousands of values whose repeats share a group is no key."""
    rng = np.random.default_rng(6)
    n = 2000
    decile = rng.integers(1, 11, n)
    weight = rng.integers(10_000, 13_000, n)  # ~1,900 values; repeats share the group below
    df = pd.DataFrame(
        {
            "decile_score": decile,
            "score_text": np.where(decile <= 4, "Low", np.where(decile <= 7, "Medium", "High")),
            "decile_score.1": decile,
            "weight": weight,
            "group": np.where(weight % 2 == 0, "even", "odd"),
            "age": rng.integers(18, 70, n),
        }
    )
    table, schema = schema_of(df)
    assert found(schema) == {("decile_score", "score_text")}
    # the copy is a conversion (synthgen/conversions.py: the identity), written from its key likewise
    assert [(cv["column"], cv["from"], cv["slope"], cv["intercept"]) for cv in schema.conversions] == [
        ("decile_score.1", "decile_score", 1.0, 0.0)
    ]
    enc = TabularEncoder.fit(table, schema, n_bins=20)
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(4)).to_pandas()
    for dep in schema.dependencies:
        assert dependencies.agreement(dep, out[dep["by"]], out[dep["column"]]) == 1.0
    assert (out["decile_score.1"] == out["decile_score"]).all()
    kinds = {
        "decile_score": "integer",
        "score_text": "categorical",
        "decile_score.1": "integer",
        "weight": "integer",
        "group": "categorical",
        "age": "integer",
    }
    assert set(dependencies.scores(df, out, kinds)) == {
        "fidelity.dependency.score_text",
        "fidelity.dependency.decile_score_1",
        "fidelity.dependencies",
    }


def test_a_code_its_key_determines_is_a_lookup_not_an_ordering():
    """lifelines' democracy-dictatorship table: each country has a country code (cowcode2) and a
    polity code, the first never below the second. Taken as an ordering, the code was drawn as a
    number and raised above the polity code: Pakistan (770) came back as 778. The key wins."""
    rng = np.random.default_rng(8)
    n_countries = 150  # the code has more values than an integer key may (it is no key itself)
    code = rng.choice(np.arange(2, 1000), n_countries, replace=False)
    polity = np.where(rng.random(n_countries) < 0.1, code - 5, code)  # a few differ, never upward
    country = np.repeat([f"country {i:03d}" for i in range(n_countries)], 8)
    df = pd.DataFrame(
        {
            "country": country,
            "code": np.repeat(code, 8),
            "polity": np.repeat(polity, 8),
            "years": rng.integers(1, 40, len(country)),
        }
    )
    table, schema = schema_of(df)
    assert found(schema) == {("country", "code"), ("country", "polity")}
    assert all(o["column"] != "code" for o in schema.orders)
    enc = TabularEncoder.fit(table, schema, n_bins=10)
    tokens = np.stack([np.random.default_rng(9).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(10)).to_pandas()
    real = dict(zip(df["country"], df["code"]))
    assert (out["code"] == out["country"].map(real)).all()


def test_a_whole_number_key_gets_a_token_per_value_under_few_bins():
    """lifelines' waltons: the day of death T (32 values) tells the group of flies; a small table
    gets 10 bins, so T was binned, its lookup not applied, and the group kept in 89 % of rows."""
    rng = np.random.default_rng(11)
    days = rng.choice(np.arange(5, 90), 32, replace=False)
    group = dict(zip(days, rng.choice(["miR-137", "control"], 32)))
    t = rng.choice(days, 400)
    df = pd.DataFrame({"T": t, "E": rng.integers(0, 2, 400), "group": [group[x] for x in t]})
    table, schema = schema_of(df)
    assert found(schema) == {("T", "group")}
    enc = TabularEncoder.fit(table, schema, n_bins=10)
    assert enc.codecs["T"].n_bins == 0  # every value its own token
    tokens = np.stack([np.random.default_rng(12).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(13)).to_pandas()
    assert dependencies.agreement(schema.dependencies[0], out["T"], out["group"]) == 1.0
