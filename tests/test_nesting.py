"""Rare levels drawn within their row's group (synthgen/nesting.py): found from the real rows, applied
when the rare token is decoded, and scored for any generator's rows."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen import nesting
from synthgen.encoders import TabularEncoder
from synthgen.schema import TableSchema, infer_schema


def places(n_cities: int = 700, seed: int = 0) -> pd.DataFrame:
    """An airports-like table: 700 cities in 40 states, each seen 1-4 times (every city sparse), a
    few common names in several states; a 30-level colour and a 300-level code drawn independently."""
    rng = np.random.default_rng(seed)
    states = [f"S{i:02d}" for i in range(40)]
    cities = [(f"city {i:03d}", states[rng.integers(40)]) for i in range(n_cities)]
    cities += [("Springfield", s) for s in states[:8]]  # one name, eight states
    rows = [c for c in cities for _ in range(rng.integers(1, 5))]
    df = pd.DataFrame(rows, columns=["city", "state"])
    df["colour"] = rng.choice([f"colour {i}" for i in range(30)], len(df))
    df["code"] = rng.choice([f"code {i}" for i in range(300)], len(df))
    df["value"] = np.round(rng.normal(size=len(df)), 3)
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def schema_of(df: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pa.Table.from_pandas(df, preserve_index=False)
        return table, infer_schema(table)


KINDS = {"city": "categorical", "state": "categorical", "colour": "categorical", "code": "categorical"}


def test_a_grouping_column_is_found_and_independent_ones_are_not():
    df = places()
    _, schema = schema_of(df)
    assert [(n["column"], n["within"]) for n in schema.nestings] == [("city", "state")]
    pairs = schema.nestings[0]["pairs"]
    # the real (city, state) pairs with their rows
    expected = {(b, a, n) for (b, a), n in df.groupby(["city", "state"]).size().items()}
    assert {tuple(p) for p in pairs} == expected and len(expected) > 600
    # the schema round-trips through JSON, and a schema written before nestings existed loads without them
    again = TableSchema.load_dict(__import__("json").loads(schema.to_json()))
    assert again.nestings == schema.nestings
    raw = __import__("json").loads(schema.to_json())
    raw.pop("nestings")
    assert TableSchema.load_dict(raw).nestings == []


def test_decoded_rare_levels_lie_within_their_rows_group_whatever_the_tokens():
    df = places()
    table, schema = schema_of(df)
    seen = set(zip(df["city"], df["state"]))
    for nested in (True, False):
        if not nested:
            schema.nestings = []
        enc = TabularEncoder.fit(table, schema, n_bins=10)
        tokens = np.stack([np.random.default_rng(3).integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
        out = enc.decode(tokens, np.random.default_rng(4)).to_pandas()
        both = out["city"].notna() & out["state"].notna()
        real_pairs = np.mean([p in seen for p in zip(out["city"][both], out["state"][both])])
        if nested:  # each city is drawn within its row's state (the sparse ones through the rare token)
            assert real_pairs == 1.0
            # drawn by their rows with the state: a city's count follows its real one
            counts = pd.concat([df["city"].value_counts(), out["city"].value_counts()], axis=1).fillna(0)
            assert np.corrcoef(counts.to_numpy().T)[0, 1] > 0.3
        else:
            assert real_pairs < 0.2


def test_scores_read_any_generators_rows_against_the_real_and_holdout_pairs():
    df = places()
    train, holdout = df.iloc[:1200], df.iloc[1200:]
    shuffled = train.assign(state=np.random.default_rng(5).permutation(train["state"].to_numpy()))
    good = nesting.scores(train, train, KINDS, holdout)
    bad = nesting.scores(train, shuffled, KINDS, holdout)
    assert good["fidelity.nesting.city"] == good["fidelity.nestings"] == 1.0
    assert bad["fidelity.nestings"] < 0.2
    assert 0 < good["fidelity.nestings_holdout"] == bad["fidelity.nestings_holdout"] <= 1
    # no grouping in the real rows: nothing to score
    independent = train.assign(state=np.random.default_rng(6).permutation(train["state"].to_numpy()))
    assert nesting.scores(independent, train, KINDS) == {}


def test_frequent_levels_drawn_beside_the_wrong_group_are_drawn_again_within_it():
    """COMPAS' violent charge (76 levels, each with a token of its own) within its degree: the model
    put `Agg Battery Grt/Bod/Harm` beside a third-degree felony in 27 % of its violent charges. A
    row whose (B, A) pair the real rows never show draws B among the levels seen with its A."""
    rng = np.random.default_rng(8)
    degree_of = {f"charge {i:02d}": ["F1", "F2", "F3", "M1"][i % 4] for i in range(24)}
    charge = rng.choice(sorted(degree_of), 3000)
    df = pd.DataFrame({"charge": charge, "degree": [degree_of[c] for c in charge]})
    df.loc[rng.random(3000) < 0.02, "degree"] = "M2"  # a few slips: a nesting, not a lookup
    df["value"] = rng.normal(size=3000).round(3)
    table, schema = schema_of(df)
    assert [(n["column"], n["within"]) for n in schema.nestings] == [("charge", "degree")]
    enc = TabularEncoder.fit(table, schema, n_bins=10)
    assert enc.codecs["charge"].n_rare == 0  # every level its own token
    seen = set(zip(df["charge"], df["degree"]))
    tokens = np.stack([np.random.default_rng(9).integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(10)).to_pandas()
    both = out["charge"].notna() & out["degree"].notna()
    assert np.mean([p in seen for p in zip(out["charge"][both], out["degree"][both])]) == 1.0
    schema.nestings = []
    plain = TabularEncoder.fit(table, schema, n_bins=10).decode(tokens, np.random.default_rng(10)).to_pandas()
    both = plain["charge"].notna() & plain["degree"].notna()
    assert np.mean([p in seen for p in zip(plain["charge"][both], plain["degree"][both])]) < 0.5
    assert out["degree"].equals(plain["degree"])  # the group stays as drawn: B moves into it
    assert "charge" in enc.rewritten  # its token no longer says its value: the copy guard leaves it out


def test_a_schema_with_its_rare_levels_pairs_only_keeps_the_rare_draw_alone():
    """A model trained before every pair was stored knows the rare levels' pairs only: its frequent
    levels are not taken for unseen pairs (they would all be drawn again among the rare ones)."""
    df = places()
    table, schema = schema_of(df)
    per_city = df["city"].value_counts()
    nest = schema.nestings[0]
    nest["pairs"] = [p for p in nest["pairs"] if per_city[p[0]] < 20]
    nest.pop("every_pair")
    enc = TabularEncoder.fit(table, schema, n_bins=10)
    kept = enc.codecs["city"].n_kept
    assert kept >= 1  # Springfield, in eight states, has a token of its own
    tokens = np.stack([np.random.default_rng(3).integers(0, k, 4000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(4)).to_pandas()
    levels = schema.column("city").categories
    frequent = set(levels[:kept])
    drawn = out["city"].isin(frequent).sum()
    expected = sum(
        1 for t in tokens[:, enc.layout.columns.index("city")] if 0 <= t - int(enc.codecs["city"].has_null) < kept
    )
    assert drawn == expected  # every frequent level drawn stays
