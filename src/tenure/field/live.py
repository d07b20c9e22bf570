"""The live day: what the technician reports (on my way, arrived, running long, completed, not fixed),
and the re-prediction of the rest of the route that follows every report and every sweep.

When a stop's promised (or last announced) window is now likely to be missed, the customer is told
before the window starts, with a new window someone can keep and the reason; when nobody can reach them
before the technician's shift ends, they are told the dispatcher will call, and the stop shows as at
risk. Each transition is one row in TRANSITIONS; asking for one the appointment has already made is
answered with what happened, not an error (a double tap on "completed" changes nothing).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenure.core.services import audit
from tenure.core.sweeper import claim_due
from tenure.field import events, notify
from tenure.field.learning import Models
from tenure.field.models import AHEAD_STATUSES, Appointment, DayPlan, Status
from tenure.field.routes import RouteDay, load_day, point_of, predict, ts
from tenure.field.windows import WINDOW_SECONDS, earliest_window

# Tell the customer once a miss is this likely: below even odds, so that misses are announced early
# at the price of some notices for windows that would have held.
NOTICE_THRESHOLD = 0.35
# In the last look before a window opens, a much lower risk of missing it is told: one message too many
# costs far less than a customer left waiting without a word. The bar is learned (learning.last_look_bar).
CHECK_INTERVAL = dt.timedelta(minutes=10)
LAST_LOOK = dt.timedelta(minutes=5)
FIRST_LOOK = dt.timedelta(hours=1)  # re-prediction of a planned day starts this long before its first window
REASON_SWEEP = "the jobs before yours are taking longer than planned"
REASON_TRAFFIC = "the drive to you is taking longer than planned"
REASON_LONG = "the job before yours is taking longer than expected"
CANNOT_KEEP = "no window today: "  # notice_reason prefix once the customer was told the dispatcher will call
SHIFT_GRACE = dt.timedelta(minutes=30)

TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "on_my_way": ((Status.BOOKED, Status.SCHEDULED), Status.EN_ROUTE),
    "arrived": ((Status.BOOKED, Status.SCHEDULED, Status.EN_ROUTE), Status.ON_SITE),
    "running_long": ((Status.ON_SITE,), Status.ON_SITE),
    "complete": ((Status.ON_SITE,), Status.COMPLETED),
    "not_fixed": ((Status.ON_SITE,), Status.NOT_FIXED),
}
VERBS = {
    "on_my_way": "set off",
    "arrived": "arrive",
    "complete": "be completed",
    "not_fixed": "be marked not fixed",
}


@dataclass
class Outcome:
    appointment: Appointment
    changed: bool
    message: str
    notified: list[int] = field(default_factory=list)  # appointments whose customers got a delay notice
    warnings: list[str] = field(default_factory=list)


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("customer", "job_type", "technician", "plan")
        .get(pk=appointment.pk)
    )


def _check(appointment: Appointment, action: str) -> bool:
    """True to go ahead; False when the appointment is already where this action leads."""
    allowed, target = TRANSITIONS[action]
    if appointment.status in allowed:
        return True
    if appointment.status == target:
        return False
    raise ValidationError(
        {
            "status": f"a job that is {appointment.get_status_display().lower()} cannot {VERBS.get(action, action)}"
        }
    )


def _already(appointment: Appointment, what: str, when: dt.datetime | None) -> Outcome:
    at = f" at {when.isoformat(timespec='minutes')}" if when else ""
    return Outcome(appointment, False, f"already {what}{at}; nothing changed")


def on_my_way(
    appointment: Appointment, *, now: dt.datetime | None = None, models: Models | None = None
) -> Outcome:
    now = now or timezone.now()
    models = models or Models.load()
    with transaction.atomic():
        appointment = _lock(appointment)
        if not _check(appointment, "on_my_way"):
            return _already(appointment, "on the way", appointment.en_route_at)
        origin = _origin(appointment)
        appointment.status = Status.EN_ROUTE
        appointment.en_route_at = now
        appointment.travel_estimate_seconds = round(models.travel.seconds(origin, point_of(appointment), now))
        appointment.save(update_fields=["status", "en_route_at", "travel_estimate_seconds", "updated_at"])
        outcome = _after(appointment, now, REASON_TRAFFIC, models)
        appointment.refresh_from_db()
        eta = appointment.predicted_arrival or now + dt.timedelta(seconds=appointment.travel_estimate_seconds)
        appointment.eta = eta
        appointment.save(update_fields=["eta", "updated_at"])
        events.record(appointment, "job.en_route", now, eta=eta.isoformat())
        notify.on_the_way(appointment, eta)
    return Outcome(
        appointment,
        True,
        f"on the way; the customer was told about {eta.isoformat(timespec='minutes')}",
        outcome.notified,
    )


def _origin(appointment: Appointment) -> tuple[float, float]:
    """Where the technician sets off from: the last job they finished today, else home base."""
    previous = (
        Appointment.objects.filter(
            plan=appointment.plan, status__in=(Status.COMPLETED, Status.NOT_FIXED), completed_at__isnull=False
        )
        .order_by("-completed_at")
        .first()
        if appointment.plan_id
        else None
    )
    if previous is not None:
        return point_of(previous)
    technician = appointment.technician
    if technician is None:
        raise ValidationError({"technician": "this appointment has no technician yet"})
    return (technician.home_lat, technician.home_lon)


def arrived(
    appointment: Appointment, *, now: dt.datetime | None = None, models: Models | None = None
) -> Outcome:
    now = now or timezone.now()
    with transaction.atomic():
        appointment = _lock(appointment)
        if not _check(appointment, "arrived"):
            return _already(appointment, "on site", appointment.arrived_at)
        appointment.status = Status.ON_SITE
        appointment.arrived_at = now
        appointment.save(update_fields=["status", "arrived_at", "updated_at"])
        events.record(appointment, "job.arrived", now)
        if appointment.window_end and now > appointment.window_end:
            minutes = round((now - appointment.window_end).total_seconds() / 60)
            if appointment.notice_sent_at is not None and appointment.notice_sent_at < (
                appointment.window_start or now
            ):
                events.record(appointment, "appointment.window_missed", now, minutes=minutes, announced=True)
            else:
                events.record(appointment, "job.late", now, minutes_late=minutes)
        outcome = _after(appointment, now, REASON_SWEEP, models)
    return Outcome(appointment, True, "arrived", outcome.notified, outcome.warnings)


def running_long(
    appointment: Appointment,
    *,
    expected_finish: dt.datetime | None = None,
    extra_minutes: int | None = None,
    now: dt.datetime | None = None,
    models: Models | None = None,
) -> Outcome:
    """The technician expects to finish later than planned: at `expected_finish` or `extra_minutes` from now."""
    now = now or timezone.now()
    if (expected_finish is None) == (extra_minutes is None):
        raise ValidationError({"expected_finish": "say when you expect to finish, or how many more minutes"})
    if extra_minutes is not None:
        if not 1 <= extra_minutes <= 12 * 60:
            raise ValidationError({"extra_minutes": "give between 1 and 720 more minutes"})
        expected_finish = now + dt.timedelta(minutes=extra_minutes)
    assert expected_finish is not None
    if expected_finish <= now:
        raise ValidationError({"expected_finish": "the expected finish must be later than now"})
    with transaction.atomic():
        appointment = _lock(appointment)
        _check(appointment, "running_long")
        appointment.expected_finish = expected_finish
        appointment.save(update_fields=["expected_finish", "updated_at"])
        events.record(
            appointment,
            "job.running_long",
            now,
            key=expected_finish.isoformat(),
            expected_finish=expected_finish.isoformat(),
        )
        outcome = _after(appointment, now, REASON_LONG, models)
        warnings = outcome.warnings + _shift_overrun(appointment, expected_finish, outcome.day)
    return Outcome(
        appointment,
        True,
        f"expected to finish at {expected_finish.isoformat(timespec='minutes')}",
        outcome.notified,
        warnings,
    )


def complete(
    appointment: Appointment, *, note: str = "", now: dt.datetime | None = None, models: Models | None = None
) -> Outcome:
    return _finish(
        appointment, "complete", Status.COMPLETED, "job.completed", note=note, now=now, models=models
    )


def mark_not_fixed(
    appointment: Appointment, *, reason: str, now: dt.datetime | None = None, models: Models | None = None
) -> Outcome:
    """Record the job as not fixed and book the return visit (revisit.py) in the same transaction."""
    from tenure.field import revisit  # revisit imports this module

    if not reason.strip():
        raise ValidationError({"reason": "say why the job is not fixed (e.g. 'part on order')"})
    with transaction.atomic():
        outcome = _finish(
            appointment, "not_fixed", Status.NOT_FIXED, "job.not_fixed", note=reason, now=now, models=models
        )
        if outcome.changed:
            booked = revisit.reopen(outcome.appointment, reason=reason, now=now, models=models)
            outcome.message = f"{outcome.message}; {booked.message}"
    return outcome


def _finish(
    appointment: Appointment,
    action: str,
    status: str,
    kind: str,
    *,
    note: str,
    now: dt.datetime | None,
    models: Models | None,
) -> Outcome:
    now = now or timezone.now()
    with transaction.atomic():
        appointment = _lock(appointment)
        if not _check(appointment, action):
            return _already(
                appointment, f"marked {appointment.get_status_display().lower()}", appointment.completed_at
            )
        appointment.status = status
        appointment.completed_at = now
        appointment.outcome_note = note
        appointment.save(update_fields=["status", "completed_at", "outcome_note", "updated_at"])
        minutes = round((now - (appointment.arrived_at or now)).total_seconds() / 60)
        extra = {"duration_minutes": minutes} if kind == "job.completed" else {"reason": note}
        events.record(appointment, kind, now, **extra)
        outcome = _after(appointment, now, REASON_SWEEP, models)
        warnings = outcome.warnings + _shift_overrun(appointment, now, outcome.day)
    return Outcome(appointment, True, appointment.get_status_display().lower(), outcome.notified, warnings)


def _shift_overrun(appointment: Appointment, finish: dt.datetime, day: RouteDay | None) -> list[str]:
    if day is None or finish <= day.shift.end:
        return []
    message = (
        f"{appointment.technician}'s shift ends at {day.shift.end.isoformat(timespec='minutes')}, "
        f"before job {appointment.reference} finishes ({finish.isoformat(timespec='minutes')})"
    )
    audit(
        actor=None,
        action="field.shift_overrun",
        object_type="appointment",
        object_id=appointment.pk,
        details={"message": message},
    )
    return [message]


def _after(appointment: Appointment, now: dt.datetime, reason: str, models: Models | None) -> Repredicted:
    if appointment.plan is None:
        return Repredicted()
    return repredict(appointment.plan, now, reason, models)


def cancel(
    appointment: Appointment,
    *,
    reason: str,
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    now = now or timezone.now()
    with transaction.atomic():
        appointment = _lock(appointment)
        if appointment.status == Status.CANCELLED:
            return _already(appointment, "cancelled", appointment.cancelled_at)
        if appointment.status not in (Status.REQUESTED, Status.BOOKED, Status.SCHEDULED):
            raise ValidationError(
                {"status": f"a job that is {appointment.get_status_display().lower()} cannot be cancelled"}
            )
        plan = appointment.plan
        appointment.status = Status.CANCELLED
        appointment.cancelled_at = now
        appointment.outcome_note = reason
        appointment.plan = None
        appointment.position = None
        appointment.save(
            update_fields=["status", "cancelled_at", "outcome_note", "plan", "position", "updated_at"]
        )
        events.record(appointment, "appointment.cancelled", now, actor=actor, reason=reason)
        if plan is not None:
            plan.version += 1
            plan.save(update_fields=["version", "updated_at"])
    return Outcome(appointment, True, "cancelled")


# --- re-prediction -------------------------------------------------------------------------------


@dataclass
class Repredicted:
    notified: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    day: RouteDay | None = None


def repredict(
    plan: DayPlan, now: dt.datetime, reason: str = REASON_SWEEP, models: Models | None = None
) -> Repredicted:
    """Re-predict the stops still ahead on this plan; tell customers whose window is now likely missed."""
    models = models or Models.load()
    day = load_day(plan)
    if day is None:
        return Repredicted(warnings=[f"{plan} has no shift"])
    prediction = predict(day, now, models)
    notified: list[int] = []
    warnings: list[str] = []
    changed: list[Appointment] = []
    for stop, leg in zip(prediction.start.ahead, prediction.legs, strict=True):
        if stop.window_end is None:
            continue
        end = stop.notice_window_end or stop.window_end
        stop.predicted_arrival = dt.datetime.fromtimestamp(float(np.median(leg.arrive)), tz=dt.UTC)
        stop.miss_probability = float(np.mean(leg.raw > ts(end)))
        stop.predicted_at = now
        changed.append(stop)
        threshold = notice_threshold(stop, now, models.level, models.last_look_bar)
        if in_last_look(stop, now) and stop.notice_sent_at is None:
            stop.last_look_risk = stop.miss_probability  # what the bar is learned from
        if stop.miss_probability > threshold and now < end and stop.status in AHEAD_STATUSES:
            # The new window must clear the bar the old one failed, or it would be the same window.
            level = max(models.level, 1.0 - threshold)
            queued, stop_warnings = _notify_delay(stop, leg.raw, day, now, reason, level)
            if queued:
                notified.append(stop.pk)
            warnings.extend(stop_warnings)
    Appointment.objects.bulk_update(
        changed,
        [
            "predicted_arrival",
            "miss_probability",
            "predicted_at",
            "notice_window_start",
            "notice_window_end",
            "notice_reason",
            "notice_sent_at",
            "last_look_risk",
        ],
    )
    has_ahead = bool(prediction.start.ahead) or any(s.status == Status.ON_SITE for s in day.stops)
    DayPlan.objects.filter(pk=plan.pk).update(
        check_due_at=next_check(now, prediction.start.ahead) if has_ahead else None
    )
    return Repredicted(notified, warnings, day)


def watch(plan_id: int, window_start: dt.datetime) -> None:
    """Have the sweeper re-predict this plan from FIRST_LOOK before this window opens. Without it the
    first re-prediction of a day waits for the technician's first report, which for the first stop comes
    after its last look (a first window opening at the shift start was never checked before it opened)."""
    look = window_start - FIRST_LOOK
    DayPlan.objects.filter(Q(check_due_at__isnull=True) | Q(check_due_at__gt=look), pk=plan_id).update(
        check_due_at=look
    )


def notice_threshold(stop: Appointment, now: dt.datetime, level: float, last_look_bar: float) -> float:
    """How likely a miss must be before the customer is told. In the last look before the window in
    force opens (after it, a notice is no longer early) the bar drops to the learned `last_look_bar`, or
    lower if the calibrated level promises more than that; the new window then meets the same bar."""
    if in_last_look(stop, now):
        return min(last_look_bar, 1.0 - level)
    return NOTICE_THRESHOLD


def in_last_look(stop: Appointment, now: dt.datetime) -> bool:
    """Within LAST_LOOK before the window in force opens: the last moment a notice is still early."""
    start = stop.notice_window_start or stop.window_start
    return start is not None and start - LAST_LOOK <= now < start


def next_check(now: dt.datetime, ahead: list[Appointment]) -> dt.datetime:
    """Every CHECK_INTERVAL, and also LAST_LOOK before each window still to open: the last moment a
    notice still reaches the customer before their window starts, whatever the sweep's rhythm."""
    looks = [
        start - LAST_LOOK
        for stop in ahead
        for start in (stop.window_start, stop.notice_window_start)
        if start is not None and start - LAST_LOOK > now
    ]
    return min([now + CHECK_INTERVAL, *looks])


def _notify_delay(
    stop: Appointment, raw: np.ndarray, day: RouteDay, now: dt.datetime, reason: str, level: float
) -> tuple[bool, list[str]]:
    """Queue a notice for this stop: whether one was queued, and warnings for the dispatcher."""
    if stop.notice_reason.startswith(CANNOT_KEEP):
        return False, []  # already told the dispatcher will call; nothing newer to say until it is re-planned
    start, _ = earliest_window(raw, level, ts(stop.window_start or now))
    new_start = dt.datetime.fromtimestamp(start, tz=dt.UTC)
    new_end = new_start + dt.timedelta(seconds=WINDOW_SECONDS)
    key = now.strftime("%Y%m%dT%H%M")
    stop.notice_sent_at = stop.notice_sent_at or now  # the first notice: was the customer told in time?
    if new_end > day.shift.end + SHIFT_GRACE:
        stop.notice_reason = f"{CANNOT_KEEP}{reason}"
        notify.cannot_keep(stop, f"{reason} and the technician's day ends first", key)
        events.record(stop, "appointment.at_risk", now, key=key, reason="beyond the end of the shift")
        return True, [
            f"job {stop.reference} cannot be reached before {day.technician}'s shift ends: re-plan it"
        ]
    stop.notice_reason = reason
    stop.notice_window_start, stop.notice_window_end = new_start, new_end
    notify.delay_notice(stop, new_start, new_end, reason, key)
    events.record(
        stop,
        "appointment.delay_notice",
        now,
        key=key,
        new_window_start=new_start.isoformat(),
        new_window_end=new_end.isoformat(),
        reason=reason,
    )
    return True, []


def sweep_due(now: dt.datetime) -> int:
    """The sweeper's handler: re-predict every day plan whose check is due."""
    handled = 0
    models: Models | None = None
    with transaction.atomic():
        plans = claim_due(DayPlan.objects.select_related("technician"), "check_due_at", now, limit=200)
        if plans:
            models = Models.load()
        for plan in plans:
            repredict(plan, now, REASON_SWEEP, models)
            handled += 1
    return handled
