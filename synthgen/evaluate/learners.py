"""Model-based metrics with one learner, sklearn's HistGradientBoosting: detection and utility.

Features: numbers as float64 (NaN = missing, handled natively), categories as ordinal codes
with native categorical support. HistGradientBoosting takes at most 255 levels per feature,
so rarer levels share one 'other' code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, cpu_count, delayed
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error, r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

from synthgen.evaluate.columns import DISCRETE, NUMERIC, cap_codes, numbers, shared_codes, subsample

_MAX_LEVELS = 254  # + one 'other' code = 255, HistGradientBoosting's limit
_PARALLEL_ROWS = 20_000  # below this, cross-validation folds run one after another
# The utility classifier's L2 penalty on leaf values. A leaf's value is -sum(gradient) /
# (sum(hessian) + l2); in a multi-class fit the hessian p(1 - p) of a rare class collapses to ~0
# while its gradient does not, so with sklearn's default (0) leaf values run away
# (scikit-learn issue #11452). On the suite's planes table (6 engine classes, three with 2 rows)
# the real-trained model reached raw scores of 4e4 and 0.44 holdout accuracy against 0.82 for
# the majority class; with 1.0: raw scores <= 9.3, accuracy 0.98. Detection (two balanced
# classes) keeps the default.
_UTILITY_L2 = 1.0


# HistGradientBoosting parallelises each tree node over OpenMP threads. On a 2-core machine
# that is also busy with other work, those fine-grained threads wait on each other: one Adult
# fit took 19 s with 2 threads against 1.7 s with 1. So every fit here is single-threaded,
# and detection's cross-validation folds run in parallel processes instead (coarse-grained,
# so a busy machine slows them down only in proportion).
def _one_thread():
    return threadpool_limits(limits=1, user_api="openmp")


def features(frames: list[pd.DataFrame], kinds: dict[str, str], cols: list[str]):
    """Encode several tables with one shared vocabulary -> ([X per frame], categorical mask)."""
    blocks = [[] for _ in frames]
    is_cat = []
    for col in cols:
        if kinds[col] in NUMERIC:
            for b, f in zip(blocks, frames):
                b.append(numbers(f[col], kinds[col]))
            is_cat.append(False)
        elif kinds[col] in DISCRETE:
            codes, uniques = shared_codes(*(f[col] for f in frames))
            codes = cap_codes(codes, len(uniques), _MAX_LEVELS)
            for b, c in zip(blocks, codes):
                b.append(np.where(c < 0, np.nan, c).astype(np.float64))
            is_cat.append(True)
    return [np.column_stack(b) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)], np.array(is_cat)


def detection_auc(
    real: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    cols: list[str],
    folds: int,
    seed: int,
    max_rows: int,
    entity: str | None = None,
) -> float:
    """ROC AUC of a classifier telling real from synthetic rows (0.5: indistinguishable).

    Equal row counts per side, so 0.5 is the ideal whatever the table sizes; the score is
    the mean of the stratified folds' out-of-fold AUCs.

    entity: the key of a table of entities (a patient's visits), in both tables: one row of each
    entity on each side, drawn at random. With all their rows, a real patient's other visits taught
    the classifier that patient's own birth date in every fold, so real rows were told from synthetic
    ones by values only a copy would share, and a generator that copied real birth dates scored
    better; folds of whole entities instead turn that around (each held-out entity's bin loses its
    own side's rows: 0.33-0.41 for visits models, below chance; benchmarks/entities.md).
    """
    n = min(len(real), len(syn), max_rows)
    if n < 2:  # a fold needs a row of each side to score (plotly's medals: 3 rows, 1 in the holdout)
        return float("nan")
    if entity is not None and entity in real.columns and entity in syn.columns:
        real, syn = one_row_each(real, entity, seed), one_row_each(syn, entity, seed + 1)
        n = min(len(real), len(syn), max_rows)
        if n < 2:
            return float("nan")
    folds = min(folds, n)  # stratified folds hold a row of each side each
    real, syn = subsample(real, n, seed), subsample(syn, n, seed + 1)
    (xr, xs), is_cat = features([real, syn], kinds, cols)
    x = np.vstack([xr, xs])
    y = np.r_[np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]
    clf = HistGradientBoostingClassifier(categorical_features=is_cat, random_state=seed)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    # joblib's cpu_count honours CPU affinity and container quotas, unlike os.cpu_count
    jobs = min(folds, cpu_count()) if len(x) >= _PARALLEL_ROWS else 1
    with _one_thread():  # loky workers get cpu_count // jobs OpenMP threads: 1 on 2 cores
        return float(np.mean(cross_val_score(clf, x, y, cv=cv, scoring="roc_auc", n_jobs=jobs)))


def one_row_each(df: pd.DataFrame, entity: str, seed: int) -> pd.DataFrame:
    """One row of each entity, drawn with the seed (each row with a null key its own entity)."""
    shuffled = df.sample(frac=1.0, random_state=seed)
    keep = ~shuffled[entity].duplicated() | shuffled[entity].isna()
    return shuffled[keep.to_numpy()]


def resolve_task(task: str, target_kind: str, target: pd.Series | None = None) -> str:
    """evaluate.task=auto: classification for categories and booleans, and for a whole-number target
    with two values (0/1 outcomes such as "two_year_recid"); regression for other numbers."""
    if task != "auto":
        return task
    if target_kind in DISCRETE:
        return "classification"
    if target_kind == "integer" and target is not None and target.dropna().nunique() <= 2:
        return "classification"
    return "regression"


def utility(
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    syn: pd.DataFrame,
    kinds: dict[str, str],
    cols: list[str],
    target: str,
    task: str,
    seed: int,
) -> dict[str, float]:
    """Train on synthetic / test on holdout (TSTR) against train on real / test on holdout."""
    feats = [c for c in cols if c != target]
    (x_tr, x_ho, x_sy), is_cat = features([train, holdout, syn], kinds, feats)
    if task == "classification":
        # labels as text: sklearn refuses an object array of numbers (a 0/1 integer target)
        y_tr, y_ho, y_sy = (
            f[target].astype(str).astype(object).where(f[target].notna(), None).to_numpy()
            for f in (train, holdout, syn)
        )
        classes = list(pd.Series(y_tr).value_counts().index)  # most frequent first
        positive = classes[-1]  # the minority class of the real target
        keep = [pd.Series(y).isin(classes).to_numpy() for y in (y_tr, y_ho, y_sy)]
    else:
        y_tr, y_ho, y_sy = (numbers(f[target], kinds[target]) for f in (train, holdout, syn))
        classes, keep = None, [~np.isnan(y) for y in (y_tr, y_ho, y_sy)]
    # The two fits are independent: run them side by side in processes when data is large.
    jobs = min(2, cpu_count()) if len(x_tr) + len(x_sy) >= _PARALLEL_ROWS else 1
    with _one_thread():
        preds = Parallel(n_jobs=jobs)(
            delayed(_fit_predict)(x[k], y[k], x_ho[keep[1]], classes, is_cat, seed)
            for x, y, k in ((x_tr, y_tr, keep[0]), (x_sy, y_sy, keep[2]))
        )
    out: dict[str, float] = {}
    names = ("roc_auc", "accuracy", "f1") if classes else ("r2", "rmse")
    for name, pred in zip(("real", "synthetic"), preds):
        if classes:
            scores = _class_scores(y_ho[keep[1]], pred, classes, positive)
        else:
            scores = {
                "r2": float(r2_score(y_ho[keep[1]], pred)),
                "rmse": float(np.sqrt(mean_squared_error(y_ho[keep[1]], pred))),
            }
        out.update({f"utility.{name}.{k}": v for k, v in scores.items()})
    for k in names:
        out[f"utility.{k}_ratio"] = _ratio(out[f"utility.synthetic.{k}"], out[f"utility.real.{k}"])
    return out


def _fit_predict(x, y, x_test, classes, is_cat, seed) -> np.ndarray:
    """Regression (classes None): predictions. Classification: probabilities on x_test in
    the column order of `classes` (classes the training rows lack get 0)."""
    if len(x):  # a feature that is null in every training row (another tool's junk column) says
        seen = ~np.isnan(x).all(axis=0)  # nothing, and sklearn's binning refuses it: leave it out
        x, x_test, is_cat = x[:, seen], x_test[:, seen], np.asarray(is_cat)[seen]
    if classes is None:
        model = HistGradientBoostingRegressor(categorical_features=is_cat, random_state=seed)
        return model.fit(x, y).predict(x_test)
    if len(y) == 0:  # no synthetic row has a real class (e.g. DP merged them all): chance
        return np.full((len(x_test), len(classes)), 1.0 / len(classes))
    if len(set(y)) < 2:  # a synthetic set with one class cannot train a classifier
        model = DummyClassifier(strategy="most_frequent").fit(np.zeros((len(y), 1)), y)
        p = model.predict_proba(np.zeros((len(x_test), 1)))
    else:
        model = HistGradientBoostingClassifier(
            categorical_features=is_cat, random_state=seed, l2_regularization=_UTILITY_L2
        )
        p = model.fit(x, y).predict_proba(x_test)
    out = np.zeros((len(x_test), len(classes)))
    for j, c in enumerate(model.classes_):
        out[:, classes.index(c)] = p[:, j]
    return out


def _class_scores(y_true, proba, classes, positive) -> dict[str, float]:
    pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    if len(set(y_true)) < 2:  # AUC is undefined on a one-class holdout
        auc, f1 = float("nan"), float("nan")
    elif len(classes) == 2:
        pos = classes.index(positive)
        auc = roc_auc_score(y_true == positive, proba[:, pos])
        f1 = f1_score(y_true == positive, pred == positive)
    else:
        auc = _macro_ovr_auc(y_true, proba, classes)
        f1 = f1_score(y_true, pred, average="macro", labels=classes)
    return {"roc_auc": float(auc), "accuracy": float(accuracy_score(y_true, pred)), "f1": float(f1)}


def _macro_ovr_auc(y_true, proba, classes) -> float:
    """One-vs-rest ROC AUC averaged over the classes the holdout has (sklearn's macro "ovr" when it
    has every class). A class of the training rows that no holdout row has cannot be scored; sklearn
    then gives no AUC at all (planes: two 2-row engine types fell into the training split only)."""
    y_true = np.asarray(y_true, dtype=object)
    aucs = [
        roc_auc_score(y_true == c, proba[:, j]) for j, c in enumerate(classes) if 0 < (y_true == c).sum() < len(y_true)
    ]
    return float(np.mean(aucs))


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b else float("nan")
