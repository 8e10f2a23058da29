"""`synthgen <stage> [key=value ...]`: run a pipeline stage with Hydra overrides."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

from synthgen.errors import SynthgenError

USAGE = """usage: synthgen <stage> [key=value ...] [--params params.yaml]

stages:
  prepare    read and validate data.path (images: data.source), infer the schema, split a holdout
  encode     fit the encoder (state as JSON)
  train      train the generator (model=transformer ...), checkpoints, MLflow run
  generate   write Parquet shards (images: PNG class folders) + manifest to <paths.out_dir>/synthetic
  evaluate   write metrics.json, plots and report.html; fails when the privacy gate fails
  run        all of the above, in order; run -m model=gan,vae,transformer: one pipeline per value
             (Hydra sweep syntax), each in its own out dir and MLflow run, then a comparison table
  summary    print where the outputs are and the headline figures
  compose    print the composed config (what params.yaml holds)
  ui         serve the MLflow dashboard on 127.0.0.1 (port=5000)

examples:
  synthgen run data=file data.path=my.parquet data.target=label
  synthgen train model=transformer trainer.max_epochs=3
  synthgen train ckpt_path=last          # resume
  synthgen generate generate.n_rows=100000 generate.condition.sex=Female
  synthgen generate generate.rebalance.column=income generate.rebalance.share=0.5
  synthgen generate generate.out_dir=outputs/big generate.n_rows=1000000   # keeps outputs/synthetic
  synthgen generate model=models:/synthgen-adult/1   # or run_id=<train run id>: a model from MLflow
  synthgen evaluate synthetic.path=other_tool.csv    # score any tool's table against data.path
  synthgen run data=mnist5k model=gan    # images: the same stages and families
  synthgen run -m model=gan,vae,transformer  # a sweep: outputs/multirun/<time>/<n>-model-<family>/

--params FILE reads an already composed config (DVC's params.yaml) instead of conf/.
"""

PIPELINE = ("prepare", "encode", "train", "generate", "evaluate")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    stage, rest = argv[0], argv[1:]
    if any(a in ("-h", "--help") for a in rest):  # `synthgen train --help`
        print(USAGE)
        return 0
    params_file = None
    if "--params" in rest:
        i = rest.index("--params")
        if i + 1 >= len(rest):
            return _fail("--params needs a file, e.g. --params params.yaml")
        params_file = rest[i + 1]
        rest = rest[:i] + rest[i + 2 :]
    multirun = any(a in ("-m", "--multirun") for a in rest)
    rest = [a for a in rest if a not in ("-m", "--multirun")]
    _quiet_logs(stage)
    from omegaconf.errors import MissingMandatoryValue

    try:
        if multirun:
            return _sweep(stage, rest, params_file)
        return _dispatch(stage, rest, params_file)
    except SynthgenError as e:
        if "Ambiguous value" in str(e):  # Hydra's words for `model=gan,vae` without -m
            return _fail(f"{e}; several values are a sweep: synthgen run -m {' '.join(rest)}")
        return _fail(str(e))
    except MissingMandatoryValue as e:  # a `???` the stage needs, e.g. `data=file` without data.path
        key = getattr(e, "full_key", None) or "a required setting"
        return _fail(f"{key} is not set; add {key}=<your file or folder>")


def _dispatch(stage: str, overrides: list[str], params_file) -> int:
    from synthgen.config import composed_yaml, load_config

    if stage == "compose":
        print(composed_yaml(overrides), end="")
        return 0
    if stage == "ui":
        port = next((o.split("=", 1)[1] for o in overrides if o.startswith("port=")), "5000")
        if not (port.isdigit() and 0 < int(port) < 65536):
            raise SynthgenError(f"port={port!r}: expected a port number between 1 and 65535, e.g. port=5000")
        cfg = load_config([o for o in overrides if not o.startswith("port=")], params_file)
        return _serve_ui(cfg, int(port))
    if stage not in PIPELINE + ("run", "summary"):
        raise SynthgenError(
            f"unknown stage '{stage}'; use one of: {', '.join(PIPELINE + ('run', 'summary', 'compose', 'ui'))}"
        )
    if stage == "generate":  # model=models:/<name>/<version> or run_id=<id>: a model from MLflow
        from synthgen.registry import generate_from, split_model_ref

        ref, rest = split_model_ref(overrides)
        if ref is not None:
            generate_from(ref, rest)
            return 0
    cfg = load_config(overrides, params_file)
    from synthgen import pipeline
    from synthgen.errors import GateFailed
    from synthgen.summary import figure_lines, print_summary

    if stage == "summary":
        print_summary(cfg)
    elif stage == "run":
        from synthgen.locking import child_env, out_dir_lock
        from synthgen.paths import RunPaths

        out = RunPaths.from_config(cfg).out
        try:
            with out_dir_lock(out, "run"):  # held across the stages: no other run slips in between
                if "ddp" in str(cfg.trainer.strategy):
                    # Lightning re-launches the current command once per extra rank, so each stage gets
                    # its own process (running under this process's lock) and only the DDP stages start workers.
                    for s in PIPELINE:
                        _run_stage_subprocess(s, overrides, params_file, child_env(out))
                else:
                    for s in PIPELINE:
                        pipeline.STAGES[s](cfg)
        except GateFailed:  # the figures that failed it, then the one-line reason
            print_summary(cfg)
            raise
        print_summary(cfg)
    elif stage == "evaluate":
        try:
            pipeline.evaluate(cfg)
        except GateFailed:  # metrics.json is written before the gate fails: its figures, then the reason
            print("\n".join(figure_lines(cfg)))
            raise
        print("\n".join(figure_lines(cfg)))
    else:
        pipeline.STAGES[stage](cfg)
    return 0


def _sweep(stage: str, overrides: list[str], params_file) -> int:
    """`synthgen run -m model=gan,vae`: one whole pipeline per combination (synthgen/sweep.py)."""
    from synthgen.config import load_config
    from synthgen.sweep import run_sweep

    if stage != "run":
        raise SynthgenError(f"-m (sweep) runs whole pipelines: use 'synthgen run -m ...', not '{stage}'")
    return run_sweep(overrides, params_file, lambda job: _dispatch("run", job, params_file), load_config)


def _run_stage_subprocess(stage: str, overrides, params_file, env=None) -> None:
    cmd = [sys.executable, "-m", "synthgen.cli", stage, *overrides] + (["--params", params_file] if params_file else [])
    if subprocess.run(cmd, env=env).returncode != 0:
        raise SynthgenError(f"stage '{stage}' failed (see its message above)")


def _serve_ui(cfg, port: int) -> int:
    from synthgen.paths import RunPaths
    from synthgen.tracking import ui_command, ui_env

    paths = RunPaths.from_config(cfg)
    cmd = ui_command(paths, port)
    print(
        f"MLflow dashboard: {_runs_url(cfg, paths, f'http://127.0.0.1:{port}')}\n"
        f"  (store {paths.tracking_uri}); Ctrl-C stops it",
        flush=True,
    )
    os.execvpe(cmd[0], cmd, ui_env())  # replaces this process; Ctrl-C reaches MLflow directly
    return 0


def _runs_url(cfg, paths, base: str) -> str:
    """The runs list with the comparison columns (synthgen/dashboard.py) when the store has the
    experiment (a store made by an older version gets the view's tag now); the experiments list
    otherwise (no store or experiment is created here)."""
    from synthgen.dashboard import runs_url

    exp_id = None
    if (paths.mlflow_dir / "mlflow.db").exists():
        from synthgen.tracking import client, experiment_id

        c = client(cfg, paths)
        if c.get_experiment_by_name(cfg.logger.experiment_name) is not None:
            exp_id = experiment_id(c, cfg, paths)
    return runs_url(base, exp_id)


def _quiet_logs(stage: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if stage in ("train", "generate", "run"):
        import pytorch_lightning  # noqa: F401  (it sets its own loggers to INFO on import; then we lower them)
    for name in ("alembic", "mlflow", "lightning", "pytorch_lightning", "lightning_fabric", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning, module="pytorch_lightning")
    warnings.filterwarnings("ignore", category=FutureWarning)


def _fail(message: str) -> int:
    print(f"synthgen: error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
