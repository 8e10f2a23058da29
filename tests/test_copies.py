"""No more copies of real rows than real data has: generation redraws synthetic rows equal to a
training row beyond the holdout's copy share (synthgen/copies.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.copies import CopyGuard, guarded_positions
from synthgen.encoders import TabularEncoder
from synthgen.schema import infer_schema

VAE = [
    "model=vae",
    "model.tabular.latent_dim=4",
    "model.tabular.encoder_widths=[32]",
    "model.tabular.decoder_widths=[32]",
    "model.tabular.batch_size=100",
    "trainer.max_epochs=2",
    "trainer.enable_progress_bar=false",
    "data.target=null",
    "evaluate.gate.enabled=false",
]


def test_guard_finds_exact_copies_and_the_holdouts_share():
    train = pa.table({"a": ["x", "y", "z", "x"], "v": [1.5, 2.25, 3.0, 4.0]})
    enc = TabularEncoder.fit(train, infer_schema(train), n_bins=2)
    guard = CopyGuard(train, enc.encode(train), ["a", "v"])
    syn = pa.table({"a": ["x", "x", "y", "z", "z"], "v": [1.5, 4.0, 2.5, 3.0, 1.5]})
    assert guard.copies(enc.encode(syn), syn).tolist() == [0, 1, 3]  # (y, 2.5), (z, 1.5): not copies
    assert guard.allowed_share == 0.0  # no holdout: no copy is left to chance
    holdout = pa.table({"a": ["y", "y", "z", "x"], "v": [2.25, 9.0, 1.0, 1.5]})
    assert CopyGuard(train, enc.encode(train), ["a", "v"], holdout).allowed_share == 0.5


def run(tmp_path, table: pa.Table, *extra: str, holdout: pa.Table | None = None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    data = tmp_path / "real.parquet"
    pq.write_table(table, data)
    if holdout is not None:
        pq.write_table(holdout, tmp_path / "holdout.parquet")
        extra = (*extra, f"data.holdout_path={tmp_path / 'holdout.parquet'}")
    cfg = load_config(
        [
            *VAE,
            "data=file",
            f"data.path={data}",
            f"paths.out_dir={tmp_path / 'out'}",
            f"paths.mlflow_dir={tmp_path / 'mlruns'}",
            "generate.n_rows=3000",
            "generate.chunk_rows=1000",
            "encoder.n_bins=4",
            *extra,
        ]
    )
    for stage in ("prepare", "encode", "train", "generate"):
        pipeline.STAGES[stage](cfg)
    out = tmp_path / "out"
    train = pq.read_table(out / "prepared" / "train.parquet").to_pandas()
    syn = pq.read_table(out / "synthetic").to_pandas()
    copies = syn.merge(train.drop_duplicates(), on=list(train.columns), how="inner")
    return len(copies), json.loads((out / "synthetic" / "_manifest.json").read_text()).get("metrics", {}), syn


@pytest.fixture
def lumpy():
    """300 rows: a 3-level category and an integer in 0..300, so a within-bin draw often lands on
    a real value: without the guard, a few percent of the synthetic rows copy a training row. Its
    holdout shares no row with it (integers 1000..1300), so chance allows no copy."""
    rng = np.random.default_rng(0)
    train = pa.table({"a": rng.choice(["p", "q", "r"], 300), "x": rng.integers(0, 300, 300)})
    holdout = pa.table({"a": rng.choice(["p", "q", "r"], 60), "x": rng.integers(1000, 1300, 60)})
    return train, holdout


def test_generation_redraws_copies_beyond_the_holdouts_share(tmp_path, lumpy, one_thread):
    copies, metrics, syn = run(tmp_path / "on", lumpy[0], holdout=lumpy[1])
    assert copies == 0 and metrics["copies_kept"] == 0
    plain, plain_metrics, _ = run(tmp_path / "off", lumpy[0], "generate.redraw_copies=false", holdout=lumpy[1])
    assert plain > 30 and "copies_redrawn" not in plain_metrics  # what the guard removed
    assert metrics["copies_redrawn"] > 30
    again = run(tmp_path / "again", lumpy[0], holdout=lumpy[1])[2]
    pd.testing.assert_frame_equal(syn, again)  # redraws are seeded too


def test_natural_copies_are_kept(tmp_path, one_thread):
    """Two binary columns: every possible row is a training row, and every holdout row copies
    one, so chance allows every copy: nothing is redrawn."""
    rng = np.random.default_rng(0)
    table = pa.table({"a": rng.choice(["p", "q"], 200), "b": rng.choice(["u", "v"], 200)})
    copies, metrics, syn = run(tmp_path, table)
    assert len(syn) == 3000 and copies == 3000
    assert metrics["copies_redrawn"] == metrics["copies_kept"] == 0


def test_guard_finds_a_copy_whose_looked_up_column_drew_another_token():
    """A column written from its key's level (a lookup) keeps no trace of its own token: a row whose
    tokens differ from a training row's only there decodes to that row. The token hash leaves such
    columns out (guarded_positions), so the copy is found (it was not: lifelines' dd table)."""
    rng = np.random.default_rng(0)
    country = np.repeat([f"c{i:02d}" for i in range(40)], 6)
    continent = dict(zip(np.unique(country), rng.choice(["Africa", "Asia", "Europe", "Americas"], 40)))
    train = pa.table({"country": country, "continent": [continent[c] for c in country], "n": rng.integers(0, 3, 240)})
    schema = infer_schema(train)
    assert [(d["by"], d["column"]) for d in schema.dependencies] == [("country", "continent")]
    enc = TabularEncoder.fit(train, schema, n_bins=4)
    assert enc.rewritten == {"continent"}
    tokens = enc.encode(train)
    j = enc.layout.columns.index("continent")
    moved = tokens.copy()
    moved[:, j] = (moved[:, j] + 1 - int(enc.codecs["continent"].has_null)) % 4 + int(enc.codecs["continent"].has_null)
    assert (moved[:, j] != tokens[:, j]).all()
    syn = enc.decode(moved, np.random.default_rng(1))
    assert syn.column("continent").to_pylist() == train.column("continent").to_pylist()  # written from the key
    columns = enc.layout.columns
    assert len(CopyGuard(train, tokens, columns).copies(moved, syn)) == 0  # every token hashed: missed
    guard = CopyGuard(train, tokens, columns, token_columns=guarded_positions(enc))
    assert guard.copies(moved, syn).tolist() == list(range(240))
    # the streamed guard's value hashes read such a column's written level, not its token
    from synthgen.shards import value_hashes

    assert (value_hashes(enc, syn, moved) == value_hashes(enc, train)).all()
