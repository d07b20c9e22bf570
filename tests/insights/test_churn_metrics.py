"""AUC, top-decile lift and Brier score against scikit-learn and hand-worked cases; calibration maps."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from tenure.insights import calibration, metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_and_brier_match_sklearn_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 1000)
    # Rounded scores make plenty of ties, which AUC must credit by half.
    p = np.round(np.clip(0.3 * y + rng.random(1000) * 0.7, 0, 1), 2)
    assert metrics.auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert metrics.brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_top_decile_lift_by_hand() -> None:
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0] * 2)  # 20% leavers
    scores = np.linspace(1, 0, 20)  # the first two rows score highest: both leavers
    assert metrics.top_decile_lift(y, scores) == pytest.approx(1.0 / 0.2)
    assert metrics.top_decile_lift(y, -scores) == pytest.approx(0.0)


def test_lift_against_a_direct_count_on_random_data() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 995)
    s = rng.random(995)
    top = np.argsort(-s)[:100]  # ceil(995 / 10)
    assert metrics.top_decile_lift(y, s) == pytest.approx(y[top].mean() / y.mean())


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="both leavers and stayers"):
        metrics.auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="2 labels but 3 scores"):
        metrics.brier([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metrics.brier([0, 1], [0.1, 1.2])


def test_summary_is_rounded_json() -> None:
    out = metrics.summary([0, 1, 0, 1], [0.1, 0.9, 0.4, 0.3])
    assert out == {"auc": 0.75, "top_decile_lift": 2.0, "brier": 0.1675, "n": 4, "positives": 2}


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_is_json_numbers_rising_and_fixes_a_skewed_score(method: str) -> None:
    rng = np.random.default_rng(3)
    truth = rng.random(4000)
    y = (rng.random(4000) < truth).astype(int)
    skewed = truth**3  # ranks right, probabilities far too low
    fitted = calibration.fit(skewed, y, method)
    assert fitted["method"] == method
    restored = calibration.fit(skewed, y, method)
    assert json.loads(json.dumps(fitted)) == restored
    calibrated = calibration.apply(fitted, skewed)
    assert metrics.brier(y, calibrated) < metrics.brier(y, skewed) - 0.02
    order = np.argsort(skewed)
    assert (np.diff(calibrated[order]) >= -1e-12).all()


def test_choose_prefers_platt_when_leavers_are_few() -> None:
    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.1).astype(int)
    method, probabilities = calibration.choose(rng.random(300), y, np.arange(300) % 5)
    assert method == "platt"
    assert probabilities.shape == (300,)
