"""benchmarks/gpu_check.py: one line and exit 0 without CUDA; the same steps on CPU (slow) give
every figure and byte-identical generation across world sizes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT, subprocess_env

SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def test_skips_with_one_line_without_cuda(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**subprocess_env(), "CUDA_VISIBLE_DEVICES": ""}  # hides any GPU, so the skip path runs everywhere
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu-check: skipped"), proc.stdout
    assert not out.exists()


def test_make_target_runs_the_script():
    assert "gpu-check:" in (ROOT / "Makefile").read_text()
    assert "benchmarks/gpu_check.py" in (ROOT / "Makefile").read_text()


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU smoke run is for machines without a GPU")
def test_cpu_smoke_run_measures_everything(tmp_path):
    out = tmp_path / "gpu.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu-smoke", "--families", "transformer", "--out", str(out)],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    r = json.loads(out.read_text())
    t = r["train_rows_per_s"]["transformer"]
    assert t["32-true"] > 0 and t["bf16-mixed"] > 0 and t["bf16_speedup"] > 0
    assert set(r["ddp_scaling_rows_per_s"]["transformer"]) == {"1", "2"}
    assert r["generate_rows_per_s"]["transformer"] > 0
    assert r["identical_across_world_sizes"]["transformer"] == {"world_sizes": [1, 2], "identical": True}
