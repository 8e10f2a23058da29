"""Totals (synthgen/sums.py): a column that is the sum of others in the real rows is found (integer
votes, 2-decimal money, a subtotal beside a total), written as the sum of its synthetic parts, and
scored by the evaluation from the real rows alone; near-sums and unrelated columns are not totals."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa

from synthgen.encoders import TabularEncoder
from synthgen.evaluate.orderings import total_scores
from synthgen.schema import infer_schema
from synthgen.sums import find_sums

N = 300


def ballots(seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    a, b, c = (rng.integers(200, 5000, N) for _ in range(3))
    net = rng.uniform(5, 500, N).round(2)
    tax = (net * rng.choice([0.07, 0.19], N)).round(2)
    return pa.table(
        {
            "a": a,
            "b": b,
            "ab": a + b,  # a subtotal, itself a part of the total
            "c": c,
            "total": a + b + c,
            "net": net,
            "tax": tax,
            "gross": (net + tax).round(2),
            "noisy": a + b + rng.integers(-3, 4, N),  # near a + b, not equal
            "other": rng.normal(100, 10, N).round(1),
        }
    )


def as_values(t: pa.Table) -> dict:
    return {c: t.column(c).to_numpy().astype(np.float64) for c in t.column_names}


def test_totals_are_found_with_their_finest_parts():
    found = find_sums(as_values(ballots()))
    assert found == [  # total = ab + c too; the largest set of parts is kept
        {"column": "ab", "parts": ["a", "b"]},
        {"column": "total", "parts": ["a", "b", "c"]},
        {"column": "gross", "parts": ["net", "tax"]},
    ]


def test_near_sums_and_unrelated_columns_are_not_totals():
    values = as_values(ballots())
    rng = np.random.default_rng(3)
    assert find_sums({k: values[k] for k in ("a", "b", "noisy", "other")}) == []
    shuffled = {k: rng.permutation(values[k]) for k in ("a", "b", "c", "total")}
    assert find_sums(shuffled) == []


def test_a_total_with_a_slip_in_one_row_of_a_hundred_still_counts_and_nulls_do_not_hide_it():
    values = as_values(ballots())
    values["total"][5] += 1  # a data-entry slip: 1 row of 300
    values["c"][7] = np.nan
    assert {"column": "total", "parts": ["a", "b", "c"]} in find_sums(values)


def test_decoded_totals_equal_their_decoded_parts():
    table = ballots()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(table)
        enc = TabularEncoder.fit(table, schema, n_bins=20)
    assert [s["column"] for s in schema.sums] == ["ab", "total", "gross"]
    rng = np.random.default_rng(1)
    tokens = np.stack([rng.integers(0, k, 5000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(2))
    assert out.schema == table.schema
    v = {c: out.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in out.column_names}
    assert np.array_equal(v["ab"], v["a"] + v["b"]) and np.array_equal(v["total"], v["ab"] + v["c"])
    assert np.abs(v["gross"] - (v["net"] + v["tax"])).max() < 0.005 + 1e-9
    assert total_scores(out.to_pandas(), out.to_pandas(), {c: "continuous" for c in out.column_names}) != {}


def test_the_evaluation_scores_totals_from_the_real_rows():
    real = ballots().to_pandas()
    kinds = {c: "integer" for c in real} | {c: "continuous" for c in ("net", "tax", "gross", "other")}
    rng = np.random.default_rng(4)
    careless = real.assign(total=rng.permutation(real["total"].to_numpy()), gross=real["gross"] + 0.01)
    assert total_scores(real, real, kinds) == {
        "fidelity.sum.ab": 1.0,
        "fidelity.sum.total": 1.0,
        "fidelity.sum.gross": 1.0,
        "fidelity.sums": 1.0,
    }
    got = total_scores(real, careless, kinds)
    assert got["fidelity.sum.total"] < 0.05 and got["fidelity.sum.gross"] == 0.0 and got["fidelity.sums"] == 0.0


def test_a_total_above_the_real_maximum_that_adds_up_is_valid():
    from synthgen.evaluate.validity import validity_metrics

    real = ballots().to_pandas()
    kinds = {c: "integer" for c in real} | {c: "continuous" for c in ("net", "tax", "gross", "other")}
    high = real.copy()
    high.loc[0, ["a", "b", "c"]] = real[["a", "b", "c"]].max().to_numpy()
    high.loc[0, "ab"], high.loc[0, "total"] = high.loc[0, "a"] + high.loc[0, "b"], high.loc[0, ["a", "b", "c"]].sum()
    assert high.loc[0, "total"] > real["total"].max()
    assert validity_metrics(real, high, kinds)["validity.out_of_domain"] == 0
    high.loc[1, "total"] = real["total"].max() + 1  # above the maximum and not its parts' sum
    assert validity_metrics(real, high, kinds)["validity.out_of_domain"] == 1


def employment(seed: int = 0) -> dict:
    """A statistics office's table: 14 sector counts, two subtotals and a grand total beside them,
    and 6 unrelated counts below the total (more candidates than the subsets can be listed for)."""
    rng = np.random.default_rng(seed)
    sectors = {f"sector_{i:02d}": rng.integers(100, 9000, N).astype(np.float64) for i in range(14)}
    goods = sum(sectors[f"sector_{i:02d}"] for i in range(4))
    services = sum(sectors[f"sector_{i:02d}"] for i in range(4, 14))
    other = {f"other_{i}": rng.integers(100, 9000, N).astype(np.float64) for i in range(6)}
    return {**sectors, "goods": goods, "services": services, "total": goods + services, **other}


def test_a_total_over_more_columns_than_the_subsets_can_be_listed_for_is_found_from_its_finest_parts():
    values = employment()
    found = {s["column"]: s["parts"] for s in find_sums(values)}
    sectors = [f"sector_{i:02d}" for i in range(14)]
    assert found == {"goods": sectors[:4], "services": sectors[4:], "total": sectors}
    # the same columns shuffled row by row: nothing adds up
    rng = np.random.default_rng(5)
    assert find_sums({k: rng.permutation(v) for k, v in values.items()}) == []
