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
    assert all(t.startswith("synthgen.models.") for t in fams)
    assert "numpy.savetxt" not in fams and "synthgen.models.base.Generator" not in fams


def test_model_file_bytes_do_not_depend_on_the_run(trained, tmp_path):
    """Two exports of the same weights are the same bytes (DVC must not see a changed file); torch.save
    to a file would store the random temporary file name inside the zip."""
    from synthgen.checkpoint import export_generator, load_generator

    model = load_generator(trained / "out" / "model" / "model.ckpt")
    config = torch.load(trained / "out" / "model" / "model.ckpt", map_location="cpu", weights_only=True)["model_config"]
    export_generator(model, config, tmp_path / "a" / "model.ckpt")
    export_generator(model, config, tmp_path / "b" / "model.ckpt")
    assert (tmp_path / "a" / "model.ckpt").read_bytes() == (tmp_path / "b" / "model.ckpt").read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["model.ckpt"]  # no temporary file left


HOLD_LOCK = """
import sys
from synthgen.locking import out_dir_lock
with out_dir_lock(sys.argv[1], "train"):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes stdin (or kills this process)
"""


def _holder(out):
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    p = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(),
    )
    assert p.stdout.readline().strip() == "held"
    return p


def test_second_run_into_a_folder_in_use_stops_with_one_line(tmp_path, adult_small):
    """Two real processes: while one holds paths.out_dir, `synthgen prepare` into it stops with one line
    naming the holder's pid and writes nothing; once the holder exits the lock file is gone."""
    out = tmp_path / "out"
    holder = _holder(out)
    try:
        proc = run_cli("prepare", f"paths.out_dir={out}", "data=file", f"data.path={adult_small}")
        assert_one_line_error(proc, "in use", f"pid {holder.pid}", "synthgen train")
        assert [p.name for p in out.iterdir()] == [".synthgen.lock"]
    finally:
        holder.communicate("")  # closing stdin releases the lock
    assert holder.returncode == 0 and not out.exists()  # released; the folder it created was empty


def test_lock_of_a_killed_run_is_stale(tmp_path):
    """A holder killed with SIGKILL leaves its lock file, but the lock itself died with it."""
    from synthgen.locking import out_dir_lock, read_owner

    out = tmp_path / "out"
    holder = _holder(out)
    assert read_owner(out / ".synthgen.lock")["pid"] == holder.pid
    holder.kill()
    holder.wait()
    assert (out / ".synthgen.lock").exists()
    with out_dir_lock(out, "prepare"):
        assert read_owner(out / ".synthgen.lock")["pid"] != holder.pid
        with out_dir_lock(out, "encode"):  # re-entrant within one process (`synthgen run`)
            pass
    assert not (out / ".synthgen.lock").exists()


def test_ddp_workers_and_run_children_do_not_take_the_lock(tmp_path, monkeypatch):
    """Workers Lightning re-launches (LOCAL_RANK > 0) and the stage subprocesses of `synthgen run`
    under DDP (SYNTHGEN_LOCK_OWNER naming their parent) run under their launcher's lock."""
    from synthgen import locking

    out = tmp_path / "out"
    holder = _holder(out)
    try:
        monkeypatch.setenv("LOCAL_RANK", "1")
        with locking.out_dir_lock(out, "train"):
            pass
        monkeypatch.setenv("LOCAL_RANK", "0")
        monkeypatch.setenv(locking.OWNER_ENV, f"{holder.pid}:{locking.lock_path(out)}")
        monkeypatch.setattr(locking.os, "getppid", lambda: holder.pid)
        with locking.out_dir_lock(out, "train"):
            pass
        monkeypatch.setattr(locking.os, "getppid", lambda: 1)  # someone else's token: refused
        with pytest.raises(locking.SynthgenError, match=f"pid {holder.pid}"):
            with locking.out_dir_lock(out, "train"):
                pass
    finally:
        holder.communicate("")


@pytest.mark.parametrize(
    "args,needle",
    [
        (("ui", "port=abc"), "port='abc'"),
        (("prepare", "data=file"), "data.path is not set"),
        (("train", "model=vaee"), "choose one of: gan, transformer, vae"),
        (("train", "trainer=dpp"), "choose one of: cpu, ddp, gpu"),
    ],
)
def test_cli_mistakes_are_one_line(tmp_path, args, needle):
    proc = run_cli(*args, f"paths.out_dir={tmp_path / 'out'}")
    assert_one_line_error(proc, needle)
    assert not (tmp_path / "out").exists()


def test_stage_help_prints_usage():
    proc = run_cli("train", "--help")
    assert proc.returncode == 0 and proc.stdout.startswith("usage: synthgen") and not proc.stderr.strip()


@pytest.mark.parametrize(
    "stage,artifact,content,rerun",
    [
        ("generate", "encoder/encoder.json", b"[]", "synthgen encode"),
        ("train", "model/checkpoints/last.ckpt", None, "synthgen train"),  # truncated
    ],
)
def test_damaged_artifacts_through_the_cli(trained, tmp_path, stage, artifact, content, rerun):
    ov = copy_run(trained, tmp_path, extra=("ckpt_path=last",) if stage == "train" else ())
    path = tmp_path / "out" / artifact
    path.write_bytes(content if content is not None else path.read_bytes()[:1000])
    assert_one_line_error(run_cli(stage, *ov), str(path), rerun)


def test_runs_of_killed_processes_are_marked_killed(tmp_path):
    """A run left RUNNING by a process that is gone (kill -9) is marked KILLED when the next stage
    starts a run; a run whose process is alive stays RUNNING."""
    import socket
    import subprocess
    import sys

    from synthgen import tracking
    from synthgen.config import load_config
    from synthgen.paths import RunPaths

    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}", f"paths.mlflow_dir={tmp_path / 'mlruns'}"])
    paths = RunPaths.from_config(cfg)
    c = tracking.client(cfg, paths)
    exp = tracking.experiment_id(c, cfg, paths)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    host = socket.gethostname()
    killed = c.create_run(exp, tags={tracking.PID_TAG: dead, tracking.HOST_TAG: host})
    alive = c.create_run(exp, tags={tracking.PID_TAG: "1", tracking.HOST_TAG: host})
    c2, run_id = tracking.start_child_run(cfg, paths, "evaluate")
    assert c.get_run(killed.info.run_id).info.status == "KILLED"
    assert c.get_run(alive.info.run_id).info.status == "RUNNING"
    assert c.get_run(run_id).data.tags[tracking.PID_TAG] == str(__import__("os").getpid())


@pytest.mark.parametrize("exchange", [True, False])
def test_replace_dir_keeps_one_complete_folder(tmp_path, monkeypatch, exchange):
    from synthgen import io

    if not exchange:  # the two-rename path (filesystems without renameat2)
        monkeypatch.setattr(io, "_exchange", lambda a, b: False)
    final, new = tmp_path / "synthetic", tmp_path / ".synthetic.partial"
    final.mkdir()
    (final / "a").write_text("old")
    new.mkdir()
    (new / "a").write_text("new")
    io.replace_dir(new, final)
    assert (final / "a").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["synthetic"]


def test_interrupted_folder_swap_is_restored_by_the_next_stage(trained, tmp_path):
    """A run killed between replace_dir's two renames leaves no synthetic/ but .synthetic.old (and its
    staging folders): the next stage, under the lock, restores the old folder and drops the rest."""
    from synthgen import pipeline
    from synthgen.config import load_config
    from tests.hardening_helpers import tree

    ov = copy_run(trained, tmp_path)
    out = tmp_path / "out"
    pipeline.generate(load_config(ov))
    before = tree(out / "synthetic")
    (out / "synthetic").rename(out / ".synthetic.old")  # the state between the two renames
    (out / ".synthetic.partial").mkdir()
    (out / ".synthetic.partial" / "part-000000.parquet").write_bytes(b"half")
    (out / f".prepared.{'0' * 32}.partial").mkdir()
    (out / "encoder" / f".encoder.json.{'1' * 32}.tmp").write_text("{")
    (out / "keep.tmp").write_text("a user's file")  # not a name synthgen makes: left alone
    pipeline.encode(load_config(ov))
    assert tree(out / "synthetic") == before
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    assert sorted(p.name for p in (out / "encoder").iterdir()) == ["encoder.json"]
    assert (out / "keep.tmp").exists()


def test_evaluate_of_a_column_at_the_float_limits_warns_nothing():
    """A column holding +-1e308 made np.round(x, 14) overflow (six RuntimeWarnings in evaluate)."""
    import warnings

    import numpy as np
    import pandas as pd

    from synthgen.evaluate import EvalConfig, evaluate_tables

    def table(seed):
        r = np.random.default_rng(seed)
        return pd.DataFrame({"x": r.choice([-1e308, 1e308, 0.0, 5.5], 120), "c": r.choice(list("ab"), 120)})

    cfg = EvalConfig.from_mapping({"detection_folds": 2, "seed": 0, "target": "c", "sensitive": []})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        out = evaluate_tables(table(0), table(1), table(2), {"x": "continuous", "c": "categorical"}, cfg)
    assert 0 <= out["fidelity.shape"] <= 1


def _png(path):
    import io as _io

    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    buf = _io.BytesIO()
    Image.new("L", (4, 4), 128).save(buf, "PNG")
    path.write_bytes(buf.getvalue())


def test_image_class_folder_names_are_checked_when_read(tmp_path, caplog):
    """`a\\b` passed prepare and train and failed only in generate; a hidden class folder was skipped
    without a word."""
    from synthgen.errors import SynthgenError
    from synthgen.image_sources import load_image_source

    for name in ("cat", "dog", ".ipynb_checkpoints"):
        _png(tmp_path / "ok" / name / "a.png")
    with caplog.at_level("WARNING", logger="synthgen"):
        s = load_image_source({"kind": "folder", "path": str(tmp_path / "ok")})
    assert s.class_names == ["cat", "dog"] and ".ipynb_checkpoints" in caplog.text
    for name in ("cat", "a\\b"):
        _png(tmp_path / "bad" / name / "a.png")
    with pytest.raises(SynthgenError, match=r"class name 'a\\\\b'"):
        load_image_source({"kind": "folder", "path": str(tmp_path / "bad")})


HANDOFF = """
import subprocess, sys
from synthgen.locking import child_env, out_dir_lock
out, args = sys.argv[1], sys.argv[2:]
cmd = [sys.executable, "-m", "synthgen.cli", "prepare", *args]
with out_dir_lock(out, "run"):  # as `synthgen run` does under DDP
    handed = subprocess.run(cmd, env=child_env(out)).returncode
    other = subprocess.run(cmd, capture_output=True).returncode
print(handed, other)
"""


def test_run_hands_its_lock_to_its_stage_subprocesses(tmp_path, adult_small):
    """Real processes: a holder's own stage subprocess runs under its lock; any other process is refused."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", HANDOFF, str(out), f"paths.out_dir={out}", "data=file", f"data.path={adult_small}"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=600,
    )
    assert proc.stdout.split() == ["0", "2"], proc.stderr[-2000:]
    assert (out / "prepared" / "schema.json").exists() and not (out / ".synthgen.lock").exists()
