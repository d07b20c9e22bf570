"""Turn raw model scores into probabilities that match observed churn rates, stored as plain numbers.

Two maps: isotonic regression (steps through the points, joined into a rising curve) and Platt scaling
(a logistic curve on the score's log-odds). Both are fitted on out-of-fold predictions, so the model
never calibrates itself on rows it was trained on; `choose` keeps the one with the lower cross-fitted
Brier score (isotonic only when there are enough leavers and stayers to trust its steps). Both maps
rise with the score, so calibrating never reorders customers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

ISOTONIC_MIN_POSITIVES = 100
_EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    return np.log(clipped / (1 - clipped))


def _smoothed_isotonic(s: np.ndarray, y: np.ndarray) -> tuple[list[float], list[float]]:
    """Isotonic steps, joined at each step's mean score instead of held flat.

    Plain isotonic output is a staircase: customers on one step tie, which throws away ranking (AUC)
    the model had. Linking the steps' centres keeps the fitted rates and a strictly rising curve.
    """
    fitted = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit_transform(s, y)
    steps, position = np.unique(fitted, return_inverse=True)
    centres = list(np.bincount(position, weights=s) / np.bincount(position))
    values = list(steps)
    # Beyond the outer centres, head for (0, 0) and (1, 1) rather than staying flat, so the riskiest (and
    # safest) customers keep their order instead of all tying on the last step.
    if centres[0] > 0:
        centres, values = [0.0, *centres], [0.0, *values]
    if centres[-1] < 1:
        centres, values = [*centres, 1.0], [*values, 1.0]
    return [float(v) for v in centres], [float(v) for v in values]


def _isotonic_allowed(y: np.ndarray) -> bool:
    return int(y.sum()) >= ISOTONIC_MIN_POSITIVES and int((1 - y).sum()) >= ISOTONIC_MIN_POSITIVES


def fit(scores: ArrayLike, labels: ArrayLike, method: str = "platt") -> dict[str, Any]:
    """A JSON-ready calibration map from out-of-fold scores (probabilities in [0, 1]) to probabilities."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if method == "isotonic" and _isotonic_allowed(y):
        x_points, y_points = _smoothed_isotonic(s, y)
        return {"method": "isotonic", "x": x_points, "y": y_points}
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(s).reshape(-1, 1), y)
    return {"method": "platt", "a": float(platt.coef_[0, 0]), "b": float(platt.intercept_[0])}


def apply(calibration: dict[str, Any], scores: ArrayLike) -> np.ndarray:
    """Calibrated probabilities; an empty calibration leaves the scores as they are."""
    s = np.asarray(scores, dtype=np.float64)
    method = calibration.get("method")
    if method is None:
        return s
    if method == "isotonic":
        return np.interp(s, np.asarray(calibration["x"]), np.asarray(calibration["y"]))
    if method == "platt":
        return 1.0 / (1.0 + np.exp(-(calibration["a"] * _logit(s) + calibration["b"])))
    raise ValueError(f"unknown calibration method {method!r}")


def cross_fitted(scores: ArrayLike, labels: ArrayLike, folds: ArrayLike, method: str = "platt") -> np.ndarray:
    """Calibrate each fold's scores with a map fitted on the other folds' scores (for honest Brier scores)."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    f = np.asarray(folds)
    out = np.empty_like(s)
    for fold in np.unique(f):
        held = f == fold
        out[held] = apply(fit(s[~held], y[~held], method), s[held])
    return out


def choose(scores: ArrayLike, labels: ArrayLike, folds: ArrayLike) -> tuple[str, np.ndarray]:
    """The calibration method with the lower cross-fitted Brier score, and the probabilities it gave."""
    y = np.asarray(labels, dtype=np.float64)
    best: tuple[float, str, np.ndarray] | None = None
    for method in ("platt", "isotonic") if _isotonic_allowed(y) else ("platt",):
        calibrated = cross_fitted(scores, y, folds, method)
        brier = float(np.mean((calibrated - y) ** 2))
        if best is None or brier < best[0]:
            best = (brier, method, calibrated)
    assert best is not None
    return best[1], best[2]
