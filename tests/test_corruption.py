"""Every artifact a stage reads, damaged after the fact (truncated, emptied, garbage, valid JSON or a
valid torch file of the wrong shape, missing): the next stage stops with one line naming the file and
the stage to rerun, and changes nothing on disk."""

from __future__ import annotations

import shutil

import pytest
import torch

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from tests.conftest import tiny_overrides
from tests.hardening_helpers import complete_run, tree


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """prepare -> encode -> train -> generate on 400 Adult rows (the tiny settings), in this process."""
    root = tmp_path_factory.mktemp("done")
    complete_run(root)
    return root


def _truncate(p):
    p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 2)])


DAMAGE = {
    "truncated": _truncate,
    "empty": lambda p: p.write_bytes(b""),
    "garbage": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "json_list": lambda p: p.write_text("[]"),
    "json_other_version": lambda p: p.write_text('{"version": 2}'),
    "json_wrong_shape": lambda p: p.write_text('{"columns": 3, "version": 2, "files": "x", "schema": []}'),
    "torch_list": lambda p: torch.save([1, 2, 3], p),
    "torch_no_weights": lambda p: torch.save({"state_dict": [], "model_config": {}, "layout": {}}, p),
    "missing": lambda p: p.unlink(),
}
JSON = ("truncated", "empty", "garbage", "json_list", "json_other_version", "json_wrong_shape")
TORCH = ("truncated", "empty", "garbage", "torch_list", "torch_no_weights")
PARQUET = ("truncated", "empty", "garbage")
# artifact (relative to out/) -> (the stage that reads it, overrides, the stage the message names, damages)
ARTIFACTS = {
    "prepared/schema.json": ("encode", (), "prepare", JSON),
    "prepared/train.parquet": ("encode", (), "prepare", PARQUET),
    "prepared/holdout.parquet": ("generate", (), "prepare", PARQUET),  # read by the copy guard
    "encoder/encoder.json": ("generate", (), "encode", JSON),
    "model/model.ckpt": ("generate", (), "train", TORCH),
    "model/checkpoints/last.ckpt": ("train", ("ckpt_path=last",), "train", TORCH),
    "synthetic/_manifest.json": ("evaluate", (), "generate", JSON),
    "synthetic/part-000000.parquet": ("evaluate", (), "generate", (*PARQUET, "missing")),
}
CASES = [(a, d) for a, (_, _, _, damages) in ARTIFACTS.items() for d in damages]


@pytest.mark.parametrize("artifact,damage", CASES, ids=[f"{a.rsplit('/', 1)[-1]}-{d}" for a, d in CASES])
def test_damaged_artifact_is_one_line_naming_file_and_stage(done, tmp_path, artifact, damage):
    shutil.copytree(done / "out", tmp_path / "out")
    stage, extra, rerun, _ = ARTIFACTS[artifact]
    path = tmp_path / "out" / artifact
    DAMAGE[damage](path)
    before = tree(tmp_path / "out")
    with pytest.raises(SynthgenError) as e:
        pipeline.STAGES[stage](load_config(tiny_overrides(tmp_path, *extra)))
    msg = str(e.value)
    assert "\n" not in msg
    assert str(path) in msg, msg
    assert f"synthgen {rerun}" in msg, msg
    assert tree(tmp_path / "out") == before  # nothing written, nothing removed
    assert not any(p.name.endswith((".partial", ".tmp")) for p in (tmp_path / "out").rglob("*"))
