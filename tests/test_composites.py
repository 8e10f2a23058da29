"""Text written from other columns of its row (synthgen/composites.py): found from the real rows,
not modelled, written by the decoder from the row's own written values, and scored for any
generator's rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from synthgen import composites
from synthgen.encoders import TabularEncoder
from synthgen.schema import infer_schema


def senators(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """lifelines' canadian_senators in miniature: a term `yyyy.mm.dd - yyyy.mm.dd  (reason)` of the
    row's start, end and reason, or `yyyy.mm.dd -` for a senator still sitting (no reason)."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("1867-10-23") + rng.integers(0, 50_000, n) * np.timedelta64(1, "D")
    end = start + rng.integers(100, 12_000, n) * np.timedelta64(1, "D")
    sitting = rng.random(n) < 0.15
    reason = np.where(sitting, None, rng.choice(["Death", "Retirement", "Resignation"], n))
    fmt = lambda d: pd.Timestamp(d).strftime("%Y.%m.%d")  # noqa: E731
    term = [f"{fmt(s)} -" if r is None else f"{fmt(s)} - {fmt(e)}  ({r})" for s, e, r in zip(start, end, reason)]
    return pd.DataFrame(
        {
            "province": rng.choice(["Quebec", "Ontario", "Nova Scotia", "Yukon"], n),
            "term": term,
            "start": start,
            "end": end,
            "reason": reason,
        }
    )


def arrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


def test_a_term_of_dates_and_a_reason_is_found_with_its_forms():
    table = arrow(senators())
    schema = infer_schema(table)
    assert [c["column"] for c in schema.composites] == ["term"]
    comp = schema.composites[0]
    assert comp["slots"] == [["start", "%Y.%m.%d"], ["end", "%Y.%m.%d"], ["reason", None]]
    assert comp["forms"] == {"111": [0, " - ", 1, "  (", 2, ")"], "110": [0, " -"]}
    col = schema.column("term")
    assert col.kind == "text" and col.categories is None  # no real term stored as a level
    assert composites.render(comp, table).to_pylist() == table.column("term").to_pylist()


def test_decoded_rows_write_the_term_from_their_own_dates():
    df = senators()
    table = arrow(df)
    schema = infer_schema(table)
    enc = TabularEncoder.fit(table, schema, n_bins=20)
    assert "term" not in enc.codecs  # not modelled
    tokens = np.stack([np.random.default_rng(1).integers(0, k, 2000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(2))
    assert out.column_names == table.column_names
    kinds = {c.name: c.kind for c in schema.columns}
    assert composites.scores(df, out, kinds) == {"fidelity.composite.term": 1.0, "fidelity.composites": 1.0}
    real_terms = set(df["term"])
    assert np.mean([t in real_terms for t in out.column("term").to_pylist()]) < 0.05  # not copied
    # a generator that draws the term on its own (a category, as before) is told apart
    shuffled = df.assign(term=df["term"].sample(frac=1.0, random_state=0).to_numpy())
    assert composites.scores(df, shuffled, kinds)["fidelity.composites"] < 0.1


def test_labels_of_city_and_state_and_unrelated_text_alone():
    rng = np.random.default_rng(3)
    cities = [f"City{i}" for i in range(60)]
    states = dict(zip(cities, rng.choice(["WA", "OR", "CA", "NV"], 60)))
    city = rng.choice(cities, 500)
    df = pd.DataFrame(
        {
            "city": city,
            "state": [states[c] for c in city],
            "label": [f"{c}, {states[c]}" for c in city],
            "note": [f"item {w}" for w in rng.choice([f"w{i}" for i in range(80)], 500)],  # shares no part
        }
    )
    found = composites.find(
        arrow(df), {"city": "categorical", "state": "categorical", "label": "categorical", "note": "categorical"}
    )
    assert [(c["column"], c["slots"], c["default"]) for c in found] == [
        ("label", [["city", None], ["state", None]], [0, ", ", 1])
    ]


def test_a_kind_the_user_sets_is_kept():
    table = arrow(senators())
    schema = infer_schema(table, {"term": "categorical"})
    assert schema.composites == [] and schema.column("term").kind == "categorical"


def test_dates_held_as_text_are_read_for_the_term():
    """The suite reads CSV files with pandas: the dates arrive as text (`1887-05-12 00:00:00`), and
    the open rows' end is the extraction moment with a fraction of a second."""
    df = senators()
    text = df.assign(
        start=df["start"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        end=np.where(df["reason"].isna(), "2013-10-01 22:20:10.165196", df["end"].dt.strftime("%Y-%m-%d %H:%M:%S")),
    )
    table = arrow(text)
    schema = infer_schema(table)
    assert schema.column("end").kind == "datetime" and schema.column("end").grid == "D"
    assert [c["column"] for c in schema.composites] == ["term"]
    enc = TabularEncoder.fit(table, schema, n_bins=20)
    tokens = np.stack([np.random.default_rng(4).integers(0, k, 1000) for k in enc.layout.cardinalities], axis=1)
    out = enc.decode(tokens, np.random.default_rng(5))
    kinds = {c.name: c.kind for c in schema.columns}
    assert composites.scores(text, out, kinds)["fidelity.composites"] == 1.0
    ends = out.column("end").to_pylist()
    assert all(e is None or e.endswith(" 00:00:00") or e == "2013-10-01 22:20:10.165196" for e in ends)


def test_a_label_with_a_year_its_columns_add_up_to():
    """lifelines' dd.csv: `Mohammad Zahir Shah.Afghanistan.1946.1952.Monarchy` is the leader, the
    country, the start year, start_year + duration - 1 (no column holds it) and the regime; a
    one-year spell writes its year twice."""
    rng = np.random.default_rng(6)
    n = 300
    start = rng.integers(1946, 2000, n)
    duration = np.where(rng.random(n) < 0.3, 1, rng.integers(2, 30, n))
    df = pd.DataFrame(
        {
            "country": rng.choice(["Afghanistan", "Albania", "Chile", "Ghana"], n),
            "leader": [f"Leader {w}" for w in rng.choice(["Ames", "Bo", "Cruz", "Dane", "Eyre"], n)],
            "start_year": start,
            "duration": duration,
            "regime": rng.choice(["Monarchy", "Civilian Dict", "Parliamentary Dem"], n),
        }
    )
    df["spell"] = [
        f"{r.leader}.{r.country}.{r.start_year}.{r.start_year + r.duration - 1}.{r.regime}" for r in df.itertuples()
    ]
    kinds = {"country": "categorical", "leader": "categorical", "start_year": "integer", "duration": "integer"}
    kinds |= {"regime": "categorical", "spell": "text"}
    (comp,) = composites.find(arrow(df), kinds)
    assert comp["column"] == "spell"
    assert [["start_year", "duration"], "-1"] in comp["slots"]
    assert composites.render(comp, arrow(df), kinds).to_pylist() == df["spell"].tolist()
    shifted = df.assign(duration=df["duration"] + 1)  # another row's arithmetic: told apart
    assert composites.scores(df, shifted, kinds)["fidelity.composites"] == 0.0


def test_generated_rows_keep_their_label_after_redraws_and_requested_values(tmp_path):
    """Generation replaces values after decoding: rows copying a training row are redrawn (the
    label kept its first draw: 11 % of dd's labels named another row's country) and
    generate.condition writes a requested number exactly. The label follows the row's final values."""
    import json

    import pyarrow.parquet as pq

    from synthgen import pipeline
    from synthgen.config import load_config
    from tests.test_copies import VAE

    rng = np.random.default_rng(0)  # test_copies' lumpy table: a few % of the draws copy a training row

    def table(lo: int, n: int) -> pd.DataFrame:
        df = pd.DataFrame({"a": rng.choice(["pa", "qb", "rc"], n), "x": rng.integers(lo, lo + 300, n)})
        return df.assign(label=[f"{a}-{x} units" for a, x in zip(df["a"], df["x"])])

    train, holdout = table(0, 300), table(1000, 60)
    pq.write_table(arrow(train), tmp_path / "train.parquet")
    pq.write_table(arrow(holdout), tmp_path / "holdout.parquet")
    base = [
        *VAE,  # test_copies' small VAE
        "data=file",
        f"data.path={tmp_path / 'train.parquet'}",
        f"data.holdout_path={tmp_path / 'holdout.parquet'}",
        f"paths.out_dir={tmp_path / 'out'}",
        f"paths.mlflow_dir={tmp_path / 'mlruns'}",
        "generate.n_rows=3000",
        "generate.chunk_rows=1000",
        "encoder.n_bins=4",
    ]
    cfg = load_config(base)
    for stage in ("prepare", "encode", "train", "generate"):
        pipeline.STAGES[stage](cfg)
    out = tmp_path / "out"
    kinds = {c["name"]: c["kind"] for c in json.loads((out / "prepared" / "schema.json").read_text())["columns"]}
    assert kinds["label"] == "text"
    manifest = json.loads((out / "synthetic" / "_manifest.json").read_text())
    assert manifest["metrics"]["copies_redrawn"] > 0
    assert composites.scores(train, pq.read_table(out / "synthetic"), kinds)["fidelity.composites"] == 1.0
    cfg = load_config([*base, "generate.condition.x=7", f"generate.out_dir={tmp_path / 'sevens'}"])
    pipeline.STAGES["generate"](cfg)
    sevens = pq.read_table(tmp_path / "sevens")
    assert set(sevens.column("x").to_pylist()) == {7}
    assert all(v.endswith("-7 units") for v in sevens.column("label").to_pylist())
