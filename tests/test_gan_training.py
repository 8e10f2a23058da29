"""models/gan_training.py: the GANs' weight average survives a resume from last.ckpt, and model files
written before its step counter was saved still load."""

from __future__ import annotations

import warnings

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from synthgen.checkpoint import export_generator, load_generator
from synthgen.data import TokenDataModule
from tests.test_models_tabular import equal_pair_table, free, make_model


class FirstStep(pl.Callback):
    """Records the weight average and its counter before the first training step of this fit, and
    the generator and the average after it."""

    def __init__(self):
        self.before = self.after = None

    def on_train_batch_start(self, trainer, model, batch, batch_idx):
        if self.before is None:
            self.before = int(model.ema_steps), [p.clone() for p in model.generator_ema.parameters()]

    def on_train_batch_end(self, trainer, model, outputs, batch, batch_idx):
        if self.after is None:
            self.after = (
                [p.clone() for p in model.generator.parameters()],
                [p.clone() for p in model.generator_ema.parameters()],
            )


def fit(model, tmp_path, max_epochs: int, ckpt_path=None) -> FirstStep:
    torch.manual_seed(0)
    watch = FirstStep()
    trainer = pl.Trainer(
        max_epochs=max_epochs,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[ModelCheckpoint(dirpath=tmp_path, save_last=True, save_top_k=0), watch],
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        trainer.fit(
            model, datamodule=TokenDataModule(equal_pair_table(), model.batch_size, 0.1, seed=0), ckpt_path=ckpt_path
        )
    return watch


def saved(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_a_resumed_tabular_gan_continues_its_weight_average(tmp_path):
    first = fit(make_model("gan", [4, 4, 3])[0], tmp_path, max_epochs=1)
    state = saved(tmp_path / "last.ckpt")
    n = int(state["ema_steps"])
    assert n == 1800 // 100 and first.before[0] == 0  # one step per batch of the first epoch

    model = make_model("gan", [4, 4, 3])[0]  # fresh weights, counter 0: everything comes from last.ckpt
    resumed = fit(model, tmp_path, max_epochs=2, ckpt_path=tmp_path / "last.ckpt")
    steps, ema_before = resumed.before
    assert steps == n  # the counter continues rather than restarting at 0
    names = [k for k in state if k.startswith("generator_ema.")]
    assert all(torch.equal(a, state[k]) for a, k in zip(ema_before, names))
    # the first resumed step averages with the decay of step n + 1, not step 1's (0.1)
    decay = min(model.ema_decay, (2 + n) / (11 + n))
    for g, avg_before, avg_after in zip(resumed.after[0], ema_before, resumed.after[1]):
        assert torch.allclose(avg_after, avg_before.lerp(g, 1 - decay), atol=1e-6)
    assert int(saved(tmp_path / "last.ckpt")["ema_steps"]) == 2 * n


def test_a_model_file_without_the_counter_still_loads(tmp_path):
    """Tabular GAN model files written before ema_steps was saved load (counter 0), sampling the same."""
    model, model_config = make_model("gan", [4, 4, 3])
    export_generator(model, model_config, tmp_path / "model.ckpt")
    blob = torch.load(tmp_path / "model.ckpt", map_location="cpu", weights_only=True)
    del blob["state_dict"]["ema_steps"]
    torch.save(blob, tmp_path / "old.ckpt")
    old = load_generator(tmp_path / "old.ckpt")
    assert int(old.ema_steps) == 0
    cond = free(500, 3)
    assert torch.equal(
        old.sample(cond, torch.Generator().manual_seed(1)), model.eval().sample(cond, torch.Generator().manual_seed(1))
    )
