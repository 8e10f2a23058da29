"""Products: a number column that is the product of two others in the real rows (an order line's
amount over its quantity and unit price, a modelling table's interaction terms) is found, written
from its factors in every synthetic row, and scored."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthgen.errors import SynthgenError
from synthgen.evaluate.orderings import product_scores
from synthgen.evaluate.validity import validity_metrics
from synthgen.products import find_products
from tests.rule_helpers import decoded_random_tokens, schema_and_encoder


def order_lines(n: int, seed: int = 0) -> pd.DataFrame:
    """Quantities, unit prices in cents, the line amount (their product, 2 decimals), a discount
    rate with the discounted amount (a product of a product), and an unrelated weight; a tenth of
    the prices missing, their amounts too."""
    rng = np.random.default_rng(seed)
    qty = rng.integers(1, 30, n)
    price = np.round(rng.uniform(0.5, 200, n), 2)
    amount = np.round(qty * price, 2)
    keep = np.round(rng.choice([0.8, 0.9, 0.95, 1.0], n), 2)
    missing = rng.random(n) < 0.1
    df = pd.DataFrame(
        {
            "qty": qty,
            "price": np.where(missing, np.nan, price),
            "amount": np.where(missing, np.nan, amount),
            "keep": keep,
            "weight": np.round(rng.gamma(2.0, 3.0, n), 3),
        }
    )
    df["paid"] = np.round(df["amount"] * df["keep"], 4)
    return df


def test_products_are_found_inner_first_and_unrelated_or_trivial_columns_are_not():
    df = order_lines(600)
    found = find_products({c: df[c].to_numpy(np.float64) for c in df})
    assert found == [
        {"column": "amount", "factors": ["qty", "price"]},
        {"column": "paid", "factors": ["amount", "keep"]},
    ]
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=600), rng.normal(size=600)
    assert find_products({"a": a, "b": b, "c": a * b + rng.normal(0, 0.1, 600)}) == []  # not within rounding
    ones = np.where(rng.random(600) < 0.99, 1.0, 2.0)  # a factor of 1 gives the other factor by itself
    assert find_products({"x": a, "one": ones, "y": a * ones}) == []


def test_the_encoder_writes_each_product_from_its_factors():
    df = order_lines(800)
    s, enc = schema_and_encoder(df)
    found = [(p["column"], p["factors"]) for p in s.products]
    assert found == [("amount", ["qty", "price"]), ("paid", ["amount", "keep"])]
    assert not {o["column"] for o in s.orders} & {"amount", "paid"}
    assert {"amount", "paid"} <= enc.derived
    syn = decoded_random_tokens(enc, 5000, seed=2)
    both = syn["price"].notna() & syn["amount"].notna()  # nulls: each column's own token's
    assert both.mean() > 0.75
    assert np.allclose(syn["amount"][both], np.round(syn["qty"][both] * syn["price"][both], 2), atol=1e-9)
    ok = syn["amount"].notna() & syn["paid"].notna()
    assert np.allclose(syn["paid"][ok], np.round(syn["amount"][ok] * syn["keep"][ok], 4), atol=1e-9)
    assert product_scores(df, syn, s.kinds())["fidelity.products"] == 1.0
    # random tokens pair a quantity of 1 with the lowest prices: products below any real amount,
    # which are not out of the column's domain where they equal their factors'
    assert (syn["amount"] < df["amount"].min()).any()
    assert validity_metrics(df, syn, s.kinds())["validity.out_of_domain"] == 0
    with pytest.raises(SynthgenError, match="written as 'qty' x 'price'"):
        enc.condition_tokens({"amount": 12.5})


def test_the_score_sees_products_drawn_apart_from_their_factors():
    df = order_lines(600)
    kinds = {c: "continuous" for c in df} | {"qty": "integer"}
    assert product_scores(df, df, kinds)["fidelity.products"] == 1.0
    shuffled = df.assign(price=df["price"].sample(frac=1, random_state=0).to_numpy())
    assert product_scores(df, shuffled, kinds)["fidelity.product.amount"] < 0.05
