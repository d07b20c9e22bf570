"""Survival analysis in numpy: Kaplan-Meier with delayed entry, and Cox proportional hazards.

Both work on counting-process data: each row is an interval (entry, exit] of one subject, with an
`event` flag saying whether the subject was lost at `exit`. Delayed entry (left truncation) matters
here: a customer who joined years before our data starts is only seen because they stayed that long,
so they join the risk set at their tenure on the first day of data, not at zero.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize
from scipy.stats import norm

Floats = NDArray[np.float64]


def _intervals(
    entry: ArrayLike, exit: ArrayLike, event: ArrayLike
) -> tuple[Floats, Floats, NDArray[np.bool_]]:
    start = np.asarray(entry, dtype=np.float64).ravel()
    stop = np.asarray(exit, dtype=np.float64).ravel()
    died = np.asarray(event, dtype=bool).ravel()
    if not start.shape == stop.shape == died.shape:
        raise ValueError(f"entry, exit and event differ in length ({start.size}, {stop.size}, {died.size})")
    if (stop <= start).any():
        bad = int(np.argmax(stop <= start))
        raise ValueError(f"row {bad}: exit {stop[bad]} is not after entry {start[bad]}")
    return start, stop, died


def _at_risk(start: Floats, stop: Floats, times: Floats) -> NDArray[np.int64]:
    """How many intervals (start, stop] contain each time: stop >= t minus start >= t."""
    stops, starts = np.sort(stop), np.sort(start)
    still_in = stops.size - np.searchsorted(stops, times, side="left")
    not_yet = starts.size - np.searchsorted(starts, times, side="left")
    return (still_in - not_yet).astype(np.int64)


@dataclass(frozen=True)
class KaplanMeier:
    """The survival curve at each distinct event time, with pointwise confidence limits."""

    times: Floats
    survival: Floats
    lower: Floats
    upper: Floats
    at_risk: NDArray[np.int64]
    events: NDArray[np.int64]
    subjects: int

    def at(self, time: float) -> float:
        """S(time): the curve is a right-continuous step function starting at 1."""
        index = int(np.searchsorted(self.times, time, side="right")) - 1
        return 1.0 if index < 0 else float(self.survival[index])

    def median(self) -> float | None:
        """The first time the curve reaches 0.5 or below, or None if it never does."""
        below = np.nonzero(self.survival <= 0.5)[0]
        return float(self.times[below[0]]) if below.size else None


def kaplan_meier(
    entry: ArrayLike, exit: ArrayLike, event: ArrayLike, *, confidence: float = 0.95
) -> KaplanMeier:
    """Product-limit estimate with Greenwood's variance and log(-log) limits (which stay inside [0, 1])."""
    start, stop, died = _intervals(entry, exit, event)
    times, deaths = np.unique(stop[died], return_counts=True)
    risk = _at_risk(start, stop, times)
    # A time where nobody is at risk cannot happen with valid rows; keep the guard for the division.
    risk = np.maximum(risk, deaths)
    factor = 1.0 - deaths / risk
    survival = np.cumprod(factor).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(deaths / (risk * (risk - deaths)))
        log_surv = np.log(survival)
        se = np.sqrt(greenwood) / np.abs(log_surv)
        z = float(norm.ppf(0.5 + confidence / 2))
        lower = survival ** np.exp(z * se)
        upper = survival ** np.exp(-z * se)
    # Where S is 1 or 0 the transform is undefined: the limits collapse onto the estimate.
    undefined = ~np.isfinite(se)
    lower = np.where(undefined, survival, lower)
    upper = np.where(undefined, survival, upper)
    return KaplanMeier(
        times=times.astype(np.float64),
        survival=survival,
        lower=lower,
        upper=upper,
        at_risk=risk,
        events=deaths.astype(np.int64),
        subjects=int(start.size),
    )


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: coefficients, their covariance (inverse observed information) and the baseline."""

    names: list[str]
    beta: Floats
    covariance: Floats
    log_likelihood: float
    null_log_likelihood: float
    events: int
    rows: int
    event_times: Floats
    baseline_hazard: Floats  # Breslow increments at event_times, for covariates at their centre
    centre: Floats
    converged: bool

    @property
    def standard_errors(self) -> Floats:
        return np.sqrt(np.diag(self.covariance))

    def hazard_ratios(self, confidence: float = 0.95) -> tuple[Floats, Floats, Floats]:
        z = float(norm.ppf(0.5 + confidence / 2))
        se = self.standard_errors
        return np.exp(self.beta), np.exp(self.beta - z * se), np.exp(self.beta + z * se)

    def p_values(self) -> Floats:
        return 2 * norm.sf(np.abs(self.beta / self.standard_errors))

    def cumulative_baseline(self, times: ArrayLike) -> Floats:
        """Breslow cumulative baseline hazard H0(t) (covariates at their centre)."""
        cumulative = np.concatenate([[0.0], np.cumsum(self.baseline_hazard)])
        index = np.searchsorted(self.event_times, np.asarray(times, dtype=np.float64), side="right")
        return cumulative[index]

    def expected_events(self, entry: ArrayLike, exit: ArrayLike, covariates: ArrayLike) -> Floats:
        """Each row's expected number of losses: exp(x·beta) times the baseline hazard over (entry, exit]."""
        x = np.asarray(covariates, dtype=np.float64) - self.centre
        risk = np.exp(x @ self.beta)
        return risk * (self.cumulative_baseline(exit) - self.cumulative_baseline(entry))


@dataclass(frozen=True)
class _Ordered:
    """The rows sorted by one column and cut at the event times: segment k holds the rows whose value
    lies in [times[k], times[k+1]), so a sum over the rows at or after times[k] is the sum of
    segments k, k+1, ... (rows before the first event time are never needed)."""

    order: NDArray[np.intp]
    ones_x: Floats  # [1, x] per row, in this order
    cuts: list[int]  # segment k is rows cuts[k]:cuts[k + 1]

    @classmethod
    def of(cls, key: Floats, times: Floats, x: Floats) -> _Ordered:
        order = np.argsort(key, kind="stable")
        cuts = np.append(np.searchsorted(key[order], times, side="left"), key.size)
        return cls(order, np.column_stack([np.ones(key.size), x])[order], cuts.tolist())

    def tails(self, weight: Floats) -> Floats:
        """Per event time, the sum of w [1, x]' [1, x] over the rows at or after it, with `weight` in
        the original row order: its [0, 0] entry is the sum of weights, [0, 1:] of w x, [1:, 1:] of
        w x x'. One small matrix product per segment, then a running sum over the segments: cheaper
        than running sums over all rows, and never a rows x p x p array."""
        rows = self.ones_x
        weighted = rows * weight[self.order][:, None]
        grams = np.empty((len(self.cuts) - 1, rows.shape[1], rows.shape[1]))
        for k, (first, last) in enumerate(itertools.pairwise(self.cuts)):
            grams[k] = weighted[first:last].T @ rows[first:last]
        return np.cumsum(grams[::-1], axis=0)[::-1]


class _PartialLikelihood:
    """Breslow partial likelihood for (start, stop] rows, with its gradient and Hessian.

    Risk-set sums at each event time t are (sum over rows with stop >= t) minus (sum over rows
    with start >= t), each a running sum over rows sorted by that column (sorted once): all event
    times at once instead of a loop over risk sets.
    """

    def __init__(self, start: Floats, stop: Floats, died: NDArray[np.bool_], x: Floats) -> None:
        self.x = x
        self.times, self.deaths = np.unique(stop[died], return_counts=True)
        self.event_x = x[died].sum(axis=0)
        self.by_stop = _Ordered.of(stop, self.times, x)
        self.by_start = _Ordered.of(start, self.times, x)

    def _risk_sums(self, weight: Floats) -> Floats:
        return self.by_stop.tails(weight) - self.by_start.tails(weight)

    def evaluate(self, beta: Floats, *, hessian: bool = True) -> tuple[float, Floats, Floats | None]:
        eta = self.x @ beta
        shift = eta.max() if eta.size else 0.0
        sums = self._risk_sums(np.exp(eta - shift))
        s0, s1 = sums[:, 0, 0], sums[:, 0, 1:]
        d = self.deaths.astype(np.float64)
        loglik = float(self.event_x @ beta - (d * (np.log(s0) + shift)).sum())
        mean = s1 / s0[:, None]
        gradient = self.event_x - (d[:, None] * mean).sum(axis=0)
        if not hessian:
            return loglik, gradient, None
        second = sums[:, 1:, 1:] / s0[:, None, None] - np.einsum("tj,tk->tjk", mean, mean)
        return loglik, gradient, -(d[:, None, None] * second).sum(axis=0)

    def baseline(self, beta: Floats) -> Floats:
        return self.deaths / self._risk_sums(np.exp(self.x @ beta))[:, 0, 0]


def cox_fit(
    entry: ArrayLike, exit: ArrayLike, event: ArrayLike, covariates: ArrayLike, names: list[str]
) -> CoxFit:
    """Maximise the Breslow partial likelihood (trust-region Newton with the exact Hessian).

    Covariates are centred first (hazard ratios do not change; exp() stays in range). The
    covariance is the inverse of the observed information at the maximum.
    """
    start, stop, died = _intervals(entry, exit, event)
    x_raw = np.asarray(covariates, dtype=np.float64)
    if x_raw.ndim != 2 or x_raw.shape != (start.size, len(names)):
        raise ValueError(f"covariates must be {start.size} x {len(names)}, got {x_raw.shape}")
    if not died.any():
        raise ValueError("no losses in the data: a hazard model needs at least one")
    centre = x_raw.mean(axis=0)
    x = x_raw - centre
    flat = np.nonzero(x.std(axis=0) == 0)[0]
    if flat.size:
        raise ValueError(f"covariate {names[int(flat[0])]!r} never varies; drop it before fitting")
    likelihood = _PartialLikelihood(start, stop, died, x)
    zero = np.zeros(len(names))
    null_loglik = likelihood.evaluate(zero, hessian=False)[0]

    def objective(beta: Floats) -> tuple[float, Floats]:
        loglik, gradient, _ = likelihood.evaluate(beta, hessian=False)
        return -loglik, -gradient

    def hess(beta: Floats) -> Floats:
        information = likelihood.evaluate(beta)[2]
        assert information is not None
        return -information

    result = optimize.minimize(
        objective, zero, jac=True, hess=hess, method="trust-exact", options={"gtol": 1e-6, "maxiter": 200}
    )
    beta = np.asarray(result.x, dtype=np.float64)
    loglik, gradient, hessian = likelihood.evaluate(beta)
    assert hessian is not None
    covariance = np.asarray(np.linalg.pinv(-hessian), dtype=np.float64)
    # Converged when one more Newton step would raise the log-likelihood by less than 1e-6: a test
    # that does not depend on how large the log-likelihood itself is.
    newton_gain = 0.5 * float(gradient @ covariance @ gradient)
    return CoxFit(
        names=list(names),
        beta=beta,
        covariance=covariance,
        log_likelihood=loglik,
        null_log_likelihood=null_loglik,
        events=int(died.sum()),
        rows=int(start.size),
        event_times=likelihood.times.astype(np.float64),
        baseline_hazard=likelihood.baseline(beta),
        centre=centre,
        converged=newton_gain < 1e-6,
    )
