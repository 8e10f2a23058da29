"""Conversions (synthgen/conversions.py): a number column that is a monotone function of another is
found in the real rows, kept as a formula or a table, written from its key in every decoded row, and
scored by the evaluation; related columns that are no function are left alone."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen.conversions import convert, describe_conversion, find_conversions
from synthgen.encoders import TabularEncoder
from synthgen.evaluate.orderings import conversion_scores
from synthgen.schema import TableSchema, infer_schema


def units_table(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    celsius = rng.normal(15, 8, n).round(1)
    price = rng.lognormal(4, 1, n).round(2)
    popul = rng.integers(0, 300, n).astype(float)
    minutes = rng.integers(1, 500, n)
    side = rng.integers(1, 400, n)
    df = pd.DataFrame(
        {
            "celsius": celsius,
            "fahrenheit": (celsius * 9 / 5 + 32).round(1),
            "price": price,
            "price_eur": (price * 0.92).round(2),
            "popul": popul,
            "logpopul": np.log(popul + 0.1).round(6),  # statsmodels' anes96 writes it so
            "seconds": minutes * 60,
            "minutes": minutes,
            "side": side,
            "root": np.sqrt(side).round(3),  # no formula: a table of its 399 points
            "height": (h := rng.normal(170, 10, n).round(1)),
            "weight": (h - 100 + rng.normal(0, 8, n)).round(1),  # related, no function
        }
    )
    df.loc[rng.random(n) < 0.05, "price"] = np.nan  # B keeps its own draw where A is missing
    return df


def schema_of(df: pd.DataFrame) -> tuple[pa.Table, TableSchema]:
    table = pa.Table.from_pandas(df, preserve_index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return table, infer_schema(table)


def test_conversions_are_found_as_formulas_or_a_table_from_the_finest_key():
    _, schema = schema_of(units_table())
    found = {cv["column"]: cv for cv in schema.conversions}
    assert {b: cv["from"] for b, cv in found.items()} == {
        "fahrenheit": "celsius",
        "price_eur": "price",
        "logpopul": "popul",
        "seconds": "minutes",  # equal counts: the narrower key, so seconds stay whole minutes
        "side": "root",  # both ways a table: the narrower key
    }
    assert (found["fahrenheit"]["kind"], found["fahrenheit"]["slope"], found["fahrenheit"]["intercept"]) == (
        "affine",
        1.8,
        32.0,
    )
    assert (found["price_eur"]["slope"], found["price_eur"]["intercept"]) == (0.92, 0.0)
    log = found["logpopul"]
    assert (log["kind"], log["shift"], log["slope"], log["intercept"]) == ("log", 0.1, 1.0, 0.0)
    assert found["side"]["kind"] == "table" and len(found["side"]["x"]) == units_table()["side"].nunique()
    said = {b: describe_conversion(cv) for b, cv in found.items()}  # the prepare stage's log lines
    assert said["fahrenheit"].startswith("'fahrenheit' is written from 'celsius' as 1.8 x celsius + 32,")
    assert "1 x log(popul + 0.1) + 0" in said["logpopul"] and "monotone function of root" in said["side"]
    df = units_table()
    assert (convert(found["side"], df["root"].to_numpy()) == df["side"]).all()
    between = convert(found["side"], np.array([(df["root"].min() + df["root"].max()) / 2]))[0]
    assert df["side"].min() < between < df["side"].max()
    assert not {"height", "weight"} & set(found)


def test_every_decoded_row_keeps_its_conversion_and_the_evaluation_scores_it():
    df = units_table()
    table, schema = schema_of(df)
    enc = TabularEncoder.fit(table, schema, n_bins=20)
    assert {cv["column"] for cv in schema.conversions} <= enc.derived
    tokens = np.stack([np.random.default_rng(1).integers(0, k, 3000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(2)).to_pandas()
    both = out["price"].notna() & out["price_eur"].notna()
    assert (np.abs(out["fahrenheit"] - (out["celsius"] * 1.8 + 32)) < 0.05 + 1e-9).all()
    assert (np.abs(out["price_eur"][both] - out["price"][both] * 0.92) <= 0.005 + 1e-9).all()
    assert (out["minutes"] * 60 == out["seconds"]).all()
    assert (np.abs(out["logpopul"] - np.log(out["popul"] + 0.1)) <= 5e-7 + 1e-9).all()
    assert out["price_eur"][out["price"].isna()].notna().any()  # its own draw where the key is missing
    kinds = schema.kinds()
    scores = conversion_scores(df, out, kinds)
    assert scores["fidelity.conversions"] == 1.0
    converted = ("fahrenheit", "price_eur", "logpopul", "seconds", "side")
    assert set(scores) == {f"fidelity.conversion.{b}" for b in converted} | {"fidelity.conversions"}
    broken = out.assign(fahrenheit=out["fahrenheit"].sample(frac=1, random_state=0).to_numpy())
    assert conversion_scores(df, broken, kinds)["fidelity.conversion.fahrenheit"] < 0.1


def test_conversions_survive_the_schema_file_and_old_schemas_have_none(tmp_path):
    _, schema = schema_of(units_table(400))
    schema.save(tmp_path / "schema.json")
    again = TableSchema.load(tmp_path / "schema.json")
    assert again.conversions == schema.conversions and again.conversions
    raw = schema.to_json()
    import json

    old = json.loads(raw)
    old.pop("conversions")
    assert TableSchema.load_dict(old).conversions == []


def test_a_relation_with_slips_beyond_one_percent_or_too_few_key_values_is_no_conversion():
    rng = np.random.default_rng(3)
    n = 1000
    a = rng.uniform(0, 100, n).round(2)
    b = (a * 2.5).round(2)
    slipped = b.copy()
    slipped[:30] = rng.uniform(0, 250, 30).round(2)  # 3 % of the rows
    few = rng.integers(0, 5, n).astype(float)  # 5 values: a lookup's business
    found = find_conversions({"a": a, "slipped": slipped, "few": few, "few_twice": few * 2})
    assert found == []
    kept = b.copy()
    kept[:5] = rng.uniform(0, 250, 5).round(2)  # 0.5 %: data-entry slips do not hide it
    (cv,) = find_conversions({"a": a, "kept": kept})  # the key: the column with more values (the slips')
    assert (cv["column"], cv["from"], cv["kind"], cv["slope"]) == ("a", "kept", "affine", 0.4)
