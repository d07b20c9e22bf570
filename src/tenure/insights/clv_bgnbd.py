"""BG/NBD (Fader, Hardie & Lee 2005): how often a customer buys and when they quietly stop.

While alive a customer buys at a Poisson rate lambda ~ Gamma(r, alpha); after each repeat purchase they
drop out for good with probability p ~ Beta(a, b). Input per customer, all in model periods (weeks, say),
measured from their first purchase: ``frequency`` x (repeat purchases), ``recency`` t_x (time of the last
one) and ``T`` (time observed).

The fit needs one pass over the customers per likelihood evaluation. Every term that depends on x alone
(gamma and beta functions) is evaluated once per distinct x, so a customer costs two logarithms and an
exponential; the gradient is analytic (digammas), so L-BFGS needs one pass per step, not five.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import betaln, expit, gammaln, hyp2f1, psi

from .clv_common import ArrayLike, FloatArray, check_fit_rfm, check_rfm, fit_log_parameters

NAMES = ("r", "alpha", "a", "b")


class _Data:
    """The customers, split into those without a repeat purchase (only their T matters) and repeat buyers,
    with the distinct x values for the x-only terms."""

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray) -> None:
        self.x, self.t_x, self.T = x, t_x, T
        self.n = self.x.size
        self.ux, self.group = np.unique(self.x, return_inverse=True)
        self.count = np.bincount(self.group, minlength=self.ux.size).astype(np.float64)
        # Customers without a repeat purchase differ only in T: each distinct T is evaluated once, weighted.
        # Summaries in whole days have few (everyone who joined on one day shares it).
        repeat = x > 0
        self.T_zero, zero_count = np.unique(T[~repeat], return_counts=True)
        self.count_zero = zero_count.astype(np.float64)
        self.x_rep, self.tx_rep, self.T_rep = x[repeat], t_x[repeat], T[repeat]
        self.group_rep = self.group[repeat]


def _terms(
    params: FloatArray, data: _Data
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per customer: log-likelihood, weight of the 'dropped out after t_x' branch, log(alpha+T), log(alpha+t_x);
    per distinct x: the x-only part and the beta-function parts of the two branches."""
    r, alpha, a, b = params
    ux = data.ux
    lead = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
    alive_part = betaln(a, b + ux) - betaln(a, b)
    dropped_part = np.full_like(ux, -np.inf)
    pos = ux > 0
    dropped_part[pos] = betaln(a + 1, b + ux[pos] - 1) - betaln(a, b)

    log_at_T = np.log(alpha + data.T)
    log_at_tx = np.log(alpha + data.t_x)
    rx = r + data.x
    alive = alive_part[data.group] - rx * log_at_T
    dropped = dropped_part[data.group] - rx * log_at_tx
    total = np.logaddexp(alive, dropped)
    weight = np.exp(dropped - total)
    return lead[data.group] + total, weight, log_at_T, log_at_tx, alive_part, dropped_part


def _negative_log_likelihood(
    log_params: FloatArray, data: _Data, penalizer: float
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood and its gradient in log-parameters: the fit's inner loop.

    Per customer ll = lead(x) + alive(x) - (r+x) log(alpha+T) + softplus(d), d = log of the odds of having
    dropped out after t_x; without a repeat purchase d = -inf, so those customers need one logarithm."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    ux, count = data.ux, data.count
    pos = ux > 0
    lead = gammaln(r + ux) - gammaln(r) + r * np.log(alpha)
    alive_part = betaln(a, b + ux) - betaln(a, b)
    gap_part = np.zeros_like(ux)
    gap_part[pos] = betaln(a + 1, b + ux[pos] - 1) - betaln(a, b + ux[pos])

    log_T0 = np.log(alpha + data.T_zero)
    log_T = np.log(alpha + data.T_rep)
    shift = np.log(alpha + data.tx_rep)
    shift -= log_T  # log((alpha+t_x)/(alpha+T)) <= 0
    rx = r + data.x_rep
    d = gap_part[data.group_rep] - rx * shift
    w = expit(d)
    c0 = data.count_zero
    log_likelihood = count @ (lead + alive_part) - r * (c0 @ log_T0) - rx @ log_T + np.logaddexp(0.0, d).sum()

    w_by_x = np.bincount(data.group_rep, weights=w, minlength=ux.size)
    d_r = count @ (psi(r + ux) - psi(r) + np.log(alpha)) - c0 @ log_T0 - log_T.sum() - w @ shift
    inv_T = 1.0 / (alpha + data.T_rep)
    inv_tx = 1.0 / (alpha + data.tx_rep)
    d_alpha = (
        data.n * r / alpha - r * (c0 @ (1.0 / (alpha + data.T_zero))) - rx @ (inv_T + w * (inv_tx - inv_T))
    )
    common = psi(a + b) - psi(a + b + ux)
    d_alive_a = common
    d_dropped_a = common + 1.0 / a
    d_alive_b = psi(b + ux) - psi(b) + common
    d_dropped_b = np.zeros_like(ux)
    d_dropped_b[pos] = psi(b + ux[pos] - 1) - psi(b) + common[pos]
    d_a = np.sum((count - w_by_x) * d_alive_a + w_by_x * d_dropped_a)
    d_b = np.sum((count - w_by_x) * d_alive_b + w_by_x * d_dropped_b)

    gradient = np.array([d_r, d_alpha, d_a, d_b]) * params  # chain rule for log-parameters
    value = -log_likelihood / data.n + penalizer * np.sum(params**2)
    return float(value), -gradient / data.n + 2 * penalizer * params**2


def _start(data: _Data) -> FloatArray:
    # r = 1 and alpha from the pooled purchase rate; a = b = 1 is a flat prior on the drop-out chance.
    rate = max(float(data.x.sum()), 1.0) / max(float(data.T.sum()), 1e-9)
    return np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))


@dataclass(frozen=True)
class BetaGeo:
    """A fitted BG/NBD model. Times are in the periods it was fitted in."""

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(
        cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, penalizer: float = 0.0
    ) -> BetaGeo:
        """Maximum-likelihood fit; ``penalizer`` adds an L2 penalty on the parameters (0 = plain MLE)."""
        data = _Data(*check_fit_rfm(frequency, recency, T, "BG/NBD"))
        params = fit_log_parameters(
            lambda p: _negative_log_likelihood(p, data, penalizer), _start(data), names=NAMES, model="BG/NBD"
        )
        return cls(*(float(v) for v in params))

    @property
    def params(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b])

    def to_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """Log-likelihood of each customer."""
        return _terms(self.params, _Data(*check_rfm(frequency, recency, T)))[0]

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(still a customer at T | x, t_x, T)."""
        x, t_x, age = check_rfm(frequency, recency, T)
        return 1.0 / (1.0 + self._dropped_odds(x, t_x, age))

    def _dropped_odds(self, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
        r, alpha, a, b = self.params
        odds = np.zeros_like(x)
        pos = x > 0
        xp = x[pos]
        # a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x), in logs so long-lived heavy buyers do not overflow
        log_odds = (
            np.log(a) - np.log(b + xp - 1) + (r + xp) * (np.log(alpha + age[pos]) - np.log(alpha + t_x[pos]))
        )
        odds[pos] = np.exp(np.minimum(log_odds, 700.0))
        return odds

    def expected_purchases(self, t: ArrayLike) -> FloatArray:
        """Expected purchases of a new customer in (0, t] after the first one."""
        r, alpha, a, b = self.params
        t_arr = np.asarray(t, dtype=np.float64)
        z = t_arr / (alpha + t_arr)
        c = a + b - 1
        return np.asarray(
            _safe_ratio(c, a - 1) * (1 - (alpha / (alpha + t_arr)) ** r * hyp2f1(r, b, c, z)),
            dtype=np.float64,
        )

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in (T, T + t] of customers with history (x, t_x, T)."""
        t_arr, x, t_x, age = np.broadcast_arrays(
            np.asarray(t, dtype=np.float64), *check_rfm(frequency, recency, T)
        )
        r, alpha, a, b = self.params
        c = a + b + x - 1
        z = t_arr / (alpha + age + t_arr)
        shrink = np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t_arr)))
        body = _safe_ratio(c, a - 1) * (1 - shrink * hyp2f1(r + x, b + x, c, z))
        return np.asarray(body / (1.0 + self._dropped_odds(x, t_x, age)), dtype=np.float64)


def _safe_ratio(numerator: FloatArray | float, a_minus_1: float) -> FloatArray | float:
    # The closed forms divide by (a - 1); at a = 1 exactly they are a 0/0 limit, so step off it a hair.
    if abs(a_minus_1) < 1e-6:
        a_minus_1 = 1e-6 if a_minus_1 >= 0 else -1e-6
    return numerator / a_minus_1


def simulate(
    model: BetaGeo, T: ArrayLike, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw (frequency, recency, T) for customers observed for ``T`` periods each under ``model``.

    Given N purchases in (0, T] the x-th purchase time over T is Beta(x, N - x + 1) (uniform order
    statistics), so one draw per customer suffices; the customer drops out after their K-th repeat
    purchase, K geometric in p, and makes x = min(K, N) of them.
    """
    age = np.asarray(T, dtype=np.float64)
    n = age.size
    rate = rng.gamma(model.r, 1.0 / model.alpha, n)
    drop = np.clip(rng.beta(model.a, model.b, n), 1e-12, 1.0)
    lifetime_purchases = rng.geometric(drop)
    purchases = rng.poisson(rate * age)
    x = np.minimum(lifetime_purchases, purchases)
    has = x > 0
    t_x = np.zeros(n)
    t_x[has] = age[has] * rng.beta(x[has], purchases[has] - x[has] + 1)
    return x.astype(np.float64), t_x, age
