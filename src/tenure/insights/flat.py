"""Evaluate churn models on a flat one-row-per-customer table by stratified cross-validation.

Gradient boosting, a spline logistic regression and their average are all fitted on the same folds; the
one with the best out-of-fold AUC is reported (each candidate's AUC is reported too, so the choice is
visible). AUC and top-decile lift rank customers by the chosen model's out-of-fold scores (calibration
is a rising map, so it keeps that order); the Brier score is of calibrated probabilities, each fold
calibrated by a map fitted on the other folds' predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

from tenure.insights import calibration, gbm, metrics
from tenure.insights.linear import SplineLogistic
from tenure.insights.tabular import Table

MIN_ROWS = 200
MIN_EACH_CLASS = 20


class NotEnoughData(ValueError):
    pass


def check_size(table: Table, *, folds: int) -> None:
    positives = int(table.labels.sum())
    negatives = table.rows - positives
    if table.rows < MIN_ROWS:
        raise NotEnoughData(f"not enough rows to evaluate: {table.rows} customers, need {MIN_ROWS}")
    if min(positives, negatives) < max(MIN_EACH_CLASS, folds):
        raise NotEnoughData(
            f"not enough of each outcome to evaluate: {positives} leavers and {negatives} stayers, "
            f"need {MIN_EACH_CLASS} of each"
        )


def _gbm_matrix(table: Table) -> tuple[np.ndarray, list[str], list[str]]:
    columns = list(table.numeric.values())
    # LightGBM reads a category code as an integer-valued float; NaN is its "missing".
    columns += [np.where(c.codes < 0, np.nan, c.codes).astype(np.float64) for c in table.categorical.values()]
    return np.column_stack(columns), [*table.numeric, *table.categorical], list(table.categorical)


def evaluate_table(table: Table, *, folds: int = 5, seed: int = 0) -> dict[str, Any]:
    """Out-of-fold AUC, top-decile lift and Brier score of the best of boosting, logistic and their blend."""
    check_size(table, folds=folds)
    y = table.labels
    x, names, categorical = _gbm_matrix(table)
    oof = {"lightgbm": np.zeros(table.rows), "logistic": np.zeros(table.rows)}
    fold_of = np.zeros(table.rows, dtype=np.int32)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fold, (train, test) in enumerate(splitter.split(x, y)):
        fold_of[test] = fold
        booster = gbm.train(x[train], y[train], names, categorical=categorical, seed=seed)
        oof["lightgbm"][test] = booster.predict(x[test])
        oof["logistic"][test] = SplineLogistic().fit(table, train).predict(table, test)
    oof["blend"] = (oof["lightgbm"] + oof["logistic"]) / 2
    candidates = {name: metrics.auc(y, scores) for name, scores in oof.items()}
    chosen = max(candidates, key=lambda name: candidates[name])
    method, probabilities = calibration.choose(oof[chosen], y, fold_of)
    return {
        "auc": round(candidates[chosen], 4),
        "top_decile_lift": round(metrics.top_decile_lift(y, oof[chosen]), 3),
        "brier": round(metrics.brier(y, probabilities), 4),
        "n": table.rows,
        "positives": int(y.sum()),
        "model": chosen,
        "folds": folds,
        "seed": seed,
        "auc_by_model": {name: round(value, 4) for name, value in candidates.items()},
        "calibration": method,
        "brier_uncalibrated": round(metrics.brier(y, oof[chosen]), 4),
        "columns": table.describe_columns(),
    }
