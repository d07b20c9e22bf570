"""The pure parts: travel model, duration profiles, arrival propagation and window calibration."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from tenure.field.arrivals import Break, Draws, StopSpec, TravelNoise, conditional_lognormal, propagate
from tenure.field.durations import MAX_RATIO, Lognormal, fit_durations, fit_lognormal, personal_profile
from tenure.field.travel import GreatCircleTravel, TravelModel, great_circle_km
from tenure.field.windows import PROMISE_LEVELS, conformal_level, earliest_window, pit, quantile_offsets

UTC = dt.UTC


def test_great_circle_matches_a_known_distance() -> None:
    # London (51.5074, -0.1278) to Paris (48.8566, 2.3522) is about 343.5 km along the great circle.
    assert great_circle_km((51.5074, -0.1278), (48.8566, 2.3522)) == pytest.approx(343.5, abs=1.0)


def test_travel_is_slower_in_the_rush_hour_and_the_matrix_agrees() -> None:
    model = GreatCircleTravel(time_zone="UTC")
    assert isinstance(model, TravelModel)
    a, b = (51.50, -0.12), (51.55, -0.05)
    rush = model.seconds(a, b, dt.datetime(2030, 3, 4, 8, tzinfo=UTC))
    midday = model.seconds(a, b, dt.datetime(2030, 3, 4, 11, tzinfo=UTC))
    assert rush > midday > model.stop_overhead_seconds
    matrix = model.seconds_matrix([a, b], dt.datetime(2030, 3, 4, 11, tzinfo=UTC))
    assert matrix[0, 1] == pytest.approx(midday)
    assert matrix[0, 0] == 0.0
    assert model.seconds(a, a, dt.datetime(2030, 3, 4, 11, tzinfo=UTC)) == 0.0


def test_lognormal_fit_recovers_its_parameters() -> None:
    rng = np.random.default_rng(3)
    fitted = fit_lognormal(np.exp(rng.normal(math.log(70), 0.4, 4000)))
    assert fitted is not None
    assert fitted.median_minutes == pytest.approx(70, rel=0.03)
    assert fitted.sigma == pytest.approx(0.4, rel=0.05)
    assert fit_lognormal([30, 40]) is None  # too few to say anything


def test_personal_profile_is_shrunk_and_bounded() -> None:
    company = Lognormal(math.log(60), 0.3, 500)
    few_fast = personal_profile(company, [20.0, 22.0])
    assert few_fast is not None
    assert 20 < few_fast.median_minutes < 60  # pulled toward the company with little evidence
    many_slow = personal_profile(company, [400.0] * 200)
    assert many_slow is not None
    assert many_slow.median_minutes == pytest.approx(60 * MAX_RATIO)  # bounded however strong the evidence


def test_duration_model_falls_back_from_personal_to_company_to_default() -> None:
    rng = np.random.default_rng(1)
    samples = [(1, 10, float(m)) for m in np.exp(rng.normal(math.log(90), 0.2, 50))]
    samples += [(1, 11, float(m)) for m in np.exp(rng.normal(math.log(45), 0.2, 50))]
    model = fit_durations(samples, defaults={1: 60.0, 2: 30.0})
    assert model.for_job(1, 10).median_minutes > model.for_job(1, 11).median_minutes
    assert model.for_job(1, 99).median_minutes == pytest.approx(model.company[1].median_minutes)
    assert model.for_job(2, 10).median_minutes == pytest.approx(30.0)


def test_conditional_lognormal_never_falls_below_the_time_already_spent() -> None:
    z = np.random.default_rng(0).standard_normal(2000)
    draws = conditional_lognormal(math.log(60), 0.3, 90.0, z)
    assert draws.min() >= 90.0
    assert np.median(draws) < 130  # the tail of a 60-minute job, not a new job started at 90


def test_propagation_leaves_in_time_for_windows_takes_breaks_and_broadcasts() -> None:
    travel = GreatCircleTravel(time_zone="UTC")
    start = dt.datetime(2030, 3, 4, 8, tzinfo=UTC).timestamp()
    job = Lognormal(math.log(60), 0.2)
    stops = [
        StopSpec(1, (51.51, -0.12), job, earliest=start + 3 * 3600),
        StopSpec(2, (51.52, -0.12), job),
    ]
    draws = Draws(seed=1, n=500)
    legs, _, _ = propagate(
        np.full(500, start),
        (51.50, -0.12),
        stops,
        travel=travel,
        noise=TravelNoise(),
        draws=draws,
        breaks=[Break(start + 4 * 3600, 1800)],
    )
    window = start + 3 * 3600
    assert np.median(legs[0].raw) == pytest.approx(window, abs=300)  # free at 08:00, leaves in time
    assert np.all(legs[0].arrive >= window)
    assert 0.3 < np.mean(legs[0].arrive == window) < 0.7  # a quicker drive waits at the door
    # the break from noon is taken when the first job ends after noon, before driving on
    after_noon = legs[0].finish >= start + 4 * 3600
    assert after_noon.any() and (~after_noon).any()
    assert np.all(legs[1].raw[after_noon] >= legs[0].finish[after_noon] + 1800)
    assert np.all(legs[1].raw[~after_noon] < legs[0].finish[~after_noon] + 1800)
    batch = np.broadcast_to(np.full(500, start), (3, 500))
    legs3, _, _ = propagate(batch, (51.50, -0.12), stops, travel=travel, noise=TravelNoise(), draws=draws)
    assert legs3[1].raw.shape == (3, 500)


def test_earliest_window_reaches_the_level_on_the_grid() -> None:
    raw = np.random.default_rng(2).normal(36000, 1200, 4000)
    start, covered = earliest_window(raw, 0.9, not_before=0)
    assert start % 900 == 0
    assert covered >= 0.9
    assert np.mean(raw <= start - 900 + 3600) < 0.9  # one step earlier would not hold
    late, _ = earliest_window(raw, 0.9, not_before=50000)
    assert late >= 50000


def test_pit_reads_the_predicted_cdf_off_stored_quantiles() -> None:
    raw = np.random.default_rng(5).normal(0, 600, 20000)
    offsets = quantile_offsets(raw, window_start=0.0)
    assert len(offsets) == len(PROMISE_LEVELS)
    assert pit(offsets, 0.0) == pytest.approx(0.5, abs=0.02)
    assert pit(offsets, 1000.0) == 1.0
    assert pit(offsets, -1000.0) == 0.0


def test_conformal_level_rises_when_past_windows_were_too_tight() -> None:
    rng = np.random.default_rng(7)
    calibrated = rng.uniform(0, 1, 2000)
    assert conformal_level(calibrated, 0.9) == pytest.approx(0.9, abs=0.02)
    overconfident = np.clip(rng.uniform(0, 1, 2000) * 1.15, 0, 1)  # reality later than predicted
    assert conformal_level(overconfident, 0.9) > 0.95
    assert conformal_level([0.5] * 10, 0.9) == 0.9  # too little history: the stated level
