"""Names of things as identifiers (synthgen/encoders/name_templates.py): new names in the real ones'
wording, never a real name, and no rare real word in the model file."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen.encoders import TabularEncoder
from synthgen.encoders.name_templates import name_templates, templated_names
from synthgen.schema import infer_schema

SUFFIXES = ["Municipal", "County", "Regional", "International", "Memorial Field"]


def airports(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Airport-like names: one rare word (a made-up place, each in one name) and a common suffix;
    some with a number of their own ("Strip 12")."""
    rng = np.random.default_rng(seed)
    places = [f"Zq{''.join(rng.choice(list('aeioubcdfgklmnrst'), 6))}" for _ in range(n)]
    names = [f"{p} {rng.choice(SUFFIXES)}" for p in places]
    names = [f"{v} {rng.integers(1, 99)}" if i % 10 == 0 else v for i, v in enumerate(names)]
    return pd.DataFrame({"name": names, "size": rng.choice(["small", "medium", "large"], n)})


def table_and_schema(df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = pa.Table.from_pandas(df, preserve_index=False)
        return table, infer_schema(table, **kw)


def test_templates_keep_frequent_words_and_separators_only():
    real = airports()["name"]
    fmt = name_templates(pa.array(real))
    flat = " ".join(part for t in fmt["templates"] for part in t)
    assert "Municipal" in flat and "Memorial Field" in flat
    assert "Zq" not in flat  # each place appears in one name: never kept
    numbered = [t for t in fmt["templates"] if t[:3] == ["", "t", " Municipal "]]  # "Zq... Municipal 12"
    assert numbered and all(t[3] in ("d1", "d2") and t[4] == "" for t in numbered)
    assert sum(fmt["counts"]) == len(real)
    # codes and free text are not names
    assert name_templates(pa.array([f"A{i}B{i}" for i in range(100)])) is None
    assert name_templates(pa.array([" ".join(["word"] * 12) + str(i) for i in range(100)])) is None


def test_new_names_follow_the_templates_and_never_equal_a_real_one():
    real = airports()["name"]
    fmt = name_templates(pa.array(real))
    names, got = templated_names(fmt, 3000, np.random.default_rng(1))
    assert got.all() and len(names) == 3000
    assert not set(n.casefold() for n in names) & set(v.casefold() for v in real)
    suffix = pd.Series(names).str.extract(r"((?:Municipal|County|Regional|International|Memorial Field))")[0]
    real_suffix = real.str.extract(r"((?:Municipal|County|Regional|International|Memorial Field))")[0]
    assert (suffix.value_counts(normalize=True) - real_suffix.value_counts(normalize=True)).abs().max() < 0.05
    again, _ = templated_names(fmt, 3000, np.random.default_rng(1))
    assert list(again) == list(names)  # one rng state, one output
    # a template with no slot can only write a real name: those rows get the counter format
    only_real = {**fmt, "templates": [["Zq Municipal"]], "counts": [1]}
    fmt_real = {**only_real, "real": name_templates(pa.array(["Zq Municipal"] * 10 + list(real)))["real"]}
    _, got = templated_names(fmt_real, 5, np.random.default_rng(2))
    assert not got.any()


def test_the_encoder_writes_names_not_counters_and_keeps_no_real_name():
    df = airports()
    table, schema = table_and_schema(df)
    assert schema.column("name").kind == "identifier"
    enc = TabularEncoder.fit(table, schema)
    tokens = np.zeros((400, len(enc.layout.cardinalities)), dtype=np.int64)
    out = enc.decode(tokens, np.random.default_rng(0)).column("name").to_pylist()
    assert not any("-syn-" in v for v in out)
    assert not set(out) & set(df["name"])
    with tempfile.TemporaryDirectory() as d:
        enc.save(Path(d) / "encoder.json")
        state = (Path(d) / "encoder.json").read_text()
    places = {v.split()[0] for v in df["name"]}  # each in one real name
    assert not [p for p in places if p in state]  # no rare word of a real name in the model file


def test_an_entity_keyed_by_a_name_gets_unique_counter_keys():
    """Template names may repeat, and two entities must not share a key: an entity's key keeps the
    counter format."""
    names = airports(200)["name"]
    df = pd.DataFrame({"store": np.repeat(names.to_numpy(), 3), "sales": np.arange(600) % 7})
    table, schema = table_and_schema(df, entity="store")
    assert schema.entity and schema.entity["column"] == "store"
    enc = TabularEncoder.fit(table, schema)
    groups = np.repeat(np.arange(500), 2)
    tokens = np.zeros((1000, len(enc.layout.cardinalities)), dtype=np.int64)
    keys = enc.decode(tokens, np.random.default_rng(0), groups=groups).column("store").to_pandas()
    assert keys.groupby(groups).nunique().eq(1).all() and keys.nunique() == 500


def test_under_dp_names_keep_the_counter_format():
    """The templates count real words outside any DP mechanism: a DP encoder writes counter keys."""
    from synthgen.encoders.dp_stats import fit_dp_encoder
    from synthgen.privacy import PrivacyConfig

    table, schema = table_and_schema(airports())
    settings = {"n_bins": 10, "max_categories": 1000, "rare_min_count": 1, "text_strategy": "drop"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = fit_dp_encoder(table, schema, settings, None, PrivacyConfig(epsilon=1.0), seed=0)
    assert enc.id_formats["name"]["type"] == "pattern"
    tokens = np.zeros((50, len(enc.layout.cardinalities)), dtype=np.int64)
    assert all("-syn-" in v for v in enc.decode(tokens, np.random.default_rng(0)).column("name").to_pylist())


def test_a_name_of_frequent_words_only_gives_no_template():
    """ "Regional Municipal" (both words frequent) could only be written as itself, a real name."""
    real = list(airports()["name"]) + ["Regional Municipal", "County International"]
    fmt = name_templates(pa.array(real))
    assert all(len(t) > 1 for t in fmt["templates"]) and sum(fmt["counts"]) == len(real) - 2
