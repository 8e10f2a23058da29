"""Adding a family from outside synthgen: a module of your own plus a YAML in a config folder of
your own (`hydra.searchpath=[file://<folder>]`), no file of synthgen touched (README "Development")."""

from __future__ import annotations

import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.errors import SynthgenError
from synthgen.modalities import training_spec
from tests.conftest import tiny_overrides

# The family: each column drawn from its own learnt token frequencies (no dependence between columns).
MODULE = """
import torch
import torch.nn.functional as F

from synthgen.models.base import TabularGenerator


class Marginals(TabularGenerator):
    def __init__(self, layout: dict, batch_size: int = 64, lr: float = 0.1):
        super().__init__(layout, batch_size, lr)
        self.logits = torch.nn.Parameter(torch.zeros(sum(self.layout.cardinalities)))

    def _spans(self):
        return torch.split(self.logits, list(self.layout.cardinalities))

    def _loss(self, tokens):  # nats per row
        return sum(F.cross_entropy(s.expand(len(tokens), -1), tokens[:, j]) for j, s in enumerate(self._spans()))

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch[0])
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch[0]))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch[0]), on_epoch=True, batch_size=len(batch[0]))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    @torch.no_grad()
    def sample(self, cond, generator):  # cond [n, C]: -1 free, else the fixed token
        free = torch.stack([torch.multinomial(s.softmax(0), len(cond), replacement=True, generator=generator)
                            for s in self._spans()], 1)
        return torch.where(cond >= 0, cond, free)
"""
FAMILY = """\
tabular:                 # the network for tables
  _target_: toy_marginals.Marginals
  batch_size: 64
  lr: 0.1
training:
  tabular: {epochs: 1, patience: 1, val_share: 0.1}
"""


@pytest.fixture
def toy(tmp_path, monkeypatch):
    """tmp_path/toy_marginals.py on sys.path and tmp_path/conf/model/toy.yaml; the overrides that pick it."""
    (tmp_path / "toy_marginals.py").write_text(textwrap.dedent(MODULE))
    (tmp_path / "conf/model").mkdir(parents=True)
    (tmp_path / "conf/model/toy.yaml").write_text(FAMILY)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path, [f"hydra.searchpath=[file://{tmp_path / 'conf'}]", "model=toy"]
    sys.modules.pop("toy_marginals", None)


def test_a_toy_family_trains_and_generates_through_the_pipeline(toy):
    from synthgen.checkpoint import load_generator

    tmp, pick = toy
    ov = [o for o in tiny_overrides(tmp) if not o.startswith("model.")]  # TINY's keys are the transformer's
    cfg = load_config([*ov, *pick, "trainer.fast_dev_run=true"])
    assert cfg.model.tabular._target_ == "toy_marginals.Marginals"
    for stage in (pipeline.prepare, pipeline.encode, pipeline.train, pipeline.generate):
        paths = stage(cfg)
    synth = pq.read_table(paths.synthetic)
    assert synth.num_rows == cfg.generate.n_rows
    assert synth.schema == pq.read_table(paths.train_table).schema
    # the class is allowed because this config names it; the model file alone cannot name it
    with pytest.raises(SynthgenError, match="not a synthgen family"):
        load_generator(paths.model)


def test_a_tables_only_family_refuses_images_and_unset_training_in_one_line(toy):
    tmp, pick = toy
    with pytest.raises(SynthgenError, match="has no image network") as e:
        training_spec(load_config([*pick, "data=digits"]))
    assert "\n" not in str(e.value)
    (tmp / "conf/model/toy.yaml").write_text(FAMILY.replace("patience: 1, ", ""))
    with pytest.raises(SynthgenError, match=r"model.training.tabular.patience is not set") as e:
        training_spec(load_config(pick))
    assert "\n" not in str(e.value)
    assert training_spec(load_config([*pick, "train.patience=3"]))[1]["patience"] == 3
