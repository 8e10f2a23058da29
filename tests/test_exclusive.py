"""One-hot groups (synthgen/exclusive.py): dummies of one category are found in the schema, modelled
as one token column and written back so that no synthetic row sets two; conditioning sets one;
flags another rule uses, flags with nulls and DP's encoder keep their own columns."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.encoders import TabularEncoder
from synthgen.errors import SynthgenError
from synthgen.evaluate.exclusive_flags import scores
from tests.rule_helpers import decoded_random_tokens, schema_and_encoder

FLAGS = ["white_male", "black_male", "black_female"]


def patients(n: int = 800, seed: int = 0) -> pd.DataFrame:
    """Race x sex as three dummies beside a baseline (kidney_transplant's coding), a 0/1 death flag
    drawn independently of them, days to an event that depend on the group, and an age."""
    rng = np.random.default_rng(seed)
    group = rng.choice(4, n, p=[0.5, 0.1, 0.1, 0.3])  # white male, black male, black female, baseline
    return pd.DataFrame(
        {
            "days": np.round(rng.gamma(2.0, 300.0, n) * (1 + group)).astype(int),
            "white_male": (group == 0).astype(np.int64),
            "black_male": (group == 1).astype(np.int64),
            "black_female": (group == 2).astype(np.float64),  # a float column of 0 / 1 joins too
            "death": (rng.random(n) < 0.2).astype(np.int64),
            "age": rng.integers(20, 80, n),
        }
    )


def test_the_dummies_are_one_group_modelled_as_one_column_and_written_back_exactly():
    df = patients()
    s, enc = schema_and_encoder(df)
    counts = [int((df[FLAGS].sum(axis=1) == 0).sum()), *(int(df[c].sum()) for c in FLAGS)]
    assert s.exclusive == [{"columns": FLAGS, "counts": counts}]  # death is set with the dummies: no member
    assert "white_male" in enc.layout.columns and not {"black_male", "black_female"} & set(enc.layout.columns)
    assert enc.layout.cardinalities[enc.layout.columns.index("white_male")] == 4  # none + 3 flags
    table = pa.Table.from_pandas(df, preserve_index=False)
    tokens = enc.encode(table)
    back = enc.decode(tokens, np.random.default_rng(0))
    for c in FLAGS:  # each flag as it was, in its own Arrow type
        assert back.schema.field(c).type == table.schema.field(c).type
        assert np.array_equal(back.column(c).to_numpy(), df[c].to_numpy())
    again = TabularEncoder.from_dict(enc.to_dict())  # the saved encoder reads the group back
    assert np.array_equal(again.encode(table), tokens)
    syn = decoded_random_tokens(enc, 4000, seed=1)  # whatever a model draws
    assert (syn[FLAGS].sum(axis=1) <= 1).all()
    assert scores(df, syn, s.kinds())["fidelity.exclusive_flags"] == 1.0
    assert set(np.unique(syn[FLAGS].sum(axis=1))) == {0, 1}  # the baseline too


def test_flags_with_nulls_or_in_another_rule_keep_their_own_columns():
    df = patients()
    df["black_male"] = df["black_male"].astype("float64").mask(np.arange(len(df)) % 50 == 0)  # nulls
    s, _ = schema_and_encoder(df)
    assert s.exclusive == [{"columns": ["white_male", "black_female"], "counts": s.exclusive[0]["counts"]}]
    looked_up = patients()
    state = np.random.default_rng(3).integers(0, 12, len(looked_up))
    looked_up["state"] = [f"S{k}" for k in state]
    looked_up["north"] = (state < 4).astype(np.int64)  # never set with `south`, but each a lookup of state
    looked_up["south"] = ((state >= 4) & (state < 8)).astype(np.int64)
    s, _ = schema_and_encoder(looked_up)
    assert {d["column"] for d in s.dependencies} >= {"north", "south"}
    assert [g["columns"] for g in s.exclusive] == [FLAGS]


def test_conditioning_sets_one_flag_and_a_zero_or_two_set_flags_are_one_line_errors():
    _, enc = schema_and_encoder(patients())
    j = enc.layout.columns.index("white_male")
    assert enc.condition_tokens({"black_female": 1}) == {j: enc.codecs["white_male"].token_of(3)}
    assert enc.condition_tokens({"black_male": "1"}) == enc.condition_tokens({"black_male": True})
    with pytest.raises(SynthgenError, match=r"cannot condition on 'black_male=0'.*condition on the flag that is set"):
        enc.condition_tokens({"black_male": 0})
    with pytest.raises(SynthgenError, match="cannot set two of the one-hot flags"):
        enc.condition_tokens({"black_male": 1, "white_male": 1})


def test_the_dp_encoder_models_every_flag_on_its_own():
    from synthgen.encoders.dp_stats import fit_dp_encoder
    from synthgen.privacy import privacy_config

    df = patients()
    s, _ = schema_and_encoder(df)
    assert s.exclusive
    cfg = load_config(["privacy.epsilon=4"])
    settings = dict(n_bins=10, max_categories=100, rare_min_count=1, text_strategy="fake")
    with pytest.warns(UserWarning):  # the DP encoder's notes on undeclared ranges
        enc = fit_dp_encoder(pa.Table.from_pandas(df), s, settings, None, privacy_config(cfg), seed=0)
    assert set(FLAGS) <= set(enc.layout.columns) and not enc.groups


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onehot")
    pq.write_table(pa.Table.from_pandas(patients(1500), preserve_index=False), tmp / "patients.parquet")
    base = [
        f"paths.out_dir={tmp / 'out'}",
        f"paths.mlflow_dir={tmp / 'mlruns'}",
        f"data.path={tmp / 'patients.parquet'}",
        "data.holdout_path=null",
        "data.target=null",
        "data.sensitive=[]",
        "trainer.max_epochs=10",
        "trainer.enable_progress_bar=false",
        "model.tabular.d_model=32",
        "model.tabular.n_layers=1",
        "model.tabular.n_heads=2",
        "model.tabular.random_order_share=1.0",
    ]
    cfg = load_config(base)
    for stage in ("prepare", "encode", "train"):
        pipeline.STAGES[stage](cfg)
    return tmp, base


def _generate(trained, name: str, *overrides: str) -> pd.DataFrame:
    tmp, base = trained
    out = tmp / name
    shutil.copytree(tmp / "out", out, ignore=shutil.ignore_patterns("synthetic", "evaluation"))
    pipeline.generate(load_config([*base, f"paths.out_dir={out}", "generate.n_rows=3000", *overrides]))
    return pq.read_table(out / "synthetic").to_pandas()


def test_a_trained_model_sets_at_most_one_flag_and_conditions_on_one(trained):
    syn = _generate(trained, "free")
    assert (syn[FLAGS].sum(axis=1) <= 1).all()
    real = patients(1500)
    for c in FLAGS:  # each flag near its real share (1,500 rows, 3 epochs of a small model)
        assert abs(syn[c].mean() - real[c].mean()) < 0.08
    fixed = _generate(trained, "black_female", "+generate.condition.black_female=1")
    assert (fixed["black_female"] == 1).all() and (fixed[["white_male", "black_male"]] == 0).all().all()
    assert fixed["days"].median() > syn["days"].median()  # the group's longer days come with it
    rows = trained[0] / "conditions.parquet"
    pq.write_table(pa.table({"black_male": [1, 0, 1]}), rows)
    with pytest.raises(SynthgenError, match="one of the one-hot flags .* use generate.condition.black_male=1"):
        _generate(trained, "from_file", f"generate.condition_file={rows}", "generate.n_rows=null")


def test_a_streamed_table_keeps_its_group_in_the_shards_and_the_copy_index(tmp_path):
    """Streamed prepare/encode (synthgen/streaming.py, shards.py): the group found on the sample is
    one token column in the shards, its column is no dictionary column of the files, and the shard
    copy index hashes the whole group, as the in-memory guard does."""
    from synthgen.copies import CopyGuard
    from synthgen.shards import ShardCopyGuard, dictionary_columns
    from tests.test_streaming import overrides, prepared, read_prepared

    folder = tmp_path / "parts"
    folder.mkdir()
    t = pa.Table.from_pandas(patients(2000), preserve_index=False)
    for i in range(2):
        pq.write_table(t.slice(i * 1000, 1000), folder / f"p{i}.parquet")
    cfg = load_config(overrides(tmp_path, f"data.path={folder}"))
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    paths, _ = prepared(cfg)
    enc = TabularEncoder.load(paths.encoder)
    [group] = enc.schema.exclusive  # found on the sample: its two rarer flags may come in either order
    assert group["columns"][0] == "white_male" and set(group["columns"]) == set(FLAGS)
    assert "white_male" not in dictionary_columns(enc)
    train = read_prepared(paths.train_table)
    tokens = enc.encode(train)
    m = json.loads((paths.out / "encoded" / "manifest.json").read_text())
    shards = np.concatenate([np.load(paths.out / "encoded" / s["path"]) for s in m["shards"]])
    np.testing.assert_array_equal(shards.astype(np.int64), tokens)
    # a row that differs from a training row only in which flag is set is no copy of it
    moved = train.slice(0, 300).to_pandas()
    code = moved[FLAGS].to_numpy().argmax(axis=1) + moved[FLAGS].to_numpy().max(axis=1)  # 0 none, 1..3
    moved[FLAGS] = 0
    for i, c in enumerate(FLAGS):
        moved.loc[code % 4 == i, c] = 1  # each row's flag moved to the next (none -> white_male)
    moved = pa.Table.from_pandas(
        moved.astype({c: train.schema.field(c).type.to_pandas_dtype() for c in FLAGS}), preserve_index=False
    ).cast(train.schema)
    both = pa.concat_tables([train.slice(0, 300), moved])
    both_tokens = enc.encode(both)
    ours = ShardCopyGuard(paths, enc).copies(both_tokens, both)
    theirs = CopyGuard(train, tokens, enc.written_columns).copies(both_tokens, both)
    assert set(ours.tolist()) == set(range(300))  # the moved rows copy no training row
    np.testing.assert_array_equal(ours, theirs)


def test_a_group_whose_rows_all_set_a_flag_still_encodes_a_row_that_sets_none():
    df = patients()
    df = df[df[FLAGS].sum(axis=1) == 1].reset_index(drop=True)  # no baseline row in the real rows
    s, enc = schema_and_encoder(df)
    assert s.exclusive[0]["counts"][0] == 0
    rows = pa.Table.from_pandas(df.head(3).assign(**{c: 0 for c in FLAGS}), preserve_index=False)
    back = enc.decode(enc.encode(rows.cast(pa.Table.from_pandas(df).schema)), np.random.default_rng(0))
    assert back.select(FLAGS).to_pandas().sum().sum() == 0


def test_pandas_get_dummies_booleans_are_a_group_too():
    """pd.get_dummies writes bool columns, one set in every row (no baseline): they round-trip as
    booleans and no decoded row sets two."""
    rng = np.random.default_rng(4)
    colour = rng.choice(["red", "green", "blue"], 900, p=[0.5, 0.3, 0.2])
    df = pd.concat([pd.DataFrame({"size": rng.integers(1, 40, 900)}), pd.get_dummies(colour, prefix="c")], axis=1)
    s, enc = schema_and_encoder(df)
    assert s.exclusive == [
        {
            "columns": ["c_red", "c_green", "c_blue"],
            "counts": [0, *(int(df[c].sum()) for c in ("c_red", "c_green", "c_blue"))],
        }
    ]
    table = pa.Table.from_pandas(df, preserve_index=False)
    back = enc.decode(enc.encode(table), np.random.default_rng(0))
    assert back.select(["c_red", "c_green", "c_blue"]).equals(table.select(["c_red", "c_green", "c_blue"]))
    syn = decoded_random_tokens(enc, 3000, seed=5)
    assert (syn[["c_red", "c_green", "c_blue"]].sum(axis=1) <= 1).all()


def test_rebalancing_a_flag_is_a_one_line_error(trained):
    with pytest.raises(SynthgenError, match="cannot rebalance 'black_male': it is one of the one-hot flags"):
        _generate(trained, "rebalanced", "generate.rebalance.column=black_male")
