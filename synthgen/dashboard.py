"""The MLflow dashboard's runs list as a comparison table: one row per pipeline run (its train run),
the headline metrics and key params as columns.

MLflow 3.17's UI shows only attribute columns (source, models, dataset) until a person ticks metrics
in "Columns", and opens an experiment in its GenAI view unless the URL says `workflowType`. Both are
set through the UI's own "shared view" mechanism: an experiment tag `mlflow.sharedViewState.<key>`
holding the runs table's state (selected columns, sort) as JSON, opened by `?viewStateShareKey=<key>`.
`synthgen ui` prints that URL; tests/test_dashboard_browser.py checks the columns in a real browser.
"""

from __future__ import annotations

import json

VIEW_KEY = "synthgen"
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"

# Columns of the runs list, in this order: the figures a person compares, then what differs between runs.
METRIC_COLUMNS = (
    "fidelity.shape",
    "fidelity.pair_trends",
    "fidelity.detection_auc",
    "utility.roc_auc_ratio",
    "utility.r2_ratio",
    "privacy.dcr_share",
    "gate.passed",
)
PARAM_COLUMNS = ("data.name", "trainer.max_epochs", "seed", "generate.n_rows")
TAG_COLUMNS = ("synthgen.family",)  # the model family (gan, vae, transformer), set on the train run


def view_state() -> str:
    """The runs table's state in the UI's key format (`metrics.\\`name\\``); newest run first."""
    cols = (
        [f"metrics.`{k}`" for k in METRIC_COLUMNS]
        + [f"params.`{k}`" for k in PARAM_COLUMNS]
        + [f"tags.`{k}`" for k in TAG_COLUMNS]
    )
    return json.dumps({"selectedColumns": cols, "orderByKey": "attributes.start_time", "orderByAsc": False})


def view_tags() -> dict[str, str]:
    return {VIEW_TAG: view_state()}


def runs_url(base: str, experiment_id: str | None) -> str:
    """The runs list of `experiment_id` in the model-training view with the comparison columns;
    the experiments list when the store has no experiment yet."""
    if experiment_id is None:
        return f"{base}/#/experiments?workflowType=machine_learning"
    return f"{base}/#/experiments/{experiment_id}/runs?viewStateShareKey={VIEW_KEY}&workflowType=machine_learning"
