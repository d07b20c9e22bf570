"""Kaplan-Meier and Cox against hand-computed values and a naive reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize

from tenure.insights.survival import cox_fit, kaplan_meier


def test_kaplan_meier_matches_the_hand_computed_curve() -> None:
    # Five subjects: losses at 1, 2, 3; censored at 2 and 4.
    km = kaplan_meier([0, 0, 0, 0, 0], [1, 2, 2, 3, 4], [1, 1, 0, 1, 0])
    assert km.times.tolist() == [1, 2, 3]
    assert km.at_risk.tolist() == [5, 4, 2]
    np.testing.assert_allclose(km.survival, [0.8, 0.6, 0.3])
    # Greenwood variance with log(-log) limits (the survival package's conf.type="log-log").
    np.testing.assert_allclose(km.lower[0], 0.2038, atol=1e-4)
    np.testing.assert_allclose(km.upper[0], 0.9692, atol=1e-4)
    assert km.at(0.5) == 1.0 and km.at(2.5) == pytest.approx(0.6)
    assert km.median() == 3.0


def test_kaplan_meier_delayed_entry_keeps_late_entrants_out_of_early_risk_sets() -> None:
    # Subject 3 enters at 5: it must not be at risk at time 2.
    km = kaplan_meier([0, 0, 5], [2, 10, 12], [1, 0, 1])
    assert km.at_risk.tolist() == [2, 1]
    np.testing.assert_allclose(km.survival, [0.5, 0.0])


def _naive_breslow(
    beta: np.ndarray, start: np.ndarray, stop: np.ndarray, event: np.ndarray, x: np.ndarray
) -> float:
    total = 0.0
    for i in np.nonzero(event)[0]:
        at_risk = (start < stop[i]) & (stop >= stop[i])
        total += x[i] @ beta - np.log(np.exp(x[at_risk] @ beta).sum())
    return total


def test_cox_matches_a_naive_partial_likelihood_with_ties_and_delayed_entry() -> None:
    rng = np.random.default_rng(3)
    n = 150
    x = rng.normal(size=(n, 2))
    start = rng.choice([0.0, 1.0, 2.0], size=n)
    stop = start + np.ceil(rng.exponential(4 / np.exp(x @ np.array([0.7, -0.4])))).clip(1, 8)  # many ties
    event = rng.random(n) < 0.8
    fit = cox_fit(start, stop, event, x, ["a", "b"])
    reference = optimize.minimize(
        lambda b: -_naive_breslow(b, start, stop, event, x), np.zeros(2), method="BFGS"
    )
    np.testing.assert_allclose(fit.beta, reference.x, atol=1e-4)
    assert fit.log_likelihood == pytest.approx(-reference.fun, abs=1e-6)
    assert fit.converged


def test_cox_splitting_rows_into_intervals_changes_nothing() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    x = rng.normal(size=(n, 2))
    time = rng.exponential(1 / np.exp(x @ np.array([0.5, -0.3])))
    censor = rng.exponential(2, size=n)
    observed, event = np.minimum(time, censor), time < censor
    whole = cox_fit(np.zeros(n), observed, event, x, ["a", "b"])
    middle = observed / 2
    split = cox_fit(
        np.r_[np.zeros(n), middle],
        np.r_[middle, observed],
        np.r_[np.zeros(n, bool), event],
        np.r_[x, x],
        ["a", "b"],
    )
    np.testing.assert_allclose(whole.beta, split.beta, atol=1e-8)
    np.testing.assert_allclose(whole.standard_errors, split.standard_errors, atol=1e-8)
    _, low, high = whole.hazard_ratios()
    assert low[0] < np.exp(0.5) < high[0] and low[1] < np.exp(-0.3) < high[1]
    # Breslow: expected losses over everyone's follow-up equal the observed count.
    assert whole.expected_events(np.zeros(n), observed, x).sum() == pytest.approx(event.sum(), rel=1e-6)


def test_cox_rejects_data_it_cannot_fit() -> None:
    with pytest.raises(ValueError, match=r"row 1: exit 1\.0 is not after entry 2\.0"):
        cox_fit([0, 2], [1, 1], [1, 0], [[0.0], [1.0]], ["a"])
    with pytest.raises(ValueError, match="never varies"):
        cox_fit([0, 0], [1, 2], [1, 0], [[1.0], [1.0]], ["flat"])
    with pytest.raises(ValueError, match="no losses"):
        cox_fit([0, 0], [1, 2], [0, 0], [[0.0], [1.0]], ["a"])
