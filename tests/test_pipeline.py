"""A tiny end-to-end pipeline on real Adult rows: prepare -> encode -> train -> generate -> evaluate."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
import torch
from mlflow.tracking import MlflowClient

from synthgen import pipeline
from synthgen.paths import RunPaths
from synthgen.tracking import PIPELINE_TAG, STAGE_TAG


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from synthgen.config import load_config
    from tests.conftest import tiny_overrides

    tmp = tmp_path_factory.mktemp("e2e")
    # The gate is off here: a one-epoch model on 400 rows is not what the gate is about.
    cfg = load_config(tiny_overrides(tmp, "evaluate.gate.enabled=false"))
    result = pipeline.run_all(cfg)
    return cfg, RunPaths.from_config(cfg), result


def test_outputs_have_input_columns_and_types(finished_run):
    cfg, paths, _ = finished_run
    real = pq.read_table(paths.train_table)
    synth = pq.read_table(paths.synthetic)
    assert synth.schema.names == real.schema.names
    assert [f.type for f in synth.schema] == [f.type for f in real.schema]
    assert synth.num_rows == cfg.generate.n_rows
    # Columns with nulls keep some; columns without never get any.
    for name in real.column_names:
        if real.column(name).null_count == 0:
            assert synth.column(name).null_count == 0, name


def test_manifest_lists_every_shard(finished_run):
    cfg, paths, _ = finished_run
    m = json.loads((paths.synthetic / "_manifest.json").read_text())
    assert m["rows"] == cfg.generate.n_rows
    assert [f["path"] for f in m["files"]] == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert not list(paths.out.glob(".*partial*")), "staging folders must be gone"


def test_metrics_json(finished_run):
    _, paths, result = finished_run
    metrics = json.loads((paths.evaluation / "metrics.json").read_text())
    for key in ("fidelity.shape", "fidelity.pair_trends", "utility.roc_auc_ratio", "privacy.dcr_share"):
        assert 0.0 <= metrics[key] <= 2.0, key
    assert metrics["validity.total"] == 0
    assert (paths.evaluation / "report.html").exists()


def test_mlflow_runs_are_grouped(finished_run):
    cfg, paths, _ = finished_run
    client = MlflowClient(tracking_uri=paths.tracking_uri)
    exp = client.get_experiment_by_name(cfg.logger.experiment_name)
    runs = client.search_runs([exp.experiment_id])
    by_stage = {r.data.tags[STAGE_TAG]: r for r in runs}
    assert set(by_stage) == {"train", "generate", "evaluate"}
    train = by_stage["train"]
    assert {r.data.tags[PIPELINE_TAG] for r in runs} == {train.info.run_id}
    assert by_stage["evaluate"].data.tags["mlflow.parentRunId"] == train.info.run_id
    # whole resolved config as params, training curves and evaluation figures as metrics
    assert train.data.params["model.tabular.d_model"] == "16" and train.data.params["data.name"] == "adult"
    # the family's own training settings where train.* leaves them null: conf/model/transformer.yaml's
    # `auto`, synthgen/sizing.py's rule for 400 rows (and the explicit trainer.max_epochs=1)
    assert train.data.tags["synthgen.val_share"] == "0.15" and train.data.tags["synthgen.patience"] == "5"
    assert float(train.data.tags["synthgen.calibration_max_shift"]) > 0  # the head bias refitted
    assert "train_loss" in train.data.metrics and "val_loss" in train.data.metrics
    assert len(client.get_metric_history(train.info.run_id, "val_loss")) >= 1
    assert "fidelity.shape" in by_stage["evaluate"].data.metrics
    arts = {a.path for a in client.list_artifacts(train.info.run_id)}
    assert {"config.yaml", "encoder", "model"} <= arts
    enc_files = {a.path for a in client.list_artifacts(train.info.run_id, "encoder")}
    assert "encoder/encoder.json" in enc_files
    gen_files = {a.path for a in client.list_artifacts(by_stage["generate"].info.run_id)}
    assert "synthetic_preview.csv" in gen_files
    eval_files = {a.path for a in client.list_artifacts(by_stage["evaluate"].info.run_id, "evaluation")}
    assert "evaluation/metrics.json" in eval_files


def test_same_seed_same_bytes(finished_run, tmp_path):
    """Generating again from the same model with the same seed writes identical shards."""
    from synthgen.config import load_config
    from tests.conftest import TINY

    cfg, paths, _ = finished_run
    first = {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")}
    again = load_config(
        [f"paths.out_dir={paths.out}", f"paths.mlflow_dir={paths.mlflow_dir}", *TINY, "evaluate.gate.enabled=false"]
    )
    pipeline.generate(again)
    second = {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")}
    assert first == second
    other = load_config([f"paths.out_dir={paths.out}", f"paths.mlflow_dir={paths.mlflow_dir}", *TINY, "seed=1"])
    pipeline.generate(other)
    assert {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")} != first
    pipeline.generate(again)  # leave the seed-0 output for the other tests


def test_generate_exports_one_csv_or_excel_file_beside_the_shards(finished_run, tmp_path):
    """generate.export=csv / xlsx: every synthetic row, in the shards' order and columns, in one file
    beside the folder; a wrong format or an image set is refused before sampling."""
    import pandas as pd

    from synthgen.config import load_config
    from synthgen.errors import SynthgenError
    from tests.conftest import TINY

    _, paths, _ = finished_run
    base = [f"paths.out_dir={paths.out}", f"paths.mlflow_dir={paths.mlflow_dir}", *TINY, "generate.n_rows=120"]
    out = tmp_path / "syn"
    for fmt in ("csv", "xlsx"):
        pipeline.generate(load_config([*base, f"generate.out_dir={out}", f"generate.export={fmt}"]))
        shards = pq.read_table(out).to_pandas()
        got = pd.read_csv(out.with_name("syn.csv")) if fmt == "csv" else pd.read_excel(out.with_name("syn.xlsx"))
        assert list(got.columns) == list(shards.columns) and len(got) == len(shards) == 120
        assert got["workclass"].fillna("").astype(str).tolist() == shards["workclass"].fillna("").astype(str).tolist()
        assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(SynthgenError, match="generate.export='json' is not a format"):
        pipeline.generate(load_config([*base, f"generate.out_dir={tmp_path / 'x'}", "generate.export=json"]))
    assert not (tmp_path / "x").exists()
    from synthgen.export import export_table

    big = tmp_path / "big"  # a manifest of more rows than a sheet holds: refused, no file begun
    big.mkdir()
    (big / "_manifest.json").write_text(json.dumps({"files": [], "rows": 1_048_576}))
    with pytest.raises(SynthgenError, match="do not fit one Excel sheet"):
        export_table(big, "xlsx")
    assert not list(tmp_path.glob("*big*.xlsx")) and not list(tmp_path.glob(".big*"))


def test_generate_precision_is_recorded_and_32_is_float32(finished_run):
    """generate.precision=32 samples the transformer's trunk in float32 and says so in the manifest;
    the default (native) records what this machine used."""
    from synthgen.config import load_config
    from synthgen.models.blocks import bf16_native
    from tests.conftest import TINY

    cfg, paths, _ = finished_run
    assert cfg.model.tabular._target_.endswith("TabularTransformer")
    manifest = paths.synthetic / "_manifest.json"
    native = "bf16" if bf16_native(torch.device("cpu")) else "32"
    assert json.loads(manifest.read_text())["precision"] == native
    base = [f"paths.out_dir={paths.out}", f"paths.mlflow_dir={paths.mlflow_dir}", *TINY, "evaluate.gate.enabled=false"]
    first = {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")}
    try:
        pipeline.generate(load_config([*base, "generate.precision=32"]))
        assert json.loads(manifest.read_text())["precision"] == "32"
        float32 = {p.name: p.read_bytes() for p in paths.synthetic.glob("part-*.parquet")}
        assert (float32 == first) == (native == "32")  # bf16 moves some draws, float32 none
    finally:
        pipeline.generate(load_config(base))  # leave the default output for the other tests


def test_resume_from_last_checkpoint(finished_run):
    from synthgen.config import load_config
    from tests.conftest import TINY

    cfg, paths, _ = finished_run
    assert (paths.checkpoints / "last.ckpt").exists()
    resumed = load_config(
        [
            f"paths.out_dir={paths.out}",
            f"paths.mlflow_dir={paths.mlflow_dir}",
            *TINY,
            "trainer.max_epochs=2",
            "ckpt_path=last",
        ]
    )
    pipeline.train(resumed)
    import torch

    state = torch.load(paths.checkpoints / "last.ckpt", map_location="cpu", weights_only=True)
    assert state["epoch"] == 1  # continued into the second epoch rather than starting over


def test_conditioned_generation(finished_run):
    from synthgen.config import load_config
    from tests.conftest import TINY

    cfg, paths, _ = finished_run
    out = paths.out.parent / "cond"
    import shutil

    shutil.copytree(paths.out, out)
    c = load_config(
        [
            f"paths.out_dir={out}",
            f"paths.mlflow_dir={paths.mlflow_dir}",
            *TINY,
            "generate.condition.sex=Female",
            "generate.condition.income=>50K",
        ]
    )
    pipeline.generate(c)
    df = pq.read_table(out / "synthetic").to_pandas()
    assert (df["sex"] == "Female").all() and (df["income"] == ">50K").all()


def _states_equal(a: dict, b: dict, but: str = "") -> bool:
    import torch

    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if k != but)


def test_export_keeps_final_weights_after_the_schedule_reaches_zero_else_the_best(tmp_path):
    """A run whose learning rate was annealed to 0 exports its final weights (last.ckpt); a run
    ended by early stopping exports its best validation checkpoint (best.ckpt)."""
    import torch

    from synthgen.config import load_config
    from tests.conftest import tiny_overrides

    def trained(name, *extra):
        ov = [o for o in tiny_overrides(tmp_path / name) if not o.startswith("model.")]
        cfg = load_config([*ov, *extra])
        pipeline.prepare(cfg)
        pipeline.encode(cfg)
        paths = pipeline.train(cfg)
        load = lambda p: torch.load(p, map_location="cpu", weights_only=True)  # noqa: E731
        return (
            load(paths.model)["state_dict"],
            load(paths.checkpoints / "last.ckpt"),
            load(paths.checkpoints / "best.ckpt")["state_dict"],
        )

    # Without dropout, in batches of 16, the transformer overfits 400 rows: val_loss is lowest early.
    exported, last, best = trained(
        "annealed",
        "model=transformer",
        "model.tabular.dropout=0",
        "model.tabular.batch_size=16",
        "trainer.max_epochs=12",
        "train.patience=100",
    )
    assert last["epoch"] == 11  # last.ckpt is the final epoch's, whatever the best one
    assert not _states_equal(best, last["state_dict"])
    # the final weights, but for the head bias refitted on the training rows (model.tabular.calibrate)
    assert _states_equal(exported, last["state_dict"], but="head.bias")
    assert not torch.equal(exported["head.bias"], last["state_dict"]["head.bias"])

    # The GAN has no annealed schedule; its noisy val_loss stops it early with patience 0, one epoch
    # after its best, so exporting the final weights would not match best.ckpt.
    exported, last, best = trained("stopped", "model=gan", "trainer.max_epochs=30", "train.patience=0")
    assert last["epoch"] < 29  # early stopping ended it
    assert not _states_equal(best, last["state_dict"])
    assert _states_equal(exported, best)
