"""Hypothesis over what a user types and feeds: CLI overrides and small input tables. Whatever comes
in, synthgen either works or stops with its one-line SynthgenError (exit 2), never a traceback."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from synthgen.config import load_config
from synthgen.errors import SynthgenError

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _keys() -> list[str]:
    out = []

    def walk(node, prefix):
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out.append(prefix[:-1])

    walk(OmegaConf.to_container(load_config([]), resolve=True), "")
    return sorted(out)


KEYS = _keys() + [
    "model",
    "trainer",
    "data",
    "experiment",
    "nosuch",
    "data.columns.age.kind",
    "generate.condition.sex",
    "model.image.lr",
    "",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "null",
            "true",
            "false",
            "[]",
            "{}",
            "[1,2",
            "${oops}",
            "${seed}",
            "???",
            "'a'",
            '"',
            "1e308",
            "-1",
            "0",
            "nan",
            "inf",
            "gan",
            "vae",
            "ddp",
            "=",
            "a=b",
            "\\",
            "é",
            "",
        ]
    ),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(str),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
)
OVERRIDE = st.builds(
    lambda pre, k, v: f"{pre}{k}={v}", st.sampled_from(["", "", "", "+", "~", "++"]), st.sampled_from(KEYS), VALUES
)


@FUZZ
@given(st.lists(OVERRIDE, min_size=1, max_size=3))
def test_any_override_composes_or_is_one_line(overrides):
    try:
        load_config(overrides)
    except SynthgenError as e:
        assert "\n" not in str(e) and str(e)


CELLS = {
    "int": st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), min_size=3, max_size=3),
    "float": st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False),
            st.sampled_from([1e308, -1e308, 5e-324]),
        ),
        min_size=3,
        max_size=3,
    ),
    "str": st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=3, max_size=3),
    "bool": st.lists(st.one_of(st.none(), st.booleans()), min_size=3, max_size=3),
}
TABLES = st.lists(st.sampled_from(sorted(CELLS)), min_size=1, max_size=3).flatmap(
    lambda kinds: st.tuples(st.just(kinds), *(CELLS[k] for k in kinds), st.sampled_from(["parquet", "csv"]))
)


@FUZZ
@given(TABLES)
def test_any_small_table_prepares_and_encodes_or_is_one_line(tmp_path_factory, spec):
    """prepare and encode (the stages that read the user's table) on any 3-row table (one held out)."""
    from synthgen import pipeline

    kinds, columns, fmt = spec[0], spec[1:-1], spec[-1]
    root = tmp_path_factory.mktemp("fuzz")
    table = pa.table(
        {
            f"c{i}": pa.array(v, {"int": pa.int64(), "float": pa.float64(), "str": pa.string(), "bool": pa.bool_()}[k])
            for i, (k, v) in enumerate(zip(kinds, columns))
        }
    )
    path = root / f"t.{fmt}"
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    cfg = load_config(
        [
            f"paths.out_dir={root / 'out'}",
            f"paths.mlflow_dir={root / 'mlruns'}",
            "data=file",
            f"data.path={path}",
            "data.holdout_share=0.34",
        ]
    )
    try:
        pipeline.prepare(cfg)
        pipeline.encode(cfg)
    except SynthgenError as e:
        assert "\n" not in str(e)
        assert not (root / "out" / "encoder").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["prepare", "data=file", "data.path=[1"],
        ["train", "trainer.devices=${x}"],
        ["generate", "~paths"],
        ["evaluate", "evaluate.gate=3"],
    ],
)
def test_cli_main_returns_2_with_one_line(argv, tmp_path, capsys):
    """The CLI entry point itself, in this process: exit code 2, one `synthgen: error:` line."""
    from synthgen.cli import main

    rc = main([*argv, f"paths.out_dir={tmp_path / 'out'}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and err[0].startswith("synthgen: error:"), err
