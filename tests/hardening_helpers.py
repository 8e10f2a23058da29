"""Shared by the hardening tests (test_hardening, test_corruption, test_faults, test_fuzz): the CLI
as a subprocess, the one-line error check, and a complete tiny run to copy and damage."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import subprocess_env, tiny_overrides


def run_cli(*args, cwd=None, timeout=300, env=None):
    return subprocess.run(
        [sys.executable, "-m", "synthgen.cli", *args],
        capture_output=True,
        text=True,
        env=env or subprocess_env(),
        cwd=cwd,
        timeout=timeout,
    )


def assert_one_line_error(proc, *needles) -> str:
    """Exit non-zero, stderr is exactly one `synthgen: error:` line holding every needle."""
    assert proc.returncode != 0, proc.stdout[-2000:]
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("synthgen: error:"), proc.stderr[-3000:]
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def complete_run(root: Path, *extra: str, stages=("prepare", "encode", "train", "generate")) -> list[str]:
    """Run the tiny pipeline in this process under root/out; returns its overrides."""
    from synthgen import pipeline
    from synthgen.config import load_config

    ov = tiny_overrides(root, *extra)
    cfg = load_config(ov)
    for s in stages:
        pipeline.STAGES[s](cfg)
    return ov


def copy_run(src_root: Path, dst_root: Path, extra=()) -> list[str]:
    """A copy of a complete run (out/ and mlruns/) under dst_root; returns overrides pointing at it."""
    for name in ("out", "mlruns"):
        if (src_root / name).exists():
            shutil.copytree(src_root / name, dst_root / name, symlinks=True)
    return tiny_overrides(dst_root, *extra)


def tree(root: Path) -> dict:
    """{relative path: bytes} of every file under root (for before/after comparisons)."""
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
