"""Fake first names follow the table's sex column (synthgen/name_sex.py): the column is found from
the real names in any coding (Male/Female, F/M, Mr/Mrs, a boolean), a column unrelated to the
names is not taken, and the decoded rows' first names agree with their level."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest
from faker import Faker

from synthgen import name_sex, pii
from synthgen.encoders import TabularEncoder
from synthgen.schema import TableSchema, infer_schema

N = 400


def people(coding: tuple, full: bool = False, seed: int = 0) -> pa.Table:
    """N rows of Faker people: a name column, a sex column coded (male, female), an amount."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    rng = np.random.default_rng(seed)
    female = rng.random(N) < 0.45
    first = [fake.first_name_female() if f else fake.first_name_male() for f in female]
    names = [f"{f} {fake.last_name()}" for f in first] if full else first
    return pa.table(
        {
            "name" if full else "first_name": names,
            "last_name": [fake.last_name() for _ in range(N)],
            "sex": [coding[1] if f else coding[0] for f in female],
            "amount": rng.normal(100, 10, N).round(2),
        }
    )


def decoded(table: pa.Table) -> tuple[TableSchema, pa.Table]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(table)
        enc = TabularEncoder.fit(table, schema, n_bins=20)
    return schema, enc.decode(enc.encode(table), np.random.default_rng(5))


def agreement(first_names: list, sexes: list, coding: tuple) -> float:
    """Share of rows with a sexed fake first name whose sex matches the row's level."""
    male, female = (set(a.to_pylist()) for a in pii.sexed_first_names())
    hits = total = 0
    for name, sex in zip(first_names, sexes):
        word = name.split()[0].lower()
        if word in male or word in female:
            total += 1
            hits += (word in male) == (sex == coding[0])
    return hits / total


@pytest.mark.parametrize(
    "coding,full",
    [(("Male", "Female"), False), (("M", "F"), True), (("Mr", "Mrs"), False), ((False, True), False)],
)
def test_fake_first_names_agree_with_the_sex_column(coding, full):
    table = people(coding, full)
    schema, out = decoded(table)
    spec = schema.name_sex
    assert spec is not None and spec["column"] == "sex"
    assert spec["male"] == [coding[0]] and spec["female"] == [coding[1]] and spec["agreement"] >= 0.95
    assert set(spec) == {"column", "names", "male", "female", "agreement"}  # levels only: no real name kept
    col = "name" if full else "first_name"
    got = agreement(out.column(col).to_pylist(), out.column("sex").to_pylist(), coding)
    assert got >= 0.99, got  # drawn from all first names alike, about half agreed
    assert out.schema == table.schema


def test_a_sex_column_unrelated_to_the_names_is_not_followed():
    table = people(("Male", "Female"))
    rng = np.random.default_rng(1)
    shuffled = table.column("sex").to_numpy(zero_copy_only=False)[rng.permutation(N)]
    table = table.set_column(2, "sex", pa.array(shuffled))
    schema, _ = decoded(table)
    assert schema.name_sex is None


def test_a_table_without_a_sex_column_decodes_as_before():
    """The sexed draw reuses the same uniforms: without a sex column the fakes are those of
    fake_people(n, rng) with no sex at all."""
    table = people(("Male", "Female")).drop(["sex"])
    schema, out = decoded(table)
    assert schema.name_sex is None
    first, _ = pii.fake_people(3, np.random.default_rng(9))
    again, _ = pii.fake_people(3, np.random.default_rng(9), np.zeros(3, dtype=np.int8))
    assert list(first) == list(again)


def test_row_sexes_maps_levels_and_nulls():
    spec = {"column": "s", "names": "n", "male": ["M"], "female": ["F"], "agreement": 1.0}
    got = name_sex.row_sexes(spec, ["F", "M", "X"], np.array([0, 1, 2, 1]), np.array([False, False, False, True]))
    assert got.tolist() == [2, 1, 0, 0]


def test_fake_addresses_are_not_named_after_the_rows_own_person():
    first, last = pii.fake_people(2000, np.random.default_rng(0))
    streets = pii.fake_column("address", {"case": "title"}, first, last, np.random.default_rng(1))
    own = [s.split()[1].lower() in (f, l_) for s, f, l_ in zip(streets, first, last)]
    assert np.mean(own) < 0.02  # each street named after the row's own first or last name before


def test_the_evaluation_scores_the_agreement_from_the_real_rows_alone():
    """fidelity.name_sex for any generator's rows: ours agree, names drawn regardless of the
    column (shuffled against it) agree about half the time; the real rows' own figure beside."""
    from synthgen.evaluate.tabular import evaluate_tables

    table = people(("Male", "Female"))
    _, out = decoded(table)
    real, ours = table.to_pandas(), out.to_pandas()
    kinds = {"first_name": "pii", "last_name": "pii", "sex": "categorical", "amount": "continuous"}
    careless = ours.assign(first_name=ours["first_name"].sample(frac=1.0, random_state=0).to_numpy())
    got = name_sex.scores(real, ours, kinds)
    assert got["fidelity.name_sex"] >= 0.99 and got["fidelity.name_sex_real"] >= 0.99
    assert got["fidelity.name_sex.first_name"] == got["fidelity.name_sex"]  # last_name agrees with nothing
    # a second name column the other generator left without a single name is not scored; the first is
    placeholders = careless.assign(full=["_RARE_"] * len(careless))
    got = name_sex.scores(real.assign(full=real["first_name"] + " x"), placeholders, {**kinds, "full": "pii"})
    assert set(got) == {"fidelity.name_sex.first_name", "fidelity.name_sex", "fidelity.name_sex_real"}
    assert 0.35 <= name_sex.scores(real, careless, kinds)["fidelity.name_sex"] <= 0.65
    assert name_sex.scores(real, ours, {**kinds, "sex": "continuous"}) == {}  # no column to agree with
    result = evaluate_tables(real.iloc[:300], real.iloc[300:], ours, kinds)
    assert result["fidelity.name_sex"] >= 0.99
