"""What the privacy scores of an entity table read for real rows no model saw (benchmarks/entities.md).

Given a `synthgen run` output folder of a table with an entity key (its prepared/ train and holdout
splits), the training and holdout entities are pooled and split anew on each seed: a holdout of as
many entities as the run's, a quarter of the rest as "unseen" entities, the remainder as training
rows. The unseen entities' real rows are then scored as if they were synthetic, with the entity
key (whole entities, as synthgen's evaluation samples them) and without it (rows at random, as it
did before 2026-12-05). A generator that does not memorise lands near the entity figures.

    python benchmarks/entity_privacy_reference.py OUT_DIR ENTITY_KEY [--splits 16]

Prints one JSON object: per way of sampling, the mean and sd over the splits of the DCR share and of
the two membership attacks' AUCs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from synthgen.evaluate import EvalConfig
from synthgen.evaluate.membership import membership_metrics
from synthgen.evaluate.privacy import dcr_metrics
from synthgen.evaluate.tabular import prepare_tables
from synthgen.schema import TableSchema

SCORES = ("privacy.dcr_share", "privacy.mia_auc_distance", "privacy.mia_auc_density_ratio")


def reference(out: Path, key: str, splits: int) -> dict:
    train = pd.read_parquet(out / "prepared" / "train.parquet")
    holdout = pd.read_parquet(out / "prepared" / "holdout.parquet")
    schema = TableSchema.load(out / "prepared" / "schema.json")
    config = EvalConfig(target=None, seed=0, identifying=schema.identifying_groups())
    pool = pd.concat([train, holdout], ignore_index=True)
    ids = pool[key].dropna().unique()
    n_holdout = holdout[key].nunique()
    n_unseen = (len(ids) - n_holdout) // 4
    scores = {way: {s: [] for s in SCORES} for way in ("entities", "rows")}
    for split in range(splits):
        perm = np.random.default_rng(100 + split).permutation(ids)
        held, unseen_ids = set(perm[:n_holdout]), set(perm[n_holdout : n_holdout + n_unseen])
        parts = [pool[pool[key].isin(held)], pool[pool[key].isin(unseen_ids)], pool[~pool[key].isin(held | unseen_ids)]]
        ho, unseen, rest = (p.reset_index(drop=True) for p in parts)
        p = prepare_tables(rest, ho, unseen, schema.kinds(), config)
        for way, entity in (("entities", key), ("rows", None)):
            args = (p.train, p.holdout, p.synthetic, p.kinds, p.scored, split, config.dcr_max_rows, entity)
            found = {**dcr_metrics(*args), **membership_metrics(*args)}
            for s in SCORES:
                scores[way][s].append(found[s])
    return {
        "out": str(out),
        "entity": key,
        "splits": splits,
        "holdout_entities": int(n_holdout),
        "unseen_entities": int(n_unseen),
        **{
            way: {s: {"mean": round(float(np.mean(v)), 3), "sd": round(float(np.std(v)), 3)} for s, v in by.items()}
            for way, by in scores.items()
        },
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="a synthgen run's output folder (holds prepared/)")
    ap.add_argument("entity", help="the entity key column")
    ap.add_argument("--splits", type=int, default=16)
    args = ap.parse_args(argv)
    print(json.dumps(reference(args.out, args.entity, args.splits), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
