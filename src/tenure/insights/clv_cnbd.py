"""The (M)BG/CNBD-k family (Platzer & Reutterer 2016; Reutterer, Platzer & Schröder 2021): BG/NBD with
regular buyers.

While alive a customer's times between purchases are Erlang-k with rate lambda ~ Gamma(r, alpha) (k = 1
is the exponential of BG/NBD; larger k means more regular spacing). After each purchase they drop out with
probability p ~ Beta(a, b); the "modified" variant (MBG) also lets them drop out right after the first
purchase. k = 1 without the modification is BG/NBD, with it MBG/NBD (Batislam et al. 2007).

Besides (x, t_x, T) the likelihood needs each customer's sum of the logs of their times between purchases
(``log_intervals``), because Erlang densities depend on every interval, not only on the last purchase.

Derivation, per customer with x repeat purchases at t_1..t_x = t_x and intervals d_i:
the intervals contribute lambda^(kx) e^(-lambda t_x) prod d_i^(k-1) / ((k-1)!)^x; then either they dropped
out after the x-th purchase, or they are alive and the Erlang clock has ticked j < k times in (t_x, T]:
(lambda (T-t_x))^j / j! e^(-lambda (T-t_x)). Integrating lambda and p gives closed forms per branch j. The
branch j is also where the customer stands in the current interval, which makes the forecast exact: from
there the m-th next purchase needs k-j + (m-1)k more ticks of a Poisson(lambda) clock and m-1 survived
drop-out chances, and given the history the number of ticks in (T, T+t] is negative binomial.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.special import betaln, gammaln, logsumexp
from scipy.stats import nbinom

from .clv import PURCHASE_KINDS
from .clv_common import (
    ArrayLike,
    ClvError,
    FloatArray,
    as_float_array,
    check_fit_rfm,
    check_rfm,
    fit_log_parameters,
)
from .extract import TimelineExtract

NAMES = ("r", "alpha", "a", "b")
FORECAST_BLOCK = 20_000  # customers per block in the forecast, which holds (purchases ahead) x (customers)


def _branches(
    params: FloatArray, k: int, modified: bool, x: FloatArray, t_x: FloatArray, age: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per customer, in logs and without the interval term: the 'dropped out after t_x' branch and the
    'alive, j ticks since t_x' branches (k rows), plus b' of the Beta posterior of p while alive."""
    r, alpha, a, b = params
    kx = k * x
    gap = age - t_x
    j = np.arange(k, dtype=np.float64)[:, None]
    log_gap = np.log(np.where(gap > 0, gap, 1.0))
    ticks = np.where((j > 0) & (gap <= 0), -np.inf, j * log_gap)  # no time since t_x: no ticks
    log_alive = gammaln(r + kx + j) - gammaln(r) + r * np.log(alpha) - gammaln(j + 1) + ticks
    log_alive -= (r + kx + j) * np.log(alpha + age)
    log_dead = gammaln(r + kx) - gammaln(r) + r * np.log(alpha) - (r + kx) * np.log(alpha + t_x)
    if modified:  # drop-out chances after the first purchase and each repeat one
        alive_p = betaln(a, b + x + 1) - betaln(a, b)
        dead_p = betaln(a + 1, b + x) - betaln(a, b)
        b_alive = b + x + 1
    else:  # BG: only after repeat purchases, so nobody without one has dropped out
        alive_p = betaln(a, b + x) - betaln(a, b)
        with np.errstate(invalid="ignore"):
            dead_p = np.where(x > 0, betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - betaln(a, b), -np.inf)
        b_alive = b + x
    return log_dead + dead_p, log_alive + alive_p, b_alive


def _interval_term(k: int, x: FloatArray, log_intervals: FloatArray) -> FloatArray:
    return np.asarray((k - 1) * log_intervals - x * gammaln(k), dtype=np.float64)


def _log_likelihood(
    params: FloatArray,
    k: int,
    modified: bool,
    x: FloatArray,
    t_x: FloatArray,
    age: FloatArray,
    litt: FloatArray,
) -> FloatArray:
    dead, alive, _ = _branches(params, k, modified, x, t_x, age)
    return np.asarray(
        _interval_term(k, x, litt) + np.logaddexp(dead, logsumexp(alive, axis=0)), dtype=np.float64
    )


@dataclass(frozen=True)
class CNBDk:
    """A fitted BG/CNBD-k (``modified`` False) or MBG/CNBD-k model, times in the periods it was fitted in."""

    r: float
    alpha: float
    a: float
    b: float
    k: int = 1
    modified: bool = False

    @classmethod
    def fit(
        cls,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        log_intervals: ArrayLike,
        *,
        k: int,
        modified: bool = False,
    ) -> CNBDk:
        if k < 1 or int(k) != k:
            raise ClvError(f"k must be a whole number >= 1, got {k}")
        name = f"{'MBG' if modified else 'BG'}/CNBD-{k}"
        x, t_x, age = check_fit_rfm(frequency, recency, T, name)
        litt = _check_log_intervals(log_intervals, x)
        n = x.size

        def objective(log_params: FloatArray) -> float:
            with np.errstate(invalid="ignore", over="ignore"):
                value = -np.sum(_log_likelihood(np.exp(log_params), k, modified, x, t_x, age, litt)) / n
            return float(value) if np.isfinite(value) else 1e300

        rate = k * max(float(x.sum()), 1.0) / float(age.sum())
        start = np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))
        params = fit_log_parameters(objective, start, names=NAMES, model=name, analytic_gradient=False)
        r, alpha, a, b = (float(v) for v in params)
        return cls(r, alpha, a, b, k=int(k), modified=modified)

    @classmethod
    def select(
        cls,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        log_intervals: ArrayLike,
        *,
        max_k: int = 4,
    ) -> tuple[CNBDk, list[tuple[str, float]]]:
        """Fit k = 1..max_k, with and without the modification, and keep the highest calibration
        log-likelihood (every variant has the same four free parameters, so this is also the lowest BIC).
        Returns the kept model and (variant, log-likelihood) for each candidate."""
        fits = [
            cls.fit(frequency, recency, T, log_intervals, k=k, modified=modified)
            for modified in (False, True)
            for k in range(1, max_k + 1)
        ]
        scored = [(m, float(m.log_likelihood(frequency, recency, T, log_intervals).sum())) for m in fits]
        best = max(scored, key=lambda pair: pair[1])[0]
        return best, [(m.name, ll) for m, ll in scored]

    @property
    def name(self) -> str:
        return f"{'MBG' if self.modified else 'BG'}/CNBD-{self.k}"

    @property
    def params(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b])

    def to_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "k": float(self.k)}

    def log_likelihood(
        self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, log_intervals: ArrayLike
    ) -> FloatArray:
        x, t_x, age = check_rfm(frequency, recency, T)
        litt = _check_log_intervals(log_intervals, x)
        return _log_likelihood(self.params, self.k, self.modified, x, t_x, age, litt)

    def _posterior(self, x: FloatArray, t_x: FloatArray, age: FloatArray) -> tuple[FloatArray, FloatArray]:
        """P(alive and j ticks into the current interval | history), k rows; and b' for p."""
        dead, alive, b_alive = _branches(self.params, self.k, self.modified, x, t_x, age)
        total = np.logaddexp(dead, logsumexp(alive, axis=0))
        return np.exp(alive - total), b_alive

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        weights, _ = self._posterior(*check_rfm(frequency, recency, T))
        return np.asarray(weights.sum(axis=0), dtype=np.float64)

    def conditional_expected_purchases(
        self, t: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in (T, T + t] of customers with history (x, t_x, T); exact, no Poisson
        approximation of the Erlang clock."""
        x, t_x, age = check_rfm(frequency, recency, T)
        out = np.empty_like(x)
        for start in range(0, x.size, FORECAST_BLOCK):
            block = slice(start, start + FORECAST_BLOCK)
            out[block] = self._expected_block(float(t), x[block], t_x[block], age[block])
        return out

    def _expected_block(self, t: float, x: FloatArray, t_x: FloatArray, age: FloatArray) -> FloatArray:
        k, r, alpha, a = self.k, self.r, self.alpha, self.a
        weights, b_alive = self._posterior(x, t_x, age)
        q = t / (alpha + age + t)  # ticks in (T, T+t] given the history: NB(r + kx + j, 1 - q)
        shape_max = float(np.max(r + k * x + k))
        most_ticks = float(nbinom.isf(1e-12, shape_max, 1 - float(q.max()))) if t > 0 else 0.0
        m = np.arange(1, int(most_ticks // k) + 3, dtype=np.float64)[:, None]  # the m-th purchase ahead
        survive = np.exp(betaln(a, b_alive + m - 1) - betaln(a, b_alive))
        total = np.zeros_like(x)
        for j in range(k):
            needed = k - j + (m - 1) * k
            reached = nbinom.sf(needed - 1, r + k * x + j, 1 - q)
            total += weights[j] * np.sum(survive * reached, axis=0)
        return total


def interval_logs(extract: TimelineExtract, as_of: dt.datetime, period_days: float = 7) -> pl.DataFrame:
    """customer_id, log_intervals: the sum of the logs of the times between purchase days before ``as_of``
    (in periods), for the customers and purchase days `clv.rfm_summary` counts; 0 without a repeat day."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ClvError(f"as_of must carry a time zone (got {as_of.isoformat()})")
    events = pl.from_arrow(extract.events.select(["customer_id", "kind", "occurred_at"]))
    assert isinstance(events, pl.DataFrame)
    gap = pl.col("day").diff().dt.total_days() / period_days
    return (
        events.lazy()
        .filter(pl.col("kind").is_in(list(PURCHASE_KINDS)) & (pl.col("occurred_at") < as_of))
        .filter(pl.col("customer_id").is_not_null())
        .select("customer_id", pl.col("occurred_at").dt.date().alias("day"))
        .unique()
        .sort("customer_id", "day")
        .group_by("customer_id", maintain_order=True)
        .agg(gap.log().drop_nulls().sum().alias("log_intervals"))
        .collect()
    )


def _check_log_intervals(values: ArrayLike, x: FloatArray) -> FloatArray:
    litt = as_float_array(values, "log_intervals")
    if litt.size != x.size:
        raise ClvError(f"log_intervals has {litt.size} values for {x.size} customers")
    stray = (x == 0) & (litt != 0)
    if stray.any():
        row = int(np.flatnonzero(stray)[0])
        raise ClvError(f"a customer with no repeat purchase has no intervals; row {row} has {litt[row]}")
    return litt


def simulate(
    model: CNBDk, T: ArrayLike, rng: np.random.Generator, horizon: float = 0.0
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Draw customers observed for ``T`` periods each; returns (x, t_x, T, log_intervals, purchases in
    (T, T + horizon]). Used by the tests to check the forecast; a loop over purchases, fine for test sizes."""
    age = np.asarray(T, dtype=np.float64)
    n = age.size
    rate = rng.gamma(model.r, 1.0 / model.alpha, n)
    drop = rng.beta(model.a, model.b, n)
    active = rng.random(n) >= drop if model.modified else np.ones(n, dtype=bool)
    now = np.zeros(n)
    x, t_x, litt, later = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    while active.any():
        gap = rng.gamma(model.k, 1.0 / rate)
        nxt = now + gap
        buys = active & (nxt <= age + horizon)
        seen = buys & (nxt <= age)
        x[seen] += 1
        litt[seen] += np.log(gap[seen])
        t_x[seen] = nxt[seen]
        later[buys & ~seen] += 1
        now = np.where(buys, nxt, now)
        active = buys & (rng.random(n) >= drop)
    return x, t_x, age, litt, later
