"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987): like BG/NBD, but a customer may stop at any moment.

While alive a customer buys at rate lambda ~ Gamma(r, alpha); their lifetime is exponential with rate
mu ~ Gamma(s, beta). Same inputs as BG/NBD. The likelihood needs a Gauss hypergeometric function per
customer (Fader & Hardie's 2005 note), so it is slower than BG/NBD; it is fitted with a central-difference
gradient, which is plenty for data sets of customer-table size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from .clv_common import ArrayLike, FloatArray, check_fit_rfm, check_rfm, fit_log_parameters

NAMES = ("r", "alpha", "s", "beta")


def _log_a0(params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    """log of A0, the integral over drop-out times between t_x and T (-inf when t_x == T)."""
    r, alpha, s, beta = params
    rho = r + s + x
    if alpha >= beta:
        kappa, b_arg, gap = alpha, s + 1, alpha - beta
    else:
        kappa, b_arg, gap = beta, r + x, beta - alpha

    def log_term(y: FloatArray) -> FloatArray:
        # log[2F1(rho, b; rho+1; z) / (kappa+y)^rho]; Euler's transformation (1-z)^(1-b) 2F1(1, rho+1-b; rho+1; z)
        # keeps scipy finite for b and rho in the hundreds where the plain form overflows.
        z = gap / (kappa + y)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            log_f = (1 - b_arg) * np.log1p(-z) + np.log(hyp2f1(1.0, rho + 1 - b_arg, rho + 1, z))
        return np.asarray(log_f - rho * np.log(kappa + y), dtype=np.float64)

    log_first, log_second = log_term(t_x), log_term(age)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a0 = np.asarray(
            log_first + np.log1p(-np.exp(np.minimum(log_second - log_first, 0.0))), dtype=np.float64
        )
    bad = np.flatnonzero(np.isnan(log_a0) | (log_a0 == np.inf))
    if bad.size:
        # scipy's 2F1 gives up for large parameters with z near 1 (beta far above alpha): integrate instead.
        log_a0[bad] = np.log(rho[bad]) + _log_integral(params, x[bad], t_x[bad], age[bad])
    return log_a0


_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(48)
_NODES, _WEIGHTS = (_NODES + 1) / 2, _WEIGHTS / 2  # on [0, 1]


def _log_integral(params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    """log of the integral from t_x to T of (alpha+tau)^-(r+x) (beta+tau)^-(s+1) dtau.

    The first factor is integrated exactly by changing variable to its normalised running integral v; the
    second, smooth in v wherever this is needed, by Gauss-Legendre in v."""
    r, alpha, s, beta = params
    m = (1 - r - x)[:, None]
    u0, u1 = np.log(alpha + t_x)[:, None], np.log(alpha + age)[:, None]
    span = u1 - u0
    small = np.abs(m * span) < 1e-8
    safe_m = np.where(small, 1.0, m)
    # the first factor's integral, e^(m u0) (e^(m span) - 1) / m, and its inverse u(v), in u = log(alpha+tau)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_z = m * u0 + np.where(small, np.log(span), np.log(np.expm1(safe_m * span) / safe_m))
        u = np.where(small, u0 + _NODES * span, u0 + np.log1p(_NODES * np.expm1(safe_m * span)) / safe_m)
    log_g = -(s + 1) * np.log(beta + np.exp(u) - alpha)
    top = log_g.max(axis=1, keepdims=True)
    log_sum = top + np.log(np.sum(_WEIGHTS * np.exp(log_g - top), axis=1, keepdims=True))
    result = (log_z + log_sum)[:, 0]
    result[age <= t_x] = -np.inf
    return np.asarray(result, dtype=np.float64)


def _log_parts(
    params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """log of (alive at T) and (dropped out between t_x and T) parts of the likelihood, without the lead term."""
    r, alpha, s, beta = params
    log_alive = -(r + x) * np.log(alpha + age) - s * np.log(beta + age)
    log_dropped = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, age)
    return log_alive, log_dropped


def _log_likelihood(params: FloatArray, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
    r, alpha, s, beta = params
    lead = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_alive, log_dropped = _log_parts(params, x, t_x, age)
    return np.asarray(lead + np.logaddexp(log_alive, log_dropped), dtype=np.float64)


def _drop_term(s: float, log_ratio: FloatArray) -> FloatArray:
    """(1 - q^(s-1)) / (s-1) for q = exp(log_ratio) < 1, with its limit -log q at s = 1."""
    if abs(s - 1) < 1e-9:
        return -log_ratio
    return np.asarray(-np.expm1((s - 1) * log_ratio) / (s - 1), dtype=np.float64)


@dataclass(frozen=True)
class ParetoNBD:
    """A fitted Pareto/NBD model. Times are in the periods it was fitted in."""

    r: float
    alpha: float
    s: float
    beta: float

    @classmethod
    def fit(cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> ParetoNBD:
        x, t_x, age = check_fit_rfm(frequency, recency, T, "Pareto/NBD")
        n = x.size

        def objective(log_params: FloatArray) -> float:
            with np.errstate(invalid="ignore"):  # a NaN term makes the whole loss infinite
                value = -np.sum(_log_likelihood(np.exp(log_params), x, t_x, age)) / n
            return float(value) if np.isfinite(value) else 1e300

        rate = max(float(x.sum()), 1.0) / float(age.sum())
        start = np.log(np.array([1.0, 1.0 / rate, 1.0, float(np.mean(age))]))
        # s in the hundreds means nearly every customer has the same drop-out rate (the gamma mixing has gone);
        # the likelihood then creeps along s, beta -> infinity with ever slower 2F1 evaluations, so stop there.
        params = fit_log_parameters(
            objective,
            start,
            names=NAMES,
            model="Pareto/NBD",
            analytic_gradient=False,
            upper=(np.exp(30), np.exp(30), 100.0, np.exp(30)),
        )
        return cls(*(float(v) for v in params))

    @property
    def params(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.s, self.beta])

    def to_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        return _log_likelihood(self.params, *check_rfm(frequency, recency, T))

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        log_alive, log_dropped = _log_parts(self.params, *check_rfm(frequency, recency, T))
        return np.asarray(expit(log_alive - log_dropped), dtype=np.float64)

    def expected_purchases(self, t: ArrayLike) -> FloatArray:
        """Expected purchases of a new customer in (0, t] after the first one."""
        t_arr = np.asarray(t, dtype=np.float64)
        log_ratio = np.log(self.beta) - np.log(self.beta + t_arr)
        return np.asarray(self.r * self.beta / self.alpha * _drop_term(self.s, log_ratio), dtype=np.float64)

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in (T, T + t] of customers with history (x, t_x, T)."""
        t_arr, x, t_x, age = np.broadcast_arrays(
            np.asarray(t, dtype=np.float64), *check_rfm(frequency, recency, T)
        )
        log_ratio = np.log(self.beta + age) - np.log(self.beta + age + t_arr)
        rate_while_alive = (self.r + x) * (self.beta + age) / (self.alpha + age)
        log_alive, log_dropped = _log_parts(self.params, x, t_x, age)
        return np.asarray(
            rate_while_alive * _drop_term(self.s, log_ratio) * expit(log_alive - log_dropped),
            dtype=np.float64,
        )
