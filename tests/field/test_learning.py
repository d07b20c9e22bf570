"""Learning from finished jobs: duration profiles, travel error, window calibration, the coverage report."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from scipy.special import ndtri

from tenure.field import report
from tenure.field.learning import (
    DEFAULT_LAST_LOOK_BAR,
    MIN_LAST_LOOK_BAR,
    Models,
    current_calibration,
    last_look_bar,
    learn,
    relearn_if_stale,
)
from tenure.field.models import Appointment, DurationProfile, Status, WindowCalibration
from tenure.field.windows import PROMISE_LEVELS

from .world import DAY, at, build, near

pytestmark = pytest.mark.django_db


def history(world, rng: np.random.Generator, jobs: int, late_minutes: float) -> None:  # type: ignore[no-untyped-def]
    """Finished jobs: technician 0 takes about 90 minutes, technician 1 about 45; drives take 20% longer
    than estimated; arrivals land `late_minutes` later than the stored prediction said."""
    predicted = [round(10 + 12 * float(ndtri(level)), 2) for level in PROMISE_LEVELS]  # N(10 min, 12 min)
    rows = []
    for index in range(jobs):
        tech = world.technicians[index % 2]
        start = at(DAY - dt.timedelta(days=1 + index % 10), 9)
        arrived = start + dt.timedelta(minutes=max(0.0, 10 + late_minutes + rng.normal(0, 12)))
        minutes = (90 if index % 2 == 0 else 45) * math.exp(rng.normal(0, 0.2))
        rows.append(
            Appointment(
                customer=world.customer(0),
                job_type=world.boiler,
                address="x",
                lat=near(0.01, 0.01)[0],
                lon=near(0.01, 0.01)[1],
                status=Status.COMPLETED,
                technician=tech,
                window_start=start,
                window_end=start + dt.timedelta(hours=1),
                promise_quantiles=predicted,
                en_route_at=arrived - dt.timedelta(minutes=24),
                travel_estimate_seconds=20 * 60,
                arrived_at=arrived,
                completed_at=arrived + dt.timedelta(minutes=minutes),
            )
        )
    Appointment.objects.bulk_create(rows)


def test_profiles_travel_error_and_calibration_are_learned() -> None:
    world = build(days=0)
    history(world, np.random.default_rng(1), 200, late_minutes=40)
    calibration = learn(at(DAY, 0))
    assert DurationProfile.objects.filter(technician__isnull=True).count() == 1
    models = Models.load()
    slow = models.durations.for_job(world.boiler.pk, world.technicians[0].pk)
    fast = models.durations.for_job(world.boiler.pk, world.technicians[1].pk)
    assert slow.median_minutes > 75 and fast.median_minutes < 55
    assert math.exp(models.noise.bias) == pytest.approx(1.2, rel=0.05)
    # arrivals ran 40 minutes later than predicted: the model must now ask for more than 90%
    assert calibration.model_level > 0.95
    assert calibration.observed_coverage is not None and calibration.observed_coverage < 0.9
    assert current_calibration().model_level == calibration.model_level


def test_well_predicted_history_keeps_the_stated_level() -> None:
    world = build(days=0)
    history(world, np.random.default_rng(2), 300, late_minutes=0)
    calibration = learn(at(DAY, 0))
    assert calibration.model_level == pytest.approx(0.9, abs=0.04)


def test_overcautious_predictions_let_the_level_come_down() -> None:
    world = build(days=0)
    history(world, np.random.default_rng(5), 300, late_minutes=-8)  # earlier than predicted
    assert learn(at(DAY, 0)).model_level < 0.85


def test_relearning_runs_once_a_day_and_not_without_history() -> None:
    world = build(days=0)
    assert relearn_if_stale(at(DAY, 0)) == 0
    history(world, np.random.default_rng(3), 40, late_minutes=0)
    assert relearn_if_stale(at(DAY, 0)) == 1
    assert relearn_if_stale(at(DAY, 6)) == 0
    assert relearn_if_stale(at(DAY, 25)) == 1
    assert WindowCalibration.objects.count() == 2


def test_the_report_counts_promised_against_actual() -> None:
    world = build(days=0)
    history(world, np.random.default_rng(4), 60, late_minutes=45)
    result = report.coverage(at(DAY, 0) - dt.timedelta(days=30), at(DAY, 0))
    assert result.total.arrivals == 60
    inside = sum(
        a.arrived_at <= a.window_end
        for a in Appointment.objects.all()  # type: ignore[operator]
    )
    assert result.total.inside == inside
    assert set(result.technicians) == {"Tech 0", "Tech 1"}
    assert result.total.announced_share == 0.0  # nobody was told in this history
    svg = result.chart()
    assert svg.startswith("<svg") and svg.count("<rect") == len(result.weeks)


def test_the_command_line_learns_and_reports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = io.StringIO()
    call_command("field", "learn", stdout=out)
    assert '"model_level": 0.9' in out.getvalue() and '"last_look_bar": 0.05' in out.getvalue()
    chart = tmp_path / "coverage.svg"
    call_command("field", "report", "--days", "30", "--chart", str(chart), stdout=io.StringIO())
    assert chart.read_text().startswith("<svg")
    with pytest.raises(CommandError, match="--days"):
        call_command("field", "report", "--days", "0")


def _looked(risk: float | None, missed: bool) -> Appointment:
    start = at(DAY, 9)
    return Appointment(
        window_start=start,
        window_end=start + dt.timedelta(hours=1),
        arrived_at=start + dt.timedelta(minutes=75 if missed else 20),
        last_look_risk=risk,
    )


def test_the_last_look_bar_leaves_about_one_miss_in_twenty_untold() -> None:
    untold = [_looked(0.001, False)] * 90 + [_looked(0.01, False)] * 8 + [_looked(0.03, True)] * 2
    told = [_looked(None, True)] * 5
    # misses expected: 0.09 + 0.08 + 0.12 from the risks, 5 told earlier: 5.29; 5% of that is 0.26,
    # which the risks up to 0.01 fit under (0.17) and the 0.03 ones do not (0.29)
    assert last_look_bar(untold + [_looked(0.03, False)] * 2 + told, target=0.95) == pytest.approx(0.01)
    # with 3 told earlier, 5% of 3.23 is 0.16: only the 0.001 ones fit, and the bar stops at the
    # resolution of the Monte Carlo
    assert last_look_bar(untold + told[:3], target=0.95) == MIN_LAST_LOOK_BAR
    # when every risk seen fits under, the bar stays at the default
    assert last_look_bar(untold + told, target=0.5) == DEFAULT_LAST_LOOK_BAR
    # too few last looks seen: the default
    assert last_look_bar(untold[:40] + told, target=0.95) == DEFAULT_LAST_LOOK_BAR


def test_the_share_to_announce_is_a_setting(settings) -> None:  # type: ignore[no-untyped-def]
    looks = [_looked(0.001, False)] * 90 + [_looked(0.01, False)] * 10 + [_looked(None, True)] * 5
    # 0.09 + 0.10 + 5 = 5.19 expected: 5% of it (0.26) fits every risk, 2% (0.10) only the 0.001 ones
    settings.TENURE_FIELD_ANNOUNCE_TARGET = 0.95
    assert last_look_bar(looks) == DEFAULT_LAST_LOOK_BAR
    settings.TENURE_FIELD_ANNOUNCE_TARGET = 0.98
    assert last_look_bar(looks) == MIN_LAST_LOOK_BAR
    settings.TENURE_FIELD_ANNOUNCE_TARGET = 1.5
    with pytest.raises(ImproperlyConfigured, match="between 0 and 1"):
        last_look_bar(looks)


def test_learning_stores_the_last_look_bar_and_predictions_use_it() -> None:
    world = build(days=0)
    history(world, np.random.default_rng(6), 120, late_minutes=0)
    Appointment.objects.update(last_look_risk=0.2)  # far more misses expected than 5% of them allows
    assert learn(at(DAY, 0)).last_look_bar == MIN_LAST_LOOK_BAR
    assert Models.load().calibration.last_look_bar == MIN_LAST_LOOK_BAR


def test_the_admin_lists_calibrations_with_their_last_look_bar(admin_client) -> None:  # type: ignore[no-untyped-def]
    learn(at(DAY, 0))
    page = admin_client.get("/admin/field/windowcalibration/")
    assert page.status_code == 200
    assert "Last look bar" in page.content.decode()
