"""Lightning's logger for the train run, writing through MLflow's helper process (synthgen/tracking_agent.py).

It logs what Lightning's MLFlowLogger logs (the module's hyperparameters as params, each logged
step's metrics, the run's end status), without importing MLflow in the training process."""

from __future__ import annotations

import re
import time
from typing import Any

from lightning_fabric.utilities.logger import _convert_params, _flatten_dict
from pytorch_lightning.loggers.logger import Logger, rank_zero_experiment
from pytorch_lightning.utilities import rank_zero_only

from synthgen.tracking_agent import Agent

STATUS = {"success": "FINISHED", "finished": "FINISHED", "failed": "FAILED"}  # as MLFlowLogger maps them


class AgentLogger(Logger):
    def __init__(self, agent: Agent, cfg):
        super().__init__()
        self.agent, self.cfg = agent, cfg
        # waits for the store to open: one that refuses stops the run here, before training
        self.run_id = agent.call("open_train_run", cfg)

    @property
    def name(self) -> str:
        return str(self.cfg.logger.experiment_name)

    @property
    def version(self) -> str:
        return self.run_id

    @property
    @rank_zero_experiment
    def experiment(self) -> Agent:
        return self.agent

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args, **kwargs) -> None:
        flat = _flatten_dict(_convert_params(params))
        self.agent.send("log_params", self.cfg, self.run_id, {k: str(v)[:250] for k, v in flat.items()})

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        # MLflow takes letters, digits and _ / . - and space in a metric's name; text values are not metrics
        clean = {re.sub(r"[^a-zA-Z0-9_/. -]+", "", k): float(v) for k, v in metrics.items() if not isinstance(v, str)}
        self.agent.send("log_step_metrics", self.cfg, self.run_id, clean, step or 0, int(time.time() * 1000))

    @rank_zero_only
    def log_image(self, image, name: str) -> None:
        """A uint8 [H, W, 3] array as the run's artifact `name` (a .png path)."""
        self.agent.send("log_image", self.cfg, self.run_id, image, name)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self.agent.send("terminate_run", self.cfg, self.run_id, STATUS.get(status, status))
