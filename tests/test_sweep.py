"""`synthgen run -m key=a,b`: Hydra's sweep syntax, one whole pipeline per combination (synthgen/sweep.py)."""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from synthgen import cli
from synthgen.errors import SynthgenError
from synthgen.sweep import expand, job_label, sweep_keys
from tests.conftest import TINY


def test_expand_is_the_product_of_the_swept_values_in_command_line_order():
    jobs = expand(["model=gan,vae", "seed=range(0,2)", "data.sensitive=[sex,race]", "trainer.max_epochs=1"])
    assert [j[:2] for j in jobs] == [
        ["model=gan", "seed=0"],
        ["model=gan", "seed=1"],
        ["model=vae", "seed=0"],
        ["model=vae", "seed=1"],
    ]
    assert all(j[2:] == ["data.sensitive=[sex,race]", "trainer.max_epochs=1"] for j in jobs)  # a list is no sweep
    assert sweep_keys(["model=choice(gan,vae)", "seed=3"]) == ["model"]
    assert job_label(jobs[1], ["model", "seed"]) == "model-gan_seed-1"  # no '=' (Hydra syntax in paths.out_dir=)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["run", "-m", "seed=interval(0,1)"], "list the values to sweep"),
        (["run", "-m", "seed=1"], "none given"),
        (["train", "-m", "model=gan,vae"], "synthgen run -m"),
        (["run", "model=gan,vae"], "several values are a sweep: synthgen run -m model=gan,vae"),
        (["run", "-m", "model=gan,nosuch"], "nosuch"),  # every combination composes before any job runs
    ],
)
def test_bad_sweeps_are_one_line_errors_and_leave_nothing(tmp_path, capsys, argv, words):
    code = cli.main([*argv, f"paths.out_dir={tmp_path / 'out'}", f"hydra.sweep.dir={tmp_path / 'sweep'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and words in err and len(err.splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []


def test_sweep_folder_must_be_new(tmp_path):
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "old.txt").write_text("kept")
    with pytest.raises(SynthgenError, match="not empty"):
        from synthgen.config import load_config
        from synthgen.sweep import run_sweep

        run_sweep(["seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"], None, lambda job: None, load_config)
    assert [p.name for p in (tmp_path / "sweep").iterdir()] == ["old.txt"]


@pytest.mark.slow
def test_two_family_sweep_runs_two_pipelines_and_compares_them(tmp_path, capsys):
    tiny = [o for o in TINY if not o.startswith("model.")]  # the transformer's sizes are not the VAE's keys
    sweep = tmp_path / "sweep"
    code = cli.main(
        [
            "run",
            "-m",
            "model=transformer,vae",
            *tiny,
            f"paths.mlflow_dir={tmp_path / 'mlruns'}",
            "evaluate.gate.enabled=false",
            "logger.log_model=false",
            f"hydra.sweep.dir={sweep}",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed[-3000:]
    table = pd.read_csv(sweep / "sweep.csv")
    assert table["model"].tolist() == ["transformer", "vae"] and (table["status"] == "ok").all()
    assert [p.name for p in sorted(sweep.glob("*-model-*"))] == ["0-model-transformer", "1-model-vae"]
    for out in sweep.glob("*-model-*"):
        assert (out / "evaluation" / "metrics.json").exists() and (out / "synthetic").is_dir()
    assert table["fidelity.shape"].between(0, 1).all() and table["run_id"].nunique() == 2
    assert "transformer" in printed and "vae" in printed and "shape" in printed  # the comparison table

    c = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    exp = c.get_experiment_by_name("synthgen-adult").experiment_id
    tops = c.search_runs([exp], f"tags.`synthgen.sweep` = '{sweep.name}'")
    assert sorted(r.info.run_id for r in tops) == sorted(table["run_id"])
    assert all("mlflow.parentRunId" not in r.data.tags for r in tops)  # one parent run per job
    assert {r.data.tags["synthgen.family"] for r in tops} == {"transformer", "vae"}
    assert all("fidelity.shape" in r.data.metrics for r in tops)  # the runs list compares them in one row each
