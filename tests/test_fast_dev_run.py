"""Each model config trains for one batch (Lightning's fast_dev_run) and samples valid rows."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from synthgen import pipeline
from synthgen.config import load_config
from synthgen.modalities import families
from tests.conftest import tiny_overrides

FAMILIES = families("tabular")  # those with a `tabular:` network


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fdr")
    cfg = load_config(tiny_overrides(tmp))
    pipeline.prepare(cfg)
    pipeline.encode(cfg)
    return tmp


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])  # bf16-mixed: trainer=gpu's, autocast on CPU
@pytest.mark.parametrize("family", FAMILIES)
def test_fast_dev_run(encoded, family, precision):
    ov = [o for o in tiny_overrides(encoded) if not o.startswith("model.")]
    cfg = load_config([*ov, f"model={family}", "trainer.fast_dev_run=true", f"trainer.precision={precision}"])
    paths = pipeline.train(cfg)
    assert paths.model.exists()
    pipeline.generate(cfg)
    synth = pq.read_table(paths.synthetic)
    assert synth.num_rows == cfg.generate.n_rows
    assert synth.schema == pq.read_table(paths.train_table).schema
