"""What the customer-value models share: input checks, the optimiser wrapper, the error they raise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

FloatArray = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike
Objective = Callable[[FloatArray], tuple[float, FloatArray]]


class ClvError(ValueError):
    """Input a customer-value model cannot use, or a fit that did not converge; the message says which."""


def as_float_array(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ClvError(f"{name} must be one-dimensional, got shape {array.shape}")
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ClvError(f"{name} has a missing or infinite value at row {bad[0]}")
    return array


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


def check_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (repeat purchases, time of the last one, age) per customer, all measured from the first purchase."""
    x = as_float_array(frequency, "frequency")
    t_x = as_float_array(recency, "recency")
    age = as_float_array(T, "T")
    if not (x.size == t_x.size == age.size):
        raise ClvError(f"frequency, recency and T differ in length: {x.size}, {t_x.size}, {age.size}")
    if x.size == 0:
        raise ClvError("no customers")
    if (x < 0).any() or (x != np.round(x)).any():
        row = _first((x < 0) | (x != np.round(x)))
        raise ClvError(f"frequency must be a whole number >= 0; row {row} has {x[row]}")
    if (t_x < 0).any():
        row = _first(t_x < 0)
        raise ClvError(f"recency must be >= 0; row {row} has {t_x[row]}")
    # A little slack: recency and T are often rounded separately (CDNOW's summary has 2 decimals).
    late = t_x > age + 1e-9 * np.maximum(1.0, age)
    if late.any():
        row = _first(late)
        raise ClvError(f"recency is after T at row {row}: recency {t_x[row]}, T {age[row]}")
    stray = (x == 0) & (t_x != 0)
    if stray.any():
        row = _first(stray)
        raise ClvError(f"a customer with no repeat purchase must have recency 0; row {row} has {t_x[row]}")
    return x, np.minimum(t_x, age), age


def check_fit_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, model: str
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """check_rfm, plus what a fit needs: some observation time and somebody who bought again."""
    x, t_x, age = check_rfm(frequency, recency, T)
    if (age <= 0).all():
        raise ClvError(f"{model}: every customer has T = 0, so there is no observation time to fit on")
    if not (x > 0).any():
        raise ClvError(f"{model} needs at least one customer with a repeat purchase; there are none")
    return x, t_x, age


def fit_log_parameters(
    objective: Objective | Callable[[FloatArray], float],
    start: FloatArray,
    *,
    names: tuple[str, ...],
    model: str,
    analytic_gradient: bool = True,
    upper: tuple[float, ...] | None = None,
) -> FloatArray:
    """Minimise over log-parameters (so every parameter stays positive) and return the parameters themselves.

    Bounds of exp(±30) (or the given ``upper`` parameter values) keep a degenerate data set from
    overflowing; an estimate that ends on a bound is reported as a failure instead of being returned as if
    it were a fit.
    """
    bound = 30.0
    highs = np.log(np.asarray(upper, dtype=np.float64)) if upper is not None else np.full(start.size, bound)
    lows = np.full(start.size, -bound)
    options: dict[str, Any] = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-8, "maxls": 50}
    result = minimize(
        objective,
        start,
        method="L-BFGS-B",
        jac=True if analytic_gradient else "3-point",
        bounds=list(zip(lows, highs, strict=True)),
        options=options,
    )
    log_params = np.asarray(result.x, dtype=np.float64)
    if not np.isfinite(result.fun):
        raise ClvError(f"{model} fit failed: the log-likelihood is not finite ({result.message})")
    at_bound = (log_params <= lows + 1e-6) | (log_params >= highs - 1e-6)
    if at_bound.any():
        which = ", ".join(n for n, hit in zip(names, at_bound, strict=True) if hit)
        raise ClvError(
            f"{model} fit did not settle: {which} ran off to 0 or infinity; the data do not identify the model "
            "(too few customers or repeat purchases?)"
        )
    # L-BFGS-B stops with "abnormal termination in line search" once it cannot improve at float precision;
    # that is a converged fit. A large gradient is not.
    gradient = np.asarray(result.jac, dtype=np.float64)
    if not result.success and not (np.max(np.abs(gradient)) <= 1e-4):
        raise ClvError(f"{model} fit did not converge: {result.message}")
    return np.asarray(np.exp(log_params), dtype=np.float64)
