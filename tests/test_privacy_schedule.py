"""The DP training schedule (synthgen/sizing.py dp_schedule): larger expected batches at a fixed
number of steps under privacy.epsilon, its wiring into `synthgen train`, and its spend."""

from __future__ import annotations

import json
import math

import pyarrow.dataset as ds
import pytest

from synthgen import pipeline, sizing
from synthgen.config import load_config
from synthgen.paths import RunPaths
from synthgen.privacy import PrivacyConfig
from synthgen.privacy.training import plan_training
from tests.conftest import tiny_overrides


@pytest.mark.parametrize(
    "rows, batch, epochs, steps",
    [
        (1_000, 32, 8, 8 * 31),  # 1000 x 8 / 180 = 44 -> 32 (the floor), 31 Poisson steps an epoch
        (24_403, 1024, 8, 8 * 23),  # Adult's anchors split: 1085 -> 1024
        (30_000, 1024, 8, 8 * 29),  # 1333 -> 1024
        (400, 32, 15, 15 * 12),  # the floor leaves 12 steps an epoch: more epochs to reach 180 steps
    ],
)
def test_the_dp_schedule_for_small_and_large_tables(rows, batch, epochs, steps):
    assert sizing.dp_schedule(rows) == {"batch_size": batch, "epochs": epochs, "steps": steps}


@pytest.mark.parametrize("rows", [2, 37, 400, 5_000, 24_403, 77_777, 1_000_000])
def test_the_dp_schedule_takes_at_least_its_steps_at_its_compute(rows):
    s = sizing.dp_schedule(rows)
    b = s["batch_size"]
    assert s["steps"] >= sizing.DP_STEPS and s["steps"] == s["epochs"] * (rows // b)
    assert 1 <= b <= max(1, rows // 2)
    if b > sizing.MIN_BATCH:  # the batch rule, not its floor, chose B: a power of two at DP_EPOCHS passes
        assert b & (b - 1) == 0 and s["epochs"] == sizing.DP_EPOCHS
        assert b <= rows * sizing.DP_EPOCHS / sizing.DP_STEPS < 2 * b


def test_explicit_batch_or_epochs_stay_and_the_epochs_follow_an_explicit_batch():
    size = sizing.TableSize(24_403, 15, 1_000)
    spec, training, rule = sizing.apply_dp_schedule({"batch_size": 100}, {"epochs": 30}, {}, size, auto_keys={"epochs"})
    assert spec["batch_size"] == 100 and training["epochs"] == 8 and rule["dp_steps"] == 8 * 244
    spec, training, _ = sizing.apply_dp_schedule({"batch_size": 512}, {"epochs": 3}, {}, size, auto_keys={"batch_size"})
    assert spec["batch_size"] == 1024 and training["epochs"] == 3


def test_only_auto_settings_are_scheduled():
    assert pipeline._auto_schedule_keys(load_config(["privacy.epsilon=1"])) == {
        "batch_size",
        "epochs",
        "lr",
        "random_order_share",
    }
    explicit = [
        "trainer.max_epochs=3",
        "model.tabular.batch_size=64",
        "model.tabular.lr=0.01",
        "model.tabular.random_order_share=0.5",
    ]
    assert pipeline._auto_schedule_keys(load_config(explicit)) == set()


@pytest.mark.parametrize("explicit", [None, 0.25])
def test_under_dp_the_transformer_trains_in_its_generation_order_unless_told_otherwise(explicit):
    """random_order_share auto: 0.5 without DP, 0 under DP (the DP signal is not split over random
    column orders); an explicit share stays under DP."""
    from synthgen.modalities import training_spec

    over = ["model=transformer"] + ([f"model.tabular.random_order_share={explicit}"] if explicit else [])
    cfg = load_config(over)
    size = sizing.TableSize(24_403, 15, 1_000)
    spec, training, rule = training_spec(cfg, size)
    assert spec["random_order_share"] == (explicit or 0.5)
    dp_spec, _, dp_rule = sizing.apply_dp_schedule(spec, training, rule, size, pipeline._auto_schedule_keys(cfg))
    assert dp_spec["random_order_share"] == (explicit or 0.0)
    assert ("dp_random_order_share" in dp_rule) == (explicit is None)


@pytest.mark.parametrize("explicit", [None, 0.005])
def test_under_dp_the_transformer_takes_the_dp_learning_rate_unless_told_otherwise(explicit):
    """lr auto: the reference 3e-3 without DP, DP_LR under DP (AdamW's noise-dominated second moment
    shrinks every step); an explicit rate stays either way."""
    from synthgen.modalities import training_spec

    cfg = load_config(["model=transformer"] + ([f"model.tabular.lr={explicit}"] if explicit else []))
    size = sizing.TableSize(24_403, 15, 1_000)
    spec, training, rule = training_spec(cfg, size)
    assert spec["lr"] == (explicit or 0.003)
    dp_spec, _, dp_rule = sizing.apply_dp_schedule(spec, training, rule, size, pipeline._auto_schedule_keys(cfg))
    assert dp_spec["lr"] == (explicit or sizing.DP_LR) and sizing.DP_LR > 0.003
    assert ("dp_lr" in dp_rule) == (explicit is None)


def _plan(eps, rows, batch, epochs):
    enc = {"epsilon_total": eps, "epsilon_spent": 0.1 * eps, "delta_total": 1e-5, "delta_spent": 0.0}
    return plan_training(
        PrivacyConfig(epsilon=eps, delta=1e-5), enc, "TabularTransformer", rows, rows // batch, epochs, {}
    )


@pytest.mark.parametrize("eps", [1.0, 4.0])
def test_the_schedule_stays_within_the_budget_with_less_noise_per_step_than_batch_512(eps):
    """On Adult's rows the schedule (B 1024, 8 epochs, 184 steps) spends at most the training
    budget, and the noise on the mean gradient, sigma / B, is below the earlier schedule's
    (B 512, 4 epochs, 188 steps): the reason for the rule."""
    s = sizing.dp_schedule(24_403)
    new, old = _plan(eps, 24_403, s["batch_size"], s["epochs"]), _plan(eps, 24_403, 512, 4)
    assert new.steps == s["steps"] and new.epsilon_training_planned <= new.epsilon_training
    assert math.isclose(new.epsilon_training, 0.9 * eps)
    assert new.noise_multiplier / new.expected_batch_size < old.noise_multiplier / old.expected_batch_size


def test_a_dp_run_with_auto_batch_trains_with_the_dp_schedule(tmp_path):
    # 2,000 Adult rows, 1 epoch (TINY's trainer.max_epochs=1 stays explicit): the DP batch (64 at
    # ~1,600 training rows) differs from the plain rule's (rows / 32 -> 32)
    over = [o for o in tiny_overrides(tmp_path, "privacy.epsilon=3") if not o.startswith("data.max_rows")]
    cfg = load_config([*over, "data.max_rows=2000"])
    for stage in ("prepare", "encode", "train"):
        pipeline.STAGES[stage](cfg)
    paths = RunPaths.from_config(cfg)
    rows = ds.dataset(paths.train_table, format="parquet").count_rows()
    batch = sizing.dp_schedule(rows)["batch_size"]
    assert batch != sizing.batch_size(sizing.TableSize(rows, 15, 100), 512)
    spent = json.loads((paths.model_dir / "privacy.json").read_text())
    assert spent["steps"] == rows // batch
    assert spent["expected_batch_size"] == pytest.approx(rows / (rows // batch))
    assert spent["epsilon_spent"] <= 3.0


@pytest.mark.parametrize("eps, doubled", [(4.0, True), (1.0, False)])
def test_the_epochs_double_where_the_budget_keeps_the_noise_low(eps, doubled):
    """Adult's rows (B 1024, 23 steps an epoch): at epsilon 4 the budget pays 16 epochs at a noise
    multiplier <= DP_LONG_SIGMA (Opacus's search), so they double; at epsilon 1 it would take ~3.6,
    so 8 stay. Without a noise search (a hand-set multiplier) the schedule never doubles."""
    from synthgen.privacy.training import training_noise

    record = {"epsilon_total": eps, "epsilon_spent": 0.1 * eps, "delta_total": 1e-5, "delta_spent": 0.0}
    seen = []

    def noise_for(q, steps):
        seen.append((q, steps))
        return training_noise("prv", record, q, steps)

    s = sizing.dp_schedule(24_403, noise_for=noise_for)
    assert seen == [(1 / 23, 16 * 23)]
    assert s == {"batch_size": 1024, "epochs": 16 if doubled else 8, "steps": (16 if doubled else 8) * 23}
    assert (training_noise("prv", record, 1 / 23, 16 * 23) <= sizing.DP_LONG_SIGMA) == doubled
    assert sizing.dp_schedule(24_403, noise_for=lambda q, steps: None)["epochs"] == 8
