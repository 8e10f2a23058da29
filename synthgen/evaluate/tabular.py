"""evaluate_tables: every tabular metric in one flat, JSON-ready dict with stable keys.

Keys are grouped by prefix: fidelity.*, utility.*, privacy.*, bias.*, validity.*, gate.*,
rows.*. Column and group names inside keys pass through columns.key_part, so every key is a
valid MLflow metric name. Undefined values (e.g. a rate for a group the synthetic table
lacks) are left out rather than written as NaN, which JSON does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from synthgen import bands, composites, date_parts, dependencies, entities, name_sex, nesting
from synthgen.errors import SynthgenError
from synthgen.evaluate import exclusive_flags
from synthgen.evaluate.bias import bias_metrics, group_table
from synthgen.evaluate.columns import DISCRETE, NUMERIC, check_kinds, dates_read, key_part, subsample
from synthgen.evaluate.config import EvalConfig
from synthgen.evaluate.fidelity import column_views, mean_defined, pair_scores, shape_scores
from synthgen.evaluate.gate import check_gate
from synthgen.evaluate.learners import detection_auc, resolve_task, utility
from synthgen.evaluate.membership import membership_metrics
from synthgen.evaluate.orderings import (
    conversion_scores,
    date_orderings,
    date_ties,
    day_count_scores,
    product_scores,
    total_scores,
    value_orderings,
)
from synthgen.evaluate.privacy import copy_metrics, dcr_metrics
from synthgen.evaluate.validity import validity_metrics
from synthgen.evaluate.verdicts import judge, verdict_metrics


@dataclass
class Prepared:
    """The (subsampled) tables and column lists every metric and the report agree on."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    synthetic: pd.DataFrame
    kinds: dict[str, str]  # columns present in all three tables
    scored: list[str]  # numeric + categorical columns: the ones distributions are compared on
    task: str | None


def prepare_tables(train, holdout, synthetic, kinds: dict[str, str], config: EvalConfig) -> Prepared:
    check_kinds(kinds, train)
    lacking = [c for c in kinds if c not in holdout.columns]
    if lacking:
        raise SynthgenError(f"the holdout table lacks column(s) {lacking}; use a split of the real table")
    needed = ([config.target] if config.target else []) + list(config.sensitive)
    for col in needed:
        if col not in kinds:
            raise SynthgenError(f"evaluate column '{col}' is not in the table's columns: {', '.join(kinds)}")
        if col not in synthetic.columns:
            raise SynthgenError(f"the synthetic table lacks column '{col}', which the evaluation needs")
    if config.target and kinds[config.target] not in NUMERIC + DISCRETE:
        raise SynthgenError(
            f"evaluate.target '{config.target}' is a {kinds[config.target]} column; "
            f"pick a numeric, categorical or boolean column"
        )
    # Columns the synthetic table lacks are reported by validity.schema_mismatches, not scored.
    present = {c: k for c, k in kinds.items() if c in synthetic.columns}
    train, holdout, synthetic = dates_read([train, holdout, synthetic], kinds)  # a no-op once read
    s = config.seed
    return Prepared(
        train=subsample(train, config.max_rows, s),
        holdout=subsample(holdout, config.max_rows, s + 1),
        synthetic=subsample(synthetic, config.max_rows, s + 2),
        kinds=present,
        scored=[c for c, k in present.items() if k in NUMERIC + DISCRETE],
        task=resolve_task(config.task, kinds[config.target], train[config.target]) if config.target else None,
    )


def evaluate_tables(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: dict[str, str],
    config: EvalConfig | None = None,
) -> dict:
    """Score `synthetic` against the real `train` it imitates and the real `holdout` it never
    saw. Returns a flat {key: number} dict; see the module docstring for the key groups."""
    config = config or EvalConfig()
    train, holdout, synthetic = dates_read([train, holdout, synthetic], kinds)  # text dates in the real format
    p = prepare_tables(train, holdout, synthetic, kinds, config)
    out: dict = {"rows.train": len(p.train), "rows.holdout": len(p.holdout), "rows.synthetic": len(p.synthetic)}

    views = column_views(p.train, p.synthetic, {c: p.kinds[c] for c in p.scored})
    shape, pairs = shape_scores(views), pair_scores(views)
    out["fidelity.shape"] = mean_defined(shape.values())
    out["fidelity.pair_trends"] = mean_defined(pairs.values())
    out["fidelity.overall"] = mean_defined([out["fidelity.shape"], out["fidelity.pair_trends"]])
    out.update({f"fidelity.shape.{key_part(c)}": v for c, v in shape.items()})
    out["fidelity.detection_auc"] = detection_auc(
        p.train,
        p.synthetic,
        p.kinds,
        p.scored,
        config.detection_folds,
        config.seed,
        config.detection_max_rows,
        config.entity,
    )

    if config.target:
        out.update(utility(p.train, p.holdout, p.synthetic, p.kinds, p.scored, config.target, p.task, config.seed))

    out.update(
        dcr_metrics(p.train, p.holdout, p.synthetic, p.kinds, p.scored, config.seed, config.dcr_max_rows, config.entity)
    )
    out.update(
        membership_metrics(
            p.train, p.holdout, p.synthetic, p.kinds, p.scored, config.seed, config.dcr_max_rows, config.entity
        )
    )
    # Shares are estimated on the samples, but against the whole train table: a copy of a
    # train row left out of the sample is still a copy.
    out.update(copy_metrics(train, p.holdout, p.synthetic, p.kinds, list(p.kinds), config.identifying))
    out.update(date_orderings(train, synthetic, kinds))
    ties = date_ties(train, synthetic, kinds)
    if ties:  # the holdout's own score: two samples of a few hundred rows differ by chance
        ties["fidelity.date_ties_holdout"] = date_ties(train, holdout, kinds).get("fidelity.date_ties", math.nan)
    out.update(ties)
    out.update(value_orderings(train, synthetic, kinds))
    out.update(day_count_scores(train, synthetic, kinds))
    out.update(name_sex.scores(train, synthetic, kinds))
    out.update(total_scores(train, synthetic, kinds))
    out.update(product_scores(train, synthetic, kinds))
    out.update(conversion_scores(train, synthetic, kinds))
    out.update(dependencies.scores(train, synthetic, kinds))
    out.update(bands.scores(train, synthetic, kinds))
    out.update(date_parts.scores(train, synthetic, kinds))
    out.update(nesting.scores(train, synthetic, kinds, holdout))
    out.update(composites.scores(train, synthetic, kinds))
    out.update(exclusive_flags.scores(train, synthetic, kinds))
    out.update(entities.scores(train, synthetic, kinds, holdout))

    groups = group_table(
        p.train, p.synthetic, p.kinds, config.sensitive, config.target, p.task, config.bias_threshold_points
    )
    out.update(bias_metrics(groups))
    # Validity looks at every synthetic row: it is cheap, and one bad cell matters.
    out.update(validity_metrics(train, synthetic, kinds))
    out["validity.invalid_share"] = out["validity.total"] / max(1, len(synthetic) * len(kinds))

    out = {k: v for k, v in out.items() if not (isinstance(v, float) and not math.isfinite(v))}
    passed, _ = check_gate(out, config)
    out["gate.passed"] = int(passed)
    out.update(verdict_metrics(judge(out, config.verdicts, passed)))
    return out
