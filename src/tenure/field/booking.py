"""Booking that asks first: the customer says when they can be home, we offer one-hour arrival windows
someone can keep, ranked by fit to what they said and by promptness, and book one without overbooking.

Offers are computed without locks (they are suggestions). Booking re-checks the chosen window against
the technician's day while holding that day's DayPlan row locked, so two agents booking the last slot
at the same moment cannot both win: the second one re-checks after the first commits and is told the
window has gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenure.field import events, live, notify
from tenure.field.arrivals import coverage
from tenure.field.insertion import Fit, Job, fits
from tenure.field.learning import Models
from tenure.field.models import Appointment, DayPlan, JobType, Status, Technician
from tenure.field.preferences import Preferences
from tenure.field.routes import RouteDay, attach_stops, load_days, local_date, point_of, predict, ts
from tenure.field.windows import WINDOW_SECONDS, quantile_offsets

HORIZON_DAYS = 14
OFFER_GRID = dt.timedelta(minutes=30)
LEAD_TIME = dt.timedelta(minutes=45)  # the soonest a window may start after booking
OFFERS = 5


@dataclass(frozen=True)
class Offer:
    window_start: dt.datetime
    window_end: dt.datetime
    technician_id: int
    fit: float
    coverage: float  # modelled chance of arriving within the window

    def as_dict(self) -> dict[str, object]:
        return {
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "technician_id": self.technician_id,
            "fit": round(self.fit, 2),
            "coverage": round(self.coverage, 3),
        }


def capable_technicians(job_type: JobType) -> list[Technician]:
    needed = {skill.code for skill in job_type.skills.all()}
    technicians = Technician.objects.filter(active=True).prefetch_related("skills")
    capable = [t for t in technicians if needed <= {s.code for s in t.skills.all()}]
    if not capable:
        names = ", ".join(sorted(needed)) or "none"
        raise ValidationError(
            {
                "job_type": f"no active technician has every skill {job_type.name} needs ({names}); add the skill to a technician first"
            }
        )
    return capable


def require_coordinates(appointment: Appointment) -> None:
    if appointment.lat is None or appointment.lon is None:
        raise ValidationError(
            {
                "address": "this address has no coordinates (latitude and longitude); add them before offering windows"
            }
        )


def _job(appointment: Appointment, technician_id: int, models: Models) -> Job:
    return Job(point_of(appointment), models.durations.for_job(appointment.job_type_id, technician_id))


def _candidate_starts(
    day: RouteDay, not_before: dt.datetime, preferences: Preferences
) -> tuple[np.ndarray, np.ndarray]:
    zone = ZoneInfo(day.technician.time_zone)
    first = max(day.shift.start, not_before)
    midnight = dt.datetime.combine(local_date(day.technician, first), dt.time.min, tzinfo=zone)
    grid = int(OFFER_GRID.total_seconds())
    offset = int((first - midnight).total_seconds())
    start = midnight + dt.timedelta(seconds=-(-offset // grid) * grid)
    starts, scores = [], []
    while start + dt.timedelta(seconds=WINDOW_SECONDS) <= day.shift.end:
        score = preferences.fit(
            start.astimezone(zone), (start + dt.timedelta(seconds=WINDOW_SECONDS)).astimezone(zone)
        )
        if score > 0:
            starts.append(ts(start))
            scores.append(score)
        start += OFFER_GRID
    return np.asarray(starts, dtype=float), np.asarray(scores, dtype=float)


def _search(
    appointment: Appointment,
    days: Iterable[RouteDay],
    preferences: Preferences,
    now: dt.datetime,
    models: Models,
    limit: int,
) -> list[Offer]:
    by_start: dict[float, Offer] = {}
    best_cost: dict[float, float] = {}
    current_date: dt.date | None = None
    for day in sorted(days, key=lambda d: (d.date, d.shift.start)):
        if current_date != day.date:
            # Whole days are compared before stopping, so a later technician the same day can still win.
            if sum(1 for o in by_start.values() if o.fit >= 1.0) >= limit:
                break
            current_date = day.date
        if not preferences.allows_day(day.date):
            continue
        starts, scores = _candidate_starts(day, now + LEAD_TIME, preferences)
        if starts.size == 0:
            continue
        job = _job(appointment, day.technician.pk, models)
        for fit, score in zip(fits(day, job, starts, now, models), scores, strict=True):
            if fit is None or fit.added_seconds >= best_cost.get(fit.window_start, np.inf):
                continue
            best_cost[fit.window_start] = fit.added_seconds
            start = dt.datetime.fromtimestamp(fit.window_start, tz=dt.UTC)
            by_start[fit.window_start] = Offer(
                start,
                start + dt.timedelta(seconds=WINDOW_SECONDS),
                day.technician.pk,
                float(score),
                fit.coverage,
            )
    ranked = sorted(by_start.values(), key=lambda o: (-round(o.fit, 2), o.window_start))
    return ranked[:limit]


def offer_windows(
    appointment: Appointment,
    now: dt.datetime | None = None,
    *,
    models: Models | None = None,
    limit: int = OFFERS,
    horizon_days: int = HORIZON_DAYS,
) -> list[Offer]:
    """Windows someone can keep, best first. Raises ValidationError naming what to fix when there are none."""
    now = now or timezone.now()
    require_coordinates(appointment)
    technicians = capable_technicians(appointment.job_type)
    models = models or Models.load()
    preferences = Preferences.parse(appointment.preferences)
    days = load_days(technicians, now - dt.timedelta(days=1), now + dt.timedelta(days=horizon_days))
    offers = _search(appointment, days, preferences, now, models, limit)
    if offers:
        return offers
    if not preferences.asap:
        anytime = _search(appointment, days, Preferences(asap=True), now, models, 1)
        hint = (
            f"; the earliest window anyone can keep is {anytime[0].window_start.isoformat()}"
            if anytime
            else f"; no technician has room in the next {horizon_days} days"
        )
        raise ValidationError(
            {
                "preferences": f"no technician can arrive {preferences.describe()} within the next {horizon_days} days{hint}"
            }
        )
    raise ValidationError(
        {"preferences": f"no technician has room for this job in the next {horizon_days} days"}
    )


def request_appointment(
    *,
    customer_id: int,
    job_type: JobType,
    address: str,
    lat: float | None,
    lon: float | None,
    preferences: dict[str, object] | None = None,
    notes: str = "",
    actor: User | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """Record what the customer asked for; coordinates may follow later, but offers need them."""
    now = now or timezone.now()
    if not address.strip():
        raise ValidationError({"address": "give the address of the visit"})
    if (lat is None) != (lon is None):
        raise ValidationError(
            {"lat" if lat is None else "lon": "give both latitude and longitude, or neither"}
        )
    if lat is not None and not -90 <= lat <= 90:
        raise ValidationError({"lat": "latitude is between -90 and 90"})
    if lon is not None and not -180 <= lon <= 180:
        raise ValidationError({"lon": "longitude is between -180 and 180"})
    parsed = Preferences.parse(preferences, today=now.date() - dt.timedelta(days=1))
    with transaction.atomic():
        appointment = Appointment.objects.create(
            customer_id=customer_id,
            job_type=job_type,
            address=address.strip(),
            lat=lat,
            lon=lon,
            preferences=parsed.to_json(),
            notes=notes,
            booked_by=actor if actor is not None and actor.is_authenticated else None,
        )
        events.record(appointment, "appointment.requested", now, preferences=parsed.to_json())
    return appointment


def _insert(appointment: Appointment, day: RouteDay, fit: Fit, models: Models, now: dt.datetime) -> None:
    plan = day.plan
    assert plan is not None
    start = dt.datetime.fromtimestamp(fit.window_start, tz=dt.UTC)
    ahead = [stop.pk for stop in day.stops if stop.status != Status.ON_SITE]
    behind = (
        len(day.stops)
        - len(ahead)
        + Appointment.objects.filter(plan=plan, status__in=(Status.COMPLETED, Status.NOT_FIXED)).count()
    )
    order = [*ahead[: fit.position], appointment.pk, *ahead[fit.position :]]
    for index, pk in enumerate(order, start=behind + 1):
        if pk != appointment.pk:
            Appointment.objects.filter(pk=pk).update(position=index)
    appointment.position = behind + 1 + fit.position
    appointment.status = Status.BOOKED
    appointment.technician = day.technician
    appointment.plan = plan
    appointment.window_start = start
    appointment.window_end = start + dt.timedelta(seconds=WINDOW_SECONDS)
    appointment.promised_at = now
    appointment.promised_coverage = fit.coverage
    appointment.promise_quantiles = quantile_offsets(fit.raw, fit.window_start)
    appointment.planned_start = dt.datetime.fromtimestamp(
        max(float(np.median(fit.raw)), fit.window_start), tz=dt.UTC
    )
    appointment.planned_minutes = round(
        models.durations.for_job(appointment.job_type_id, day.technician.pk).median_minutes
    )
    appointment.save()
    plan.version += 1
    plan.save(update_fields=["version", "updated_at"])
    live.watch(plan.pk, start)


def _refresh_promises(day: RouteDay, now: dt.datetime, models: Models) -> None:
    """Store, for every stop still to come, the prediction its window now rests on (calibration scores
    promises against the last prediction before the visit, not the first)."""
    (day,) = attach_stops([day])
    prediction = predict(day, now, models)
    changed = []
    for stop, leg in zip(prediction.start.ahead, prediction.legs, strict=True):
        if (
            stop.status not in (Status.BOOKED, Status.SCHEDULED)
            or not stop.window_start
            or not stop.window_end
        ):
            continue
        stop.promise_quantiles = quantile_offsets(leg.raw, ts(stop.window_start))
        stop.promised_coverage = float(coverage(leg.raw, ts(stop.window_end)))
        stop.planned_start = dt.datetime.fromtimestamp(float(np.median(leg.arrive)), tz=dt.UTC)
        changed.append(stop)
    Appointment.objects.bulk_update(changed, ["promise_quantiles", "promised_coverage", "planned_start"])


def book(
    appointment: Appointment,
    window_start: dt.datetime,
    *,
    technician_id: int | None = None,
    actor: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
    models: Models | None = None,
    notify_customer: bool = True,
) -> Appointment:
    """Book `window_start` for this appointment, on the offered technician if given, else whoever fits.

    Raises ValidationError when the window is no longer free (someone else took the capacity), with
    nothing changed."""
    now = now or timezone.now()
    models = models or Models.load()
    if window_start < now + LEAD_TIME - dt.timedelta(minutes=1):
        raise ValidationError(
            {"window_start": "that window starts too soon or has passed; ask for new offers"}
        )
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update()
            .select_related("job_type", "customer")
            .get(pk=appointment.pk)
        )
        if appointment.status != Status.REQUESTED:
            raise ValidationError(
                {"status": f"this appointment is already {appointment.get_status_display().lower()}"}
            )
        require_coordinates(appointment)
        technicians = capable_technicians(appointment.job_type)
        if technician_id is not None:
            technicians.sort(key=lambda t: t.pk != technician_id)
        days = load_days(
            technicians, window_start - dt.timedelta(hours=24), window_start + dt.timedelta(hours=1)
        )
        days = [d for d in days if d.shift.start <= window_start < d.shift.end]
        days.sort(key=lambda d: [t.pk for t in technicians].index(d.technician.pk))
        starts = np.asarray([ts(window_start)])
        for day in days:
            plan, _ = DayPlan.objects.get_or_create(technician=day.technician, date=day.date)
            DayPlan.objects.select_for_update().filter(pk=plan.pk).first()
            (day,) = attach_stops([day])  # re-read the day now that nobody else can change it
            (fit,) = fits(day, _job(appointment, day.technician.pk, models), starts, now, models)
            if fit is not None:
                _insert(appointment, day, fit, models, now)
                _refresh_promises(day, now, models)
                events.record(appointment, "job.scheduled", now, actor=actor, key=window_start.isoformat())
                if notify_customer:
                    notify.booked(appointment)
                return appointment
        raise ValidationError(
            {
                "window_start": "that window is no longer available (the capacity was just taken); ask for new offers"
            }
        )
