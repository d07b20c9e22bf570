"""How good a churn score is: ranking (AUC), the top decile's lift, and calibration (Brier score)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata


def _pair(labels: ArrayLike, scores: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if y.size == 0:
        raise ValueError("no rows to score")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return y, s


def auc(labels: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random leaver is scored above a random stayer (ties count half)."""
    y, s = _pair(labels, scores)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both leavers and stayers")
    ranks = rankdata(s)  # average ranks, so tied scores share credit
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def top_decile_lift(labels: ArrayLike, scores: ArrayLike) -> float:
    """Churn rate among the highest-scored tenth (at least one row) divided by the overall churn rate."""
    y, s = _pair(labels, scores)
    base = y.mean()
    if base == 0:
        raise ValueError("lift needs at least one leaver")
    top = max(1, math.ceil(y.size / 10))
    # Stable sort on the negated score: equal scores keep their input order, so the figure is reproducible.
    order = np.argsort(-s, kind="stable")[:top]
    return float(y[order].mean() / base)


def brier(labels: ArrayLike, probabilities: ArrayLike) -> float:
    """Mean squared difference between the predicted probability and what happened (lower is better)."""
    y, p = _pair(labels, probabilities)
    if ((p < 0) | (p > 1)).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return float(np.mean((p - y) ** 2))


def summary(labels: ArrayLike, probabilities: ArrayLike) -> dict[str, Any]:
    """The three figures plus the row and leaver counts, rounded for reports."""
    y, p = _pair(labels, probabilities)
    return {
        "auc": round(auc(y, p), 4),
        "top_decile_lift": round(top_decile_lift(y, p), 3),
        "brier": round(brier(y, p), 4),
        "n": int(y.size),
        "positives": int(y.sum()),
    }
