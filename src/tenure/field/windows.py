"""Choosing the one-hour window to promise, and scoring past promises so the promise keeps its word.

A technician who would arrive before a window waits for it, so a window [s, s + 60 min] holds exactly
when the raw arrival is no later than s + 60 min: the later the window, the higher its coverage. We
promise the earliest window on a quarter-hour grid whose modelled coverage reaches `level`.

`level` is not the stated coverage itself but what history says the model needs to say for the
stated coverage to hold: for each past promise we store the predicted arrival quantiles and, once the
technician arrived, read off the predicted CDF at the actual arrival (its PIT). If the model were
right, PITs would be uniform; whatever they are, the stated-coverage quantile of the PITs is the
modelled level that held that often in the past (split-conformal calibration).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

WINDOW_SECONDS = 3600.0
GRID_SECONDS = 900.0
PROMISE_LEVELS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.99)
MAX_LEVEL = 0.99
MIN_LEVEL = 0.5
MIN_CALIBRATION_SAMPLES = 30


def ceil_grid(seconds: float, grid: float = GRID_SECONDS) -> float:
    return math.ceil(seconds / grid - 1e-9) * grid


def earliest_window(raw: np.ndarray, level: float, not_before: float) -> tuple[float, float]:
    """The earliest grid-aligned window start at or after `not_before` whose coverage reaches `level`,
    and that coverage. `raw` holds the raw arrival samples of one stop."""
    start = max(ceil_grid(float(np.quantile(raw, level)) - WINDOW_SECONDS), ceil_grid(not_before))
    covered = float(np.mean(raw <= start + WINDOW_SECONDS))
    while covered < level:  # quantile interpolation can land a hair short
        start += GRID_SECONDS
        covered = float(np.mean(raw <= start + WINDOW_SECONDS))
    return start, covered


def quantile_offsets(raw: np.ndarray, window_start: float) -> list[float]:
    """Predicted arrival quantiles at PROMISE_LEVELS, in minutes after the window start."""
    return [round(float(v), 2) for v in (np.quantile(raw, PROMISE_LEVELS) - window_start) / 60.0]


def pit(offsets: Sequence[float], actual_minutes: float) -> float:
    """The predicted CDF at the actual arrival (minutes after window start), read off stored quantiles."""
    if len(offsets) != len(PROMISE_LEVELS):
        raise ValueError("stored quantiles do not match PROMISE_LEVELS")
    xs = np.maximum.accumulate(np.asarray(offsets, dtype=float))
    if actual_minutes > xs[-1]:
        return 1.0
    if actual_minutes < xs[0]:
        return 0.0
    return float(np.interp(actual_minutes, xs, PROMISE_LEVELS))


def conformal_level(pits: Sequence[float], target: float) -> float:
    """The modelled coverage a window needs so that `target` of past arrivals fell inside."""
    n = len(pits)
    if n < MIN_CALIBRATION_SAMPLES:
        return min(MAX_LEVEL, max(MIN_LEVEL, target))
    rank = math.ceil((n + 1) * target)
    if rank > n:
        return MAX_LEVEL
    level = float(np.sort(np.asarray(pits, dtype=float))[rank - 1])
    return min(MAX_LEVEL, max(MIN_LEVEL, level))
