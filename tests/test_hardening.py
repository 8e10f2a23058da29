"""Issue #13: a model file cannot run code; broken model files give one line naming the file."""
from __future__ import annotations

import pytest
import torch

from tests.hardening_helpers import assert_one_line_error, complete_run, copy_run, run_cli


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny prepared, encoded and trained run (no generation): model.ckpt is real."""
    root = tmp_path_factory.mktemp("trained")
    complete_run(root, stages=("prepare", "encode", "train"))
    return root


def _craft(model_path, edit):
    state = torch.load(model_path, map_location="cpu", weights_only=True)
    edit(state)
    torch.save(state, model_path)


@pytest.mark.parametrize("where", ["nested", "top", "in_list", "layout"])
def test_crafted_model_file_cannot_run_code(trained, tmp_path, where):
    """A model file whose config names numpy.savetxt (still loadable with weights_only=True) must not
    call it: hydra would have written `pwned.txt`; now generate stops with one line naming the file."""
    ov = copy_run(trained, tmp_path)
    target = tmp_path / "pwned.txt"
    call = {"_target_": "numpy.savetxt", "fname": str(target), "X": [1.0, 2.0]}

    def edit(state):
        cfg = state["model_config"]
        if where == "nested":
            cfg["d_model"] = call
        elif where == "top":
            state["model_config"] = {**call, "d_model": 16}
        elif where == "in_list":
            cfg["extra"] = [1, {"x": call}]
        else:
            state["layout"]["columns"] = call
    model = tmp_path / "out" / "model" / "model.ckpt"
    _craft(model, edit)
    if where == "nested":  # through the CLI: one line, no traceback
        assert_one_line_error(run_cli("generate", *ov), str(model))
    else:  # the same stage in this process (a CLI start costs seconds)
        from synthgen import pipeline
        from synthgen.config import load_config
        from synthgen.errors import SynthgenError

        with pytest.raises(SynthgenError, match="model.ckpt"):
            pipeline.generate(load_config(ov))
    assert not target.exists()
    assert not (tmp_path / "out" / "synthetic").exists()
    assert not (tmp_path / "out" / ".synthetic.partial").exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "not_a_dict", "wrong_kwargs"])
def test_broken_model_file_is_one_line(trained, tmp_path, damage):
    from synthgen.checkpoint import load_generator
    from synthgen.errors import SynthgenError

    copy_run(trained, tmp_path)
    model = tmp_path / "out" / "model" / "model.ckpt"
    data = model.read_bytes()
    if damage == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        model.write_bytes(b"")
    elif damage == "garbage":
        model.write_bytes(b"\x00not a zip\xff" * 100)
    elif damage == "not_a_dict":
        torch.save([1, 2, 3], model)
    else:
        _craft(model, lambda s: s["model_config"].update(no_such_argument=1))
    with pytest.raises(SynthgenError) as e:
        load_generator(model)
    msg = str(e.value)
    assert str(model) in msg and "synthgen train" in msg and "\n" not in msg


def test_allow_list_is_synthgen_families_only():
    from synthgen.checkpoint import allowed_families

    fams = allowed_families()
    assert "synthgen.models.transformer.TabularTransformer" in fams
    assert "synthgen.models.image_vae.ImageVAE" in fams
    assert all(t.startswith("synthgen.models.") for t in fams) and len(fams) == 6
