"""synthgen.tracking's batched logging on a real SQLite MLflow store: everything arrives, in as few
log_batch calls as MLflow's limits allow."""

from __future__ import annotations

from synthgen import tracking
from synthgen.config import load_config
from synthgen.paths import RunPaths


class CountingClient:
    """A real MlflowClient that counts its log_batch calls."""

    def __init__(self, c):
        self._c, self.batches = c, []

    def log_batch(self, run_id, metrics=(), params=(), tags=()):
        self.batches.append((len(params), len(metrics), len(tags)))
        return self._c.log_batch(run_id, metrics=metrics, params=params, tags=tags)

    def __getattr__(self, name):
        return getattr(self._c, name)


def test_a_run_log_with_params_arrives_whole_in_the_fewest_batches(tmp_path):
    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}", f"paths.mlflow_dir={tmp_path / 'mlruns'}"])
    paths = RunPaths.from_config(cfg)
    real = tracking.client(cfg, paths)
    run_id = real.create_run(tracking.experiment_id(real, cfg, paths)).info.run_id
    c = CountingClient(real)
    params = {f"p{i}": str(i) for i in range(250)}
    entry = tracking.RunLog(
        tags={f"t{i}": f"v{i}" for i in range(150)},
        metrics={**{f"m/{i}": float(i) for i in range(1500)}, "not_a_number": "x", "nan": float("nan")},
    )
    tracking.log_run(c, run_id, entry, params)
    # at most 100 params and 100 tags a call, 1,000 entities a call: 250 params need 3 calls
    assert c.batches == [(100, 800, 100), (100, 700, 50), (50, 0, 0)]
    data = real.get_run(run_id).data
    assert data.params == params
    assert {k: v for k, v in data.tags.items() if k.startswith("t")} == entry.tags
    assert data.metrics == {f"m_{i}": float(i) for i in range(1500)}  # '/' -> '_', non-numbers left out


def test_long_values_are_split_so_no_call_exceeds_the_request_size(tmp_path, monkeypatch):
    """A tracking server takes log_batch requests of at most 1 MB: long params and tags (a config
    list, the sizing plan) go in as many calls as keep each under BATCH_BYTES."""
    from mlflow.entities import Param, RunTag

    cfg = load_config([f"paths.out_dir={tmp_path / 'out'}", f"paths.mlflow_dir={tmp_path / 'mlruns'}"])
    paths = RunPaths.from_config(cfg)
    real = tracking.client(cfg, paths)
    run_id = real.create_run(tracking.experiment_id(real, cfg, paths)).info.run_id
    c = CountingClient(real)
    monkeypatch.setattr(tracking, "BATCH_BYTES", 20_000)
    params = [Param(f"p{i}", "x" * 5000) for i in range(10)]
    tags = [RunTag(f"t{i}", "y" * 4000) for i in range(5)]
    tracking.log_batches(c, run_id, params=params, tags=tags)
    # a param costs ~5,070 bytes, a tag ~4,070: three params and a tag fill a call of 20,000
    assert c.batches == [(3, 0, 1), (3, 0, 1), (3, 0, 1), (1, 0, 2)]
    data = real.get_run(run_id).data
    assert len([k for k in data.params if k.startswith("p")]) == 10 and data.tags["t4"] == "y" * 4000
