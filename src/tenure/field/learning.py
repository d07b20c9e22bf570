"""Learning from history: duration profiles, the travel model's error and the window calibration.

`learn(now)` refits everything from the appointments finished in the look-back period and stores the
result as rows (DurationProfile, WindowCalibration); the worker runs it nightly and `tenure field learn`
runs it now. Predictions read the stored rows through `load_duration_model` / `current_calibration`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from tenure.field import windows
from tenure.field.arrivals import SAMPLES, Draws, TravelNoise
from tenure.field.durations import DurationModel, Lognormal, fit_durations
from tenure.field.models import Appointment, DurationProfile, JobType, Status, WindowCalibration
from tenure.field.travel import TravelModel, default_travel_model

LOOKBACK = dt.timedelta(days=90)
# Window calibration looks at recent promises only: older ones were made by older, worse-fitted models.
CALIBRATION_LOOKBACK = dt.timedelta(days=14)
DONE = (Status.COMPLETED, Status.NOT_FIXED)
MIN_TRAVEL_SAMPLES = 20
# A drive that ended right at the window start may include waiting outside; it says nothing about driving.
# Dropping those drops the quick ones among early departures, so the bias reads high (learned 0.13-0.20
# against a true 0.10 in bench/windows.py). That works as a margin: fitting them as upper bounds instead
# (censored maximum likelihood, tried on 28 Nov 2026) learned about 0.09 but nearly doubled the missed
# windows over six simulated months (46 against 25) and left more of them unannounced (docs/benchmarks.md).
WAITING_MARGIN = dt.timedelta(minutes=1)


# In the last look before a window opens, a risk of missing it above the bar is told (live.notice_threshold).
# The bar is refitted nightly so that, on average, TENURE_FIELD_ANNOUNCE_TARGET of missed windows are
# announced before they open. The default, 98%, is set above the 95% we promise as a floor: with a handful
# of misses a month, a share that is 95% on average would fall under 95% in about half the months.
DEFAULT_ANNOUNCE_TARGET = 0.98
DEFAULT_LAST_LOOK_BAR = 0.05
MIN_LAST_LOOK_BAR = 2 / SAMPLES  # below two Monte Carlo draws a risk cannot be told from none
MIN_LAST_LOOKS = 50  # stops seen at their last look before the bar moves from the default


@dataclass(frozen=True)
class Calibration:
    noise: TravelNoise
    model_level: float
    target: float
    observed_coverage: float | None = None
    samples: int = 0
    last_look_bar: float = DEFAULT_LAST_LOOK_BAR


def _done_since(now: dt.datetime) -> list[Appointment]:
    return list(
        Appointment.objects.filter(
            status__in=DONE,
            arrived_at__isnull=False,
            completed_at__isnull=False,
            completed_at__gte=now - LOOKBACK,
        )
        .filter(completed_at__lte=now)
        .only(
            "job_type_id",
            "technician_id",
            "arrived_at",
            "completed_at",
            "en_route_at",
            "travel_estimate_seconds",
            "window_start",
            "window_end",
            "promise_quantiles",
            "last_look_risk",
        )
    )


def learn_durations(done: list[Appointment], now: dt.datetime) -> DurationModel:
    samples = [
        (a.job_type_id, a.technician_id, (a.completed_at - a.arrived_at).total_seconds() / 60.0)  # type: ignore[operator]
        for a in done
    ]
    defaults = {
        pk: float(minutes) for pk, minutes in JobType.objects.values_list("id", "default_duration_minutes")
    }
    model = fit_durations(samples, defaults)
    rows = [
        DurationProfile(
            job_type_id=jt, technician=None, mu=p.mu, sigma=p.sigma, samples=p.samples, fitted_at=now
        )
        for jt, p in model.company.items()
    ] + [
        DurationProfile(
            job_type_id=jt, technician_id=tech, mu=p.mu, sigma=p.sigma, samples=p.samples, fitted_at=now
        )
        for (jt, tech), p in model.personal.items()
    ]
    with transaction.atomic():
        DurationProfile.objects.all().delete()
        DurationProfile.objects.bulk_create(rows)
    return model


def travel_noise(done: list[Appointment]) -> TravelNoise | None:
    ratios = [
        math.log((a.arrived_at - a.en_route_at).total_seconds() / a.travel_estimate_seconds)  # type: ignore[operator]
        for a in done
        if a.en_route_at
        and a.travel_estimate_seconds
        and a.arrived_at > a.en_route_at  # type: ignore[operator]
        and not (a.window_start and a.arrived_at <= a.window_start + WAITING_MARGIN)  # type: ignore[operator]
    ]
    if len(ratios) < MIN_TRAVEL_SAMPLES:
        return None
    logs = np.asarray(ratios)
    return TravelNoise(bias=float(logs.mean()), sigma=max(0.05, float(logs.std(ddof=1))))


def announce_target() -> float:
    target = float(getattr(settings, "TENURE_FIELD_ANNOUNCE_TARGET", DEFAULT_ANNOUNCE_TARGET))
    if not 0.0 < target < 1.0:
        raise ImproperlyConfigured(f"TENURE_FIELD_ANNOUNCE_TARGET must be between 0 and 1, got {target}")
    return target


def last_look_bar(done: list[Appointment], target: float | None = None) -> float:
    """The highest bar that leaves, in expectation, at most 1 - target of the missed windows untold.

    A stop not yet told anything at its last look stays untold if its risk then is at or under the bar,
    and misses with that probability (the model's own figure), so the untold misses expected from a
    bar are the sum of the risks at or under it. All misses expected are the sum of every such risk
    plus the misses of the other stops (told earlier, or booked too late for a last look), counted.
    """
    target = announce_target() if target is None else target
    risks = np.array([a.last_look_risk for a in done if a.last_look_risk is not None])
    if risks.size < MIN_LAST_LOOKS:
        return DEFAULT_LAST_LOOK_BAR
    others_missed = len(
        [
            a
            for a in done
            if a.last_look_risk is None and a.window_end and a.arrived_at and a.arrived_at > a.window_end
        ]
    )
    allowed = (1.0 - target) * (risks.sum() + others_missed)
    values, counts = np.unique(risks, return_counts=True)
    untold = np.cumsum(values * counts)  # untold[k]: expected misses left untold with the bar at values[k]
    fitting = values[untold <= allowed]
    if fitting.size == values.size:  # every risk seen fits under: nothing says the bar must come down
        return DEFAULT_LAST_LOOK_BAR
    bar = float(fitting[-1]) if fitting.size else 0.0
    return float(np.clip(bar, MIN_LAST_LOOK_BAR, DEFAULT_LAST_LOOK_BAR))


def fit_calibration(done: list[Appointment], now: dt.datetime, target: float) -> WindowCalibration:
    pits = []
    inside = 0
    for a in done:
        if a.window_start is None or a.window_end is None or not a.promise_quantiles:
            continue
        if a.window_start < now - CALIBRATION_LOOKBACK:
            continue
        minutes = (a.arrived_at - a.window_start).total_seconds() / 60.0  # type: ignore[operator]
        pits.append(windows.pit(a.promise_quantiles, minutes))
        inside += a.arrived_at <= a.window_end  # type: ignore[operator]
    noise = travel_noise(done) or current_calibration().noise
    return WindowCalibration.objects.create(
        travel_log_bias=noise.bias,
        travel_log_sigma=noise.sigma,
        model_level=windows.conformal_level(pits, target),
        target_coverage=target,
        observed_coverage=inside / len(pits) if pits else None,
        samples=len(pits),
        last_look_bar=last_look_bar(done),
        fitted_at=now,
    )


def learn(now: dt.datetime, target: float | None = None) -> WindowCalibration:
    done = _done_since(now)
    learn_durations(done, now)
    return fit_calibration(done, now, target if target is not None else current_calibration().target)


def load_duration_model() -> DurationModel:
    model = DurationModel(
        defaults={pk: float(m) for pk, m in JobType.objects.values_list("id", "default_duration_minutes")}
    )
    for row in DurationProfile.objects.all():
        profile = Lognormal(row.mu, row.sigma, row.samples)
        if row.technician_id is None:
            model.company[row.job_type_id] = profile
        else:
            model.personal[(row.job_type_id, row.technician_id)] = profile
    return model


DEFAULT_TARGET = 0.9


def current_calibration() -> Calibration:
    row = WindowCalibration.objects.first()
    if row is None:
        return Calibration(TravelNoise(), model_level=DEFAULT_TARGET, target=DEFAULT_TARGET)
    return Calibration(
        TravelNoise(row.travel_log_bias, row.travel_log_sigma),
        model_level=row.model_level,
        target=row.target_coverage,
        observed_coverage=row.observed_coverage,
        samples=row.samples,
        last_look_bar=row.last_look_bar,
    )


@dataclass
class Models:
    """Everything a prediction needs, loaded once per request, event or benchmark step."""

    durations: DurationModel
    calibration: Calibration
    travel: TravelModel = field(default_factory=default_travel_model)
    draws: Draws = field(default_factory=lambda: Draws(seed=0))

    @property
    def level(self) -> float:
        return self.calibration.model_level

    @property
    def noise(self) -> TravelNoise:
        return self.calibration.noise

    @property
    def last_look_bar(self) -> float:
        return self.calibration.last_look_bar

    @classmethod
    def load(cls, travel: TravelModel | None = None, seed: int = 0) -> Models:
        return cls(
            load_duration_model(),
            current_calibration(),
            travel or default_travel_model(),
            Draws(seed=seed),
        )


RELEARN_EVERY = dt.timedelta(days=1)


def relearn_if_stale(now: dt.datetime) -> int:
    """The sweeper's handler: refit once a day (a no-op until there is anything finished to learn from)."""
    latest = WindowCalibration.objects.values_list("fitted_at", flat=True).first()
    if latest is not None and now - latest < RELEARN_EVERY:
        return 0
    if latest is None and not Appointment.objects.filter(status__in=DONE).exists():
        return 0
    with transaction.atomic():
        learn(now)
    return 1
