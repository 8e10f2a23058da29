"""The README's commands run as written: every shell block is extracted; every `synthgen` and
`dvc exp run -S` command's overrides compose (so no README key is stale), and the cheap commands
(`synthgen --help`, `synthgen compose ...`) run for real from the venv's bin, as after
`. .venv/bin/activate`."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from synthgen.cli import PIPELINE
from synthgen.config import load_config
from synthgen.registry import split_model_ref
from tests.conftest import BIN, ROOT, subprocess_env

TOOLS = {
    "make",
    "synthgen",
    "torchrun",
    "srun",
    "dvc",
    "cd",
    ".",
    "mlflow",
    "curl",
    "MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db",
}


def shell_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():  # a trailing backslash continues the line
            words = shlex.split(line, comments=True)  # quotes removed as the shell does; comments dropped
            while words:  # `a && b` is two commands
                cut = words.index("&&") if "&&" in words else len(words)
                out.append(words[:cut])
                words = words[cut + 1 :]
    return out


def test_the_readme_says_to_activate_the_venv_after_make_demo():
    cmds = [" ".join(c) for c in shell_commands()]
    assert cmds.index(". .venv/bin/activate") == cmds.index("make demo") + 2  # after make demo, make test


def test_every_readme_command_uses_a_known_tool_and_valid_config_keys():
    commands = shell_commands()
    assert len(commands) >= 15
    for words in commands:
        assert words[0] in TOOLS, words
        if words[0] == "synthgen":
            stage, overrides = words[1], [w for w in words[2:] if w != "..."]  # `...`: "as above"
            assert stage in PIPELINE + ("run", "summary", "compose", "ui", "--help"), words
            if stage == "generate":
                _, overrides = split_model_ref(overrides)
            if "-m" in overrides:  # a sweep: every job's overrides compose
                from synthgen.sweep import SWEEP_DIR_KEY, expand

                for job in expand([o for o in overrides if o != "-m" and not o.startswith(SWEEP_DIR_KEY)]):
                    load_config(job)
                continue
            load_config(overrides)  # raises SynthgenError for an unknown key or a bad value
        elif words[:3] == ["dvc", "exp", "run"]:
            load_config([words[i + 1] for i, w in enumerate(words) if w == "-S"])


@pytest.mark.parametrize("args", [["--help"], ["compose"], ["compose", "model=vae", "trainer.max_epochs=40"]])
def test_cheap_commands_run_from_the_venv(args):
    proc = subprocess.run(
        [str(BIN / "synthgen"), *args], cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    if args[0] == "--help":
        assert "usage: synthgen <stage>" in proc.stdout
    else:
        assert "model:" in proc.stdout and "evaluate:" in proc.stdout
        if "model=vae" in args:
            assert "max_epochs: 40" in proc.stdout and "models.vae" in proc.stdout
