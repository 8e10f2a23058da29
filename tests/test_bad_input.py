"""Mistakes a user can make get a one-line error from the CLI and leave no output behind."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import subprocess_env, tiny_overrides


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "synthgen.cli", *args],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        cwd=cwd,
        timeout=300,
    )


def assert_one_line_error(proc, *needles):
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("synthgen: error:"), proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def test_help_lists_stages():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for stage in ("prepare", "encode", "train", "generate", "evaluate", "run", "ui"):
        assert f"  {stage}" in proc.stdout


def _prepare(tmp_path, *extra):
    return run_cli("prepare", *tiny_overrides(tmp_path, *extra))


def test_missing_file(tmp_path):
    proc = _prepare(tmp_path, f"data.path={tmp_path / 'nope.parquet'}")
    assert_one_line_error(proc, "not found", "nope.parquet")
    assert not (tmp_path / "out").exists()


def test_unknown_column_in_config(tmp_path, adult_small):
    proc = _prepare(tmp_path, f"data.path={adult_small}", "data.columns.nosuch.kind=categorical")
    assert_one_line_error(proc, "nosuch")
    assert not (tmp_path / "out" / "prepared").exists()


def test_unknown_target(tmp_path, adult_small):
    proc = _prepare(tmp_path, f"data.path={adult_small}", "data.target=nosuch")
    assert_one_line_error(proc, "nosuch")
    assert not (tmp_path / "out" / "prepared").exists()


@pytest.mark.parametrize(
    "name,table,needle",
    [
        ("empty", pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}), "0 row"),
        ("one_row", pa.table({"a": [1], "b": ["x"]}), "1 row"),
        ("nested", pa.table({"a": [1, 2], "b": [[1], [2]]}), "unsupported type"),
        ("binary", pa.table({"a": [1, 2], "b": pa.array([b"x", b"y"])}), "unsupported type"),
        ("infinite", pa.table({"a": [1.0, float("inf"), 2.0], "b": ["x", "y", "z"]}), "infinite"),
    ],
)
def test_bad_tables(tmp_path, name, table, needle):
    path = tmp_path / f"{name}.parquet"
    pq.write_table(table, path)
    proc = run_cli("prepare", f"paths.out_dir={tmp_path / 'out'}", "data=file", f"data.path={path}")
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ragged_csv(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b\n1,x\n2,y,extra\n")
    proc = run_cli("prepare", f"paths.out_dir={tmp_path / 'out'}", "data=file", f"data.path={path}")
    assert_one_line_error(proc, "ragged.csv")
    assert not (tmp_path / "out").exists()


def test_duplicate_columns(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("a,a\n1,2\n3,4\n")
    proc = run_cli("prepare", f"paths.out_dir={tmp_path / 'out'}", "data=file", f"data.path={path}")
    assert_one_line_error(proc, "duplicate")


def test_bad_override_is_one_line(tmp_path):
    assert_one_line_error(run_cli("train", "trainer.max_epochs=many"), "expected an integer")
    assert_one_line_error(run_cli("train", "nosuchkey=1"), "nosuchkey")


@pytest.mark.parametrize("stage", ["generate", "run"])
def test_unknown_generate_precision(tmp_path, stage):
    """Refused when the config is read: `run` does not train first and fail at generating."""
    out = tmp_path / "out"
    assert_one_line_error(run_cli(stage, "generate.precision=16", f"paths.out_dir={out}"), "native, bf16, 32")
    assert not out.exists()


def test_generate_before_train(tmp_path):
    assert_one_line_error(run_cli("generate", f"paths.out_dir={tmp_path / 'out'}"), "synthgen encode")


def test_unmeetable_condition(tmp_path, adult_small):
    """An unseen category is refused before any sampling."""
    ov = tiny_overrides(tmp_path, f"data.path={adult_small}")
    for stage in ("prepare", "encode"):
        assert run_cli(stage, *ov).returncode == 0
    from synthgen.config import load_config
    from synthgen.encoders import TabularEncoder
    from synthgen.errors import SynthgenError
    from synthgen.paths import RunPaths

    enc = TabularEncoder.load(RunPaths.from_config(load_config(ov)).encoder)
    with pytest.raises(SynthgenError, match="Martian"):
        enc.condition_tokens({"race": "Martian"})
    with pytest.raises(SynthgenError, match="unknown column"):
        enc.condition_tokens({"nosuch": 1})
