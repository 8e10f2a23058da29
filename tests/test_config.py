"""Every config group composes and instantiates; mistakes give one-line errors."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from synthgen.config import CONF_DIR, composed_yaml, load_config
from synthgen.errors import SynthgenError
from synthgen.modalities import families, family_targets, model_spec

GROUPS = {g.name: sorted(p.stem for p in g.glob("*.yaml")) for g in CONF_DIR.iterdir() if g.is_dir()}


def test_groups_present():
    assert {"data", "model", "trainer", "logger", "paths", "experiment"} <= set(GROUPS)
    assert {"cpu", "gpu", "ddp"} <= set(GROUPS["trainer"])
    assert "adult" in GROUPS["data"] and "mlflow" in GROUPS["logger"]


@pytest.mark.parametrize("group,option", [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_option_composes(group, option):
    extra = {("data", "file"): ["data.path=x.csv"], ("data", "images"): ["data.source.path=x"]}.get((group, option), [])
    cfg = load_config([f"{group}={option}", *extra])
    assert OmegaConf.select(cfg, "seed") == 0
    assert family_targets(cfg.model) and "_target_" in cfg.trainer


@pytest.mark.parametrize("trainer", ["cpu", "ddp"])
def test_trainers_instantiate(trainer):
    cfg = load_config([f"trainer={trainer}"])
    t = instantiate(cfg.trainer, logger=False, enable_checkpointing=False, max_epochs=3)
    assert t.max_epochs == 3 and cfg.trainer.max_epochs is None  # null: the family's own epochs


def test_gpu_trainer_asks_for_gpu_and_bf16():
    cfg = load_config(["trainer=gpu"])
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"


@pytest.mark.parametrize("model", families("tabular"))
def test_models_instantiate(model):
    cfg = load_config([f"model={model}"])
    spec, training = model_spec(cfg)
    layout = {"kind": "tokens", "columns": ["a", "b", "c"], "cardinalities": [3, 5, 2]}
    m = instantiate(spec, layout=layout, _convert_="all")
    assert sum(p.numel() for p in m.parameters()) > 0
    assert training["epochs"] > 0 and training["patience"] > 0


@pytest.mark.parametrize(
    "override,message",
    [
        (["nosuchkey=1"], "unknown config key 'nosuchkey'"),
        (["trainer.max_epochs=abc"], "expected an integer"),
        (["model=nosuchfamily"], f"model=nosuchfamily is unknown; choose one of: {', '.join(GROUPS['model'])}"),
        (["model.d_model=16"], "unknown config key 'model.d_model' (a family's keys are model.tabular.<key>"),
        (["model.tabular.temperature=fast"], "expected a number"),
    ],
)
def test_bad_overrides_are_one_line(override, message):
    with pytest.raises(SynthgenError) as e:
        load_config(override)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_column_overrides_open_node():
    cfg = load_config(["data.columns.age.kind=categorical", "generate.condition.sex=Female"])
    assert cfg.data.columns.age.kind == "categorical" and cfg.generate.condition.sex == "Female"


def test_params_yaml_is_the_composed_config():
    """DVC reads params.yaml; it must equal conf/ composed (make params regenerates it)."""
    committed = (CONF_DIR.parent / "params.yaml").read_text()
    assert committed == composed_yaml([]), "params.yaml is stale: run `make params`"


def test_image_pipeline_params_are_composed_with_the_makefile_overrides():
    root = CONF_DIR.parent
    line = next(ln for ln in (root / "Makefile").read_text().splitlines() if ln.startswith("MNIST_OVERRIDES ="))
    overrides = line.split("=", 1)[1].split()
    committed = (root / "pipelines/mnist/params.yaml").read_text()
    assert committed == composed_yaml(overrides), "pipelines/mnist/params.yaml is stale: run `make params`"
    assert "data=mnist5k" in overrides


def test_params_file_with_overrides(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text(composed_yaml(["model.tabular.d_model=32"]))
    cfg = load_config(["trainer.max_epochs=2"], params_file=p)
    assert cfg.model.tabular.d_model == 32 and cfg.trainer.max_epochs == 2
    with pytest.raises(SynthgenError):
        load_config(["nosuchkey=1"], params_file=p)


def test_a_config_saved_before_the_family_blocks_still_loads(tmp_path):
    """params files, Synthesizer.save folders and logged config.yaml files written with the model keys at
    top level (training keys mixed in, a nested image: block) load as today's tabular/image/training blocks."""
    import yaml

    from synthgen.modalities import training_spec

    new = yaml.safe_load(composed_yaml(["model=vae"]))
    m = new["model"]
    image_training = {k: v for k, v in m["training"]["image"].items() if k != "val_share"}  # set by none then
    old = {**m["tabular"], **m["training"]["tabular"], "image": {**m["image"], **image_training}}
    p = tmp_path / "params.yaml"
    p.write_text(yaml.safe_dump({**new, "model": old}, sort_keys=False))
    cfg = load_config(["model.tabular.lr=0.5"], params_file=p)
    assert OmegaConf.to_container(cfg.model) == {**m, "tabular": {**m["tabular"], "lr": 0.5}}
    assert training_spec(cfg)[0]["_target_"] == "synthgen.models.vae.TabularVAE"
