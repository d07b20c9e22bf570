"""Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"): what a customer's orders are worth.

Each order's value is Gamma(p, nu) around the customer's own mean; nu ~ Gamma(q, gamma) across customers.
It is fitted on customers with at least one repeat purchase, from their number of repeat purchases x and
the mean value of those purchases m; it assumes spend does not depend on how often someone buys.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln, psi

from .clv_common import ArrayLike, ClvError, FloatArray, as_float_array, fit_log_parameters

NAMES = ("p", "q", "gamma")


def _check(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[FloatArray, FloatArray]:
    x = as_float_array(frequency, "frequency")
    m = as_float_array(monetary_value, "monetary_value")
    if x.size != m.size:
        raise ClvError(f"frequency and monetary_value differ in length: {x.size}, {m.size}")
    if x.size == 0:
        raise ClvError("Gamma-Gamma needs customers with repeat purchases; there are none")
    if (x <= 0).any() or (x != np.round(x)).any():
        row = int(np.flatnonzero((x <= 0) | (x != np.round(x)))[0])
        raise ClvError(
            f"Gamma-Gamma is fitted on repeat buyers only: frequency must be a whole number >= 1; row {row} has {x[row]}"
        )
    if (m <= 0).any():
        row = int(np.flatnonzero(m <= 0)[0])
        raise ClvError(f"monetary_value must be > 0 for repeat buyers; row {row} has {m[row]}")
    return x, m


def _negative_log_likelihood(
    log_params: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[float, FloatArray]:
    params = np.exp(log_params)
    p, q, g = params
    px = p * x
    log_m = np.log(m)
    log_gm = np.log(g + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1) * log_m
        + px * np.log(x)
        - (px + q) * log_gm
    )
    d_p = np.sum(x * (psi(px + q) - psi(px) + log_m + np.log(x) - log_gm))
    d_q = np.sum(psi(px + q) - psi(q) + np.log(g) - log_gm)
    d_g = np.sum(q / g - (px + q) / (g + m * x))
    n = x.size
    return float(-np.sum(ll) / n), -np.array([d_p, d_q, d_g]) * params / n


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma model."""

    p: float
    q: float
    gamma: float

    @classmethod
    def fit(cls, frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGamma:
        """Fit on repeat buyers: x >= 1 repeat purchases with mean value m > 0."""
        x, m = _check(frequency, monetary_value)
        # Moment-style start: q a little above 1 keeps the population mean finite; gamma puts it at mean(m).
        start = np.log(np.array([1.0, 2.0, float(np.mean(m))]))
        params = fit_log_parameters(
            lambda lp: _negative_log_likelihood(lp, x, m), start, names=NAMES, model="Gamma-Gamma"
        )
        return cls(*(float(v) for v in params))

    def to_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Expected order value of a customer we know nothing about (infinite when q <= 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def conditional_expected_value(self, frequency: ArrayLike, monetary_value: ArrayLike) -> FloatArray:
        """Expected value of a customer's future orders given x repeat purchases averaging m.

        Customers with x = 0 get the population mean (their m is ignored)."""
        x = as_float_array(frequency, "frequency")
        m = as_float_array(monetary_value, "monetary_value")
        if x.size != m.size:
            raise ClvError(f"frequency and monetary_value differ in length: {x.size}, {m.size}")
        if (x < 0).any():
            raise ClvError(f"frequency must be >= 0; row {int(np.flatnonzero(x < 0)[0])} is negative")
        if self.q <= 1:
            raise ClvError(f"Gamma-Gamma q = {self.q:.3f} <= 1: the expected order value is not finite")
        m = np.where(x > 0, m, 0.0)
        px = self.p * x
        return np.asarray((self.p * self.gamma + px * m) / (px + self.q - 1), dtype=np.float64)
