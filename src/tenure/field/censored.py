"""Fitting a normal distribution to data where some values are known only to lie below a bound.

The travel error is such data: a technician who reaches a customer before the window opens waits at the
door and reports "arrived" when the window starts, so that drive is known only to have taken at most
that long. Dropping those drives keeps the slow ones and loses the quick ones, which overstates both
the bias and (in the tail, where misses come from) understates the spread; keeping them as bounds does
neither.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm


def fit_normal_with_upper_bounds(exact: np.ndarray, bounded: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (mean, standard deviation) of a normal from values seen exactly and values
    known only to be at most `bounded` (left-censored). Needs at least two exact values."""
    exact = np.asarray(exact, dtype=float)
    bounded = np.asarray(bounded, dtype=float)
    if exact.size < 2:
        raise ValueError(f"need at least 2 exact values to fit a spread, got {exact.size}")
    start = np.array([exact.mean(), np.log(max(exact.std(ddof=1), 1e-3))])
    if bounded.size == 0:
        return float(exact.mean()), float(exact.std(ddof=1))

    def negative_log_likelihood(params: np.ndarray) -> float:
        mean, log_sd = params
        sd = np.exp(log_sd)
        return -float(norm.logpdf(exact, mean, sd).sum() + norm.logcdf((bounded - mean) / sd).sum())

    result = minimize(
        negative_log_likelihood, start, method="Nelder-Mead", options={"xatol": 1e-6, "fatol": 1e-9}
    )
    mean, log_sd = result.x
    return float(mean), float(np.exp(log_sd))
