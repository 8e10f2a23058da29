"""Streamed prepare/encode (synthgen/streaming.py), token shards and training from them (synthgen/shards.py):
folders, globs, CSV and DuckDB SQL through one path; real Adult rows, real Lightning training."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.paths import RunPaths
from tests.conftest import ROOT
from tests.test_bad_input import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def adult_parts(tmp_path_factory):
    """3,000 real Adult rows as a folder of three Parquet files."""
    folder = tmp_path_factory.mktemp("parts")
    t = pq.read_table(ROOT / "data/adult/adult_train.parquet").slice(0, 3000)
    for i in range(3):
        pq.write_table(t.slice(i * 1000, 1000), folder / f"p{i}.parquet")
    return folder


def overrides(tmp_path, *extra):
    return [
        f"paths.out_dir={tmp_path / 'out'}",
        f"paths.mlflow_dir={tmp_path / 'mlruns'}",
        "data=file",
        "stream.shard_rows=500",
        "stream.sample_rows=800",
        "stream.batch_rows=300",
        "stream.workers=1",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "model.tabular.d_model=16",
        "model.tabular.n_layers=1",
        "model.tabular.n_heads=2",
        "evaluate.detection_folds=2",
        *extra,
    ]


def read_prepared(path):
    """A prepared table as the pipeline reads it (the parts keep the string columns' dictionaries)."""
    from synthgen.artifacts import read_parquet

    return read_parquet(path, "prepare")


def prepared(cfg):
    paths = RunPaths.from_config(cfg)
    return paths, json.loads((paths.prepared / "stream.json").read_text())


def stream_prepared(out, data_path) -> tuple[int, "pa.Table"]:
    """The streamed prepare of `data_path` under `out`: (input rows, the prepared training table)."""
    cfg = load_config(overrides(out, f"data.path={data_path}", "stream.enabled=true"))
    pipeline.prepare(cfg)
    paths, info = prepared(cfg)
    return info["input_rows"], read_prepared(paths.train_table)


def test_folder_is_split_counted_and_encoded_into_shards(tmp_path, adult_parts):
    cfg = load_config(overrides(tmp_path, f"data.path={adult_parts}", "stream.workers=2"))
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    paths, info = prepared(cfg)
    train, holdout = read_prepared(paths.train_table), read_prepared(paths.holdout_table)
    assert train.num_rows + holdout.num_rows == 3000 and 0.15 < holdout.num_rows / 3000 < 0.25
    assert [p["rows"] for p in info["train_parts"]][:-1] == [500] * (len(info["train_parts"]) - 1)
    # exact full-pass counts in the schema, although kinds came from an 800-row sample
    schema = json.loads(paths.schema.read_text())
    wc = next(c for c in schema["columns"] if c["name"] == "workclass")
    counts = pc.value_counts(train.column("workclass").drop_null()).to_pylist()
    assert dict(zip(wc["categories"], wc["frequencies"])) == {d["values"]: d["counts"] for d in counts}
    assert wc["null_share"] == pytest.approx(train.column("workclass").null_count / train.num_rows)
    assert schema["n_rows"] == train.num_rows
    # shards hold exactly the encoder's tokens of the training parts, in order
    from synthgen.encoders import TabularEncoder

    enc = TabularEncoder.load(paths.encoder)
    m = json.loads((paths.out / "encoded" / "manifest.json").read_text())
    shards = np.concatenate([np.load(paths.out / "encoded" / s["path"]) for s in m["shards"]])
    assert shards.dtype == np.uint8 and m["rows"] == train.num_rows
    np.testing.assert_array_equal(shards.astype(np.int64), enc.encode(train))


def test_an_all_null_column_streams_through_as_nulls_of_its_type(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    t = pq.read_table(ROOT / "data/adult/adult_train.parquet").slice(0, 1200)
    t = t.append_column("nothing", pa.nulls(t.num_rows, pa.float64()))
    for i in range(2):
        pq.write_table(t.slice(i * 600, 600), folder / f"p{i}.parquet")
    cfg = load_config(overrides(tmp_path, f"data.path={folder}"))
    with pytest.warns(UserWarning, match="'nothing' is entirely null"):
        pipeline.prepare(cfg)
    pipeline.encode(cfg)
    paths, _ = prepared(cfg)
    from synthgen.encoders import TabularEncoder

    enc = TabularEncoder.load(paths.encoder)
    assert enc.schema.column("nothing").kind == "empty" and "nothing" not in enc.layout.columns
    rng = np.random.default_rng(0)
    out = enc.decode(np.stack([rng.integers(0, c, 50) for c in enc.layout.cardinalities], axis=1), rng)
    assert out.schema == t.schema and out.column("nothing").null_count == 50


def test_split_and_sample_do_not_depend_on_batch_size(tmp_path, adult_parts):
    got = []
    for rows in (300, 1024):
        cfg = load_config(overrides(tmp_path / str(rows), f"data.path={adult_parts}", f"stream.batch_rows={rows}"))
        pipeline.prepare(cfg)
        paths, _ = prepared(cfg)
        got.append(
            (
                read_prepared(paths.train_table),
                pq.read_table(paths.prepared / "sample.parquet"),
                paths.schema.read_text(),
            )
        )
    assert got[0][0].equals(got[1][0]) and got[0][1].equals(got[1][1]) and got[0][2] == got[1][2]


def test_sql_and_csv_glob_stream_into_the_same_path(tmp_path, adult_parts):
    sql = f"SELECT * FROM '{adult_parts}/*.parquet' WHERE sex = 'Female'"
    cfg = load_config(overrides(tmp_path / "sql", f"data.sql={sql}"))
    pipeline.prepare(cfg)
    paths, info = prepared(cfg)
    females = sum(pc.sum(pc.equal(pq.read_table(f).column("sex"), "Female")).as_py() for f in adult_parts.glob("*"))
    assert info["input_rows"] == females
    assert set(read_prepared(paths.train_table).column("sex").to_pylist()) == {"Female"}

    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for f in sorted(adult_parts.glob("*.parquet")):
        pacsv.write_csv(pq.read_table(f), csv_dir / f"{f.stem}.csv")
    cfg = load_config(overrides(tmp_path / "csv_out", f"data.path={csv_dir}/*.csv"))
    pipeline.prepare(cfg)
    assert prepared(cfg)[1]["input_rows"] == 3000


@pytest.mark.parametrize(
    "sql, needle",
    [
        ("SELEC * FROM t", "syntax error"),
        ("SELECT * FROM 'nowhere/*.parquet'", "No files found"),
        ("SELECT nosuch FROM range(3)", "nosuch"),
    ],
)
def test_bad_sql_gives_one_line_and_leaves_nothing(tmp_path, sql, needle):
    proc = run_cli("prepare", *overrides(tmp_path, f"data.sql={sql}"))
    assert_one_line_error(proc, "data.sql", needle)
    assert not (tmp_path / "out" / "prepared").exists()


def test_mixed_file_types_in_a_folder_are_refused(tmp_path, adult_parts):
    folder = tmp_path / "mixed"
    folder.mkdir()
    pq.write_table(pq.read_table(adult_parts / "p0.parquet"), folder / "a.parquet")
    (folder / "b.json").write_text("{}")
    proc = run_cli("prepare", *overrides(tmp_path, f"data.path={folder}"))
    assert_one_line_error(proc, "mixes file types", "b.json")
    assert not (tmp_path / "out" / "prepared").exists()


def _id_shards(tmp_path, sizes):
    """Shards whose single column is the row's number, so batches show which rows they hold."""
    from synthgen.shards import ShardTokens

    folder, first, shards = tmp_path / "ids", 0, []
    folder.mkdir()
    for i, n in enumerate(sizes):
        np.save(folder / f"tokens-{i:06d}.npy", np.arange(first, first + n, dtype=np.uint32)[:, None])
        shards.append({"path": f"tokens-{i:06d}.npy", "first_row": first, "rows": n})
        first += n
    return ShardTokens(folder, {"rows": first, "columns": ["id"], "dtype": "uint32", "shards": shards})


def test_ranks_take_disjoint_rows_and_equal_batch_counts(tmp_path, monkeypatch):
    from synthgen import shards

    monkeypatch.setattr(shards, "BLOCK_ROWS", 100)  # many blocks from small shards
    tokens = _id_shards(tmp_path, [1000, 1000, 450])
    sets = [shards.ShardTrainSet(tokens, 0.1, 32, seed=3, rank=r, world=2) for r in range(2)]
    epochs = [[np.concatenate([b.numpy()[:, 0] for b in s]) for s in sets] for _ in range(2)]
    for rank0, rank1 in epochs:
        assert len(rank0) == len(rank1) and len(rank0) % 32 == 0 and len(rank0) > 0
        assert not set(rank0) & set(rank1)
        assert len(set(rank0)) == len(rank0)
    val = set(np.flatnonzero(np.concatenate([s._val_mask(b) for s in sets[:1] for b in s.blocks])))
    assert 150 < len(val) < 350 and not val & set(np.concatenate(epochs[0]))
    assert not np.array_equal(epochs[0][0], epochs[1][0])  # a new order every epoch


def test_train_generate_evaluate_from_shards_with_the_index_copy_guard(tmp_path, adult_parts):
    from synthgen.copies import CopyGuard
    from synthgen.encoders import TabularEncoder
    from synthgen.shards import ShardCopyGuard

    ov = overrides(
        tmp_path,
        f"data.path={adult_parts}",
        "generate.n_rows=600",
        "generate.chunk_rows=200",
        "evaluate.gate.enabled=false",
        "data.target=income",
    )
    cfg = load_config(ov)
    for stage in ("prepare", "encode", "train", "generate"):
        pipeline.STAGES[stage](cfg)
    paths = RunPaths.from_config(cfg)
    assert pq.read_table(paths.synthetic).num_rows == 600
    result = pipeline.evaluate(cfg)
    assert "fidelity.shape" in result and result["rows.synthetic"] == 600
    # above evaluate.max_rows, evaluate reads a seeded sample of that many synthetic rows (3 parts)
    assert pipeline.evaluate(load_config([*ov, "evaluate.max_rows=250"]))["rows.synthetic"] == 250
    # the hash index answers as the in-memory guard does, on copies and on fresh rows
    enc = TabularEncoder.load(paths.encoder)
    train = read_prepared(paths.train_table)
    tokens = enc.encode(train)
    rng = np.random.default_rng(0)
    fresh = np.stack([rng.integers(0, c, 500) for c in enc.layout.cardinalities], axis=1)
    both = np.concatenate([tokens[:300], fresh])
    table = pa.concat_tables(
        [train.slice(0, 300).select(enc.schema.arrow_schema.names), enc.decode(fresh, np.random.default_rng(1))]
    )
    ours = ShardCopyGuard(paths, enc).copies(both, table)
    theirs = CopyGuard(train, tokens, enc.layout.columns).copies(both, table)
    assert set(range(300)) <= set(ours.tolist())
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.slow
def test_ddp_trains_from_shards(tmp_path, adult_parts):
    from tests.test_ddp import synthgen

    ov = overrides(tmp_path, f"data.path={adult_parts}", "trainer.max_epochs=2")
    synthgen("prepare", *ov)
    synthgen("encode", *ov)
    synthgen("train", *ov, "trainer=ddp", "trainer.devices=2")
    assert (tmp_path / "out" / "model" / "model.ckpt").exists()


def test_a_preset_sample_threshold_keeps_the_exact_sample_and_few_rows():
    from synthgen.streaming import SAMPLE_STREAM, BottomK, row_hashes

    t = pq.read_table(ROOT / "data/adult/adult_train.parquet").slice(0, 3000)
    h = row_hashes(0, SAMPLE_STREAM, 0, 3000)
    plain, preset, low = BottomK(100), BottomK(100, expected=3000), BottomK(100, expected=30_000)
    for a in range(0, 3000, 256):
        for s in (plain, preset, low):
            s.offer(t.slice(a, 256), h[a : a + 256])
    assert preset.complete and preset.rows < 250  # plain holds up to 200 between prunes
    assert preset.result(t.schema).equals(plain.result(t.schema))
    assert not low.complete  # a threshold set for ten times the rows turns needed rows away
    # a sample of ~half the rows (a 5M-row table's 1M-row sample): preset too, still exact
    half, whole = BottomK(1000, expected=2000), BottomK(1000)
    for a in range(0, 2000, 256):
        for s in (half, whole):
            s.offer(t.slice(a, min(256, 2000 - a)), h[a : min(a + 256, 2000)])
    assert half.threshold < np.uint64(2**64 - 1) and half.complete
    assert half.result(t.schema).equals(whole.result(t.schema))


def test_prepare_falls_back_to_a_second_sampling_pass_when_the_preset_threshold_is_too_low(
    tmp_path, adult_parts, monkeypatch
):
    from synthgen import streaming

    got = []
    for claimed in (None, 30_000):  # the footers' count, then ten times it
        if claimed:
            monkeypatch.setattr(streaming.Source, "known_rows", lambda self: claimed)
        cfg = load_config(overrides(tmp_path / str(claimed), f"data.path={adult_parts}", "stream.sample_rows=100"))
        pipeline.prepare(cfg)
        paths, _ = prepared(cfg)
        got.append(pq.read_table(paths.prepared / "sample.parquet"))
    assert got[0].num_rows >= 100 and got[0].equals(got[1])


def test_every_kind_streams_into_shards_with_its_copy_index(tmp_path):
    """The encoder test's table of every kind (dates and yes/no held as strings, dates modelled from
    another date, decimals, keys, nulls) as a folder: its string columns are read as the files'
    dictionaries, the parts keep the input's types, the shards hold the encoder's tokens and the copy
    index finds every training row."""
    from synthgen.encoders import TabularEncoder
    from synthgen.shards import ShardCopyGuard, dictionary_columns
    from tests.test_encoders import zoo_table

    t = zoo_table(2000)
    t = t.drop_columns([n for n, typ in zip(t.column_names, t.schema.types) if pa.types.is_string_view(typ)])
    folder = tmp_path / "parts"
    folder.mkdir()
    for i in range(2):
        pq.write_table(t.slice(i * 1000, 1000), folder / f"p{i}.parquet")
    cfg = load_config(overrides(tmp_path, f"data.path={folder}", "stream.workers=2"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the zoo's free-text and constant columns warn
        pipeline.prepare(cfg)
        pipeline.encode(cfg)
    paths, _ = prepared(cfg)
    train = read_prepared(paths.train_table)
    on_disk = pq.read_table(paths.train_table).schema
    assert pa.types.is_dictionary(on_disk.field("large").type)  # as read, not a string per row
    assert pa.types.is_dictionary(on_disk.field("dict").type)  # a dictionary column of the source
    assert train.schema == pq.read_table(folder / "p0.parquet").schema  # as read: large strings stay large
    enc = TabularEncoder.load(paths.encoder)
    assert len(dictionary_columns(enc)) >= 2 and enc.offsets and enc.schema.column("yes_no").codec
    m = json.loads((paths.out / "encoded" / "manifest.json").read_text())
    shards = np.concatenate([np.load(paths.out / "encoded" / s["path"]) for s in m["shards"]])
    np.testing.assert_array_equal(shards.astype(np.int64), enc.encode(train))
    guard = ShardCopyGuard(paths, enc)
    tokens = enc.encode(train.slice(0, 200))
    assert set(guard.copies(tokens, train.slice(0, 200)).tolist()) == set(range(200))


def test_parquet_read_as_dictionaries_counts_levels_as_plain_csv_does(tmp_path, adult_parts):
    """Parquet string columns are counted by their dictionary indices, CSV ones string by string:
    the same rows give the same categories, in the same order (by count, ties by value), with the same counts."""
    from synthgen.streaming import stream_source

    cfg = load_config(overrides(tmp_path / "pq", f"data.path={adult_parts}"))
    batch = next(stream_source(cfg).batches(300, dictionaries=True))
    assert pa.types.is_dictionary(batch.schema.field("workclass").type)
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for f in sorted(adult_parts.glob("*.parquet")):
        pacsv.write_csv(pq.read_table(f), csv_dir / f"{f.stem}.csv")
    levels = []
    for c in (cfg, load_config(overrides(tmp_path / "csv_out", f"data.path={csv_dir}/*.csv"))):
        pipeline.prepare(c)
        schema = json.loads(prepared(c)[0].schema.read_text())
        levels.append({col["name"]: (col["categories"], col["frequencies"]) for col in schema["columns"]})
    assert levels[0] == levels[1]
    countries = levels[0]["native_country"][1]
    assert len(countries) > 20 and len(set(countries)) < len(countries)  # ties, ordered by value


@pytest.mark.parametrize(
    "arr",
    [
        pa.array([3, -2, None, 3, 7, -2, 3], pa.int64()),
        pa.array([250, 0, 250, 1], pa.uint8()),
        pa.array([2**63 + 5, 2**63 + 1, None], pa.uint64()),  # beyond int64: counted by value_counts
        pa.chunked_array(
            [pa.array(["b", "a", None, "b"]).dictionary_encode(), pa.array(["c", "b"]).dictionary_encode()]
        ),
        pa.DictionaryArray.from_arrays(pa.array([2, 2, None, 0], pa.int32()), pa.array(["x", "unused", "z"])),
    ],
)
def test_bincount_level_counts_equal_arrow_value_counts(arr):
    """The full pass counts dictionary indices and narrow integer ranges with a bincount; the counts
    (nulls as a null value, unused dictionary levels absent) are Arrow's value_counts."""
    from synthgen.streaming import ColumnStats, _dictionary_counts

    if pa.types.is_dictionary(arr.type):
        got = _dictionary_counts(arr)
        plain = arr.cast(arr.type.value_type)
    else:  # through ColumnStats, which picks the counter from the batch's range
        st = ColumnStats("x", arr.type)
        st.update(pa.table({"x": arr}))
        got, plain = st.counts, arr
    want = pc.value_counts(plain.combine_chunks() if isinstance(plain, pa.ChunkedArray) else plain)
    as_dict = lambda values, counts: dict(zip(values.to_pylist(), counts.to_pylist()))  # noqa: E731
    assert as_dict(got.column("values"), got.column("counts")) == as_dict(want.field("values"), want.field("counts"))
    assert got.num_rows == len(want)


def test_streamed_csv_files_are_read_in_their_own_dialect(tmp_path, adult_parts):
    """The streamed prepare read every CSV with `,` (a `;` file was one column of joined lines), as
    read_table reads it now: delimiter and byte-order mark sniffed from the first file."""
    folder = tmp_path / "semi"
    folder.mkdir()
    for f in sorted(adult_parts.glob("*.parquet")):
        pq.read_table(f).to_pandas().to_csv(folder / f"{f.stem}.csv", sep=";", index=False, encoding="utf-8-sig")
    cfg = load_config(overrides(tmp_path / "semi_out", f"data.path={folder}/*.csv", "stream.enabled=true"))
    pipeline.prepare(cfg)
    paths, info = prepared(cfg)
    assert read_prepared(paths.train_table).column_names == pq.read_schema(adult_parts / "p0.parquet").names
    assert info["input_rows"] == 3000

    spaced = tmp_path / "spaced"
    spaced.mkdir()
    (spaced / "a.txt").write_text("x   y\n" + "".join(f"{i}   {i * 2}\n" for i in range(50)))
    err = run_cli("prepare", *overrides(tmp_path / "spaced_out", f"data.path={spaced}/*.txt", "stream.enabled=true"))
    assert_one_line_error(err, "aligned with runs of spaces")
