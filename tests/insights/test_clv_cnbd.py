"""(M)BG/CNBD-k: k = 1 is BG/NBD (and MBG/NBD), fits recover simulated parameters, the exact forecast
matches simulated purchases, and bad input is refused."""

from __future__ import annotations

import numpy as np
import pytest

from tenure.insights.clv import BetaGeo, ClvError, rfm_summary
from tenure.insights.clv_cdnow import CALIBRATION_END, read_cdnow_sample
from tenure.insights.clv_cnbd import CNBDk, interval_logs, simulate
from tests.shared_data import shared_data_dir


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    extract = read_cdnow_sample(shared_data_dir() / "cdnow" / "CDNOW_sample.txt")
    data = rfm_summary(extract, CALIBRATION_END).join(
        interval_logs(extract, CALIBRATION_END), on="customer_id"
    )
    return tuple(
        data[c].to_numpy().astype(np.float64) for c in ("frequency", "recency", "T", "log_intervals")
    )  # type: ignore[return-value]


def test_k1_is_bg_nbd_on_cdnow(cdnow: tuple[np.ndarray, ...]) -> None:
    x, t_x, age, litt = cdnow
    model = CNBDk.fit(x, t_x, age, litt, k=1)
    assert [round(v, 3) for v in model.params] == [0.243, 4.414, 0.793, 2.426]
    bg = BetaGeo(*model.params)
    np.testing.assert_allclose(
        model.log_likelihood(x, t_x, age, litt), bg.log_likelihood(x, t_x, age), rtol=1e-10
    )
    np.testing.assert_allclose(
        model.probability_alive(x, t_x, age), bg.probability_alive(x, t_x, age), rtol=1e-9
    )
    np.testing.assert_allclose(
        model.conditional_expected_purchases(39.0, x, t_x, age),
        bg.conditional_expected_purchases(39.0, x, t_x, age),
        rtol=1e-6,
    )


def test_cdnow_shows_no_regularity(cdnow: tuple[np.ndarray, ...]) -> None:
    chosen, candidates = CNBDk.select(*cdnow, max_k=3)
    assert len(candidates) == 6
    assert chosen.k == 1  # every k > 1 fits the calibration weeks clearly worse
    by_name = dict(candidates)
    assert by_name["BG/CNBD-2"] < by_name["BG/CNBD-1"] - 100


@pytest.mark.parametrize(("k", "modified"), [(1, False), (2, False), (3, True)])
def test_fit_recovers_parameters_and_the_forecast_matches_simulation(k: int, modified: bool) -> None:
    truth = CNBDk(0.6, 3.0, 0.8, 2.5, k=k, modified=modified)
    rng = np.random.default_rng(k)
    x, t_x, age, litt, later = simulate(truth, rng.uniform(20, 40, 20_000), rng, horizon=30.0)
    fitted = CNBDk.fit(x, t_x, age, litt, k=k, modified=modified)
    # r and alpha are pinned down well; a and b less so one by one, their mean drop-out chance well.
    np.testing.assert_allclose(fitted.params[:2], truth.params[:2], rtol=0.1)
    assert fitted.a / (fitted.a + fitted.b) == pytest.approx(truth.a / (truth.a + truth.b), rel=0.1)
    expected = truth.conditional_expected_purchases(30.0, x, t_x, age).sum()
    # 20,000 customers: the simulated total is within a few percent of its expectation.
    assert expected == pytest.approx(later.sum(), rel=0.04)
    chosen, _ = CNBDk.select(x, t_x, age, litt, max_k=3)
    assert chosen.k == k


def test_bad_input_is_refused() -> None:
    with pytest.raises(ClvError, match="k must be"):
        CNBDk.fit([1, 0], [1, 0], [2, 2], [0, 0], k=0)
    with pytest.raises(ClvError, match="no repeat purchase has no intervals"):
        CNBDk.fit([1, 0], [1, 0], [2, 2], [0, 0.5], k=2)
    with pytest.raises(ClvError, match="2 values for 3"):
        CNBDk(1, 1, 1, 1).log_likelihood([1, 0, 2], [1, 0, 2], [2, 2, 3], [0, 0])
