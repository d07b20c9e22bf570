"""A technician's working day as the predictors see it: the shift, the breaks, where they are now and
the stops still ahead, loaded in bulk; and the prediction of those stops from the current state.

A shift is one working day; its plan is the DayPlan of the shift's local start date.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from tenure.field.arrivals import Break, Draws, Leg, StopSpec, propagate, ready_on_site
from tenure.field.durations import DurationModel
from tenure.field.learning import Models
from tenure.field.models import AHEAD_STATUSES, Appointment, DayPlan, Shift, Status, Technician
from tenure.field.travel import Point, TravelModel

ROUTE_STATUSES = (*AHEAD_STATUSES, Status.ON_SITE)
DONE_STATUSES = (Status.COMPLETED, Status.NOT_FIXED)


def ts(value: dt.datetime) -> float:
    return value.timestamp()


def local_date(technician: Technician, when: dt.datetime) -> dt.date:
    return when.astimezone(ZoneInfo(technician.time_zone)).date()


def point_of(appointment: Appointment) -> Point:
    if appointment.lat is None or appointment.lon is None:
        raise ValueError(f"appointment {appointment.pk} has no coordinates")
    return (appointment.lat, appointment.lon)


@dataclass
class RouteDay:
    technician: Technician
    shift: Shift
    date: dt.date
    plan: DayPlan | None
    stops: list[Appointment] = field(default_factory=list)  # open stops in route order
    last_done: Appointment | None = None
    finished: list[dt.datetime] = field(default_factory=list)  # when today's finished stops ended, in order

    @property
    def home(self) -> Point:
        return (self.technician.home_lat, self.technician.home_lon)

    @property
    def breaks(self) -> list[Break]:
        return [Break(ts(b.start), (b.end - b.start).total_seconds()) for b in self.shift.breaks.all()]

    @property
    def skill_codes(self) -> set[str]:
        return {skill.code for skill in self.technician.skills.all()}


@dataclass
class Start:
    """Where the prediction starts from: free at `ready` at `origin`, with stops `ahead` (in order)."""

    ready: np.ndarray
    origin: Point
    ahead: list[Appointment]
    specs: list[StopSpec]
    fixed: int  # leading stops of `ahead` the technician is already committed to (driving there)
    taken: list[np.ndarray]  # per break of the day: whether it is behind the technician already


def stop_spec(appointment: Appointment, durations: DurationModel, technician_id: int) -> StopSpec:
    return StopSpec(
        key=appointment.pk,
        point=point_of(appointment),
        duration=durations.for_job(appointment.job_type_id, technician_id),
        earliest=ts(appointment.window_start) if appointment.window_start else -np.inf,
    )


def start_state(day: RouteDay, now: dt.datetime, durations: DurationModel, draws: Draws) -> Start:
    tech_id = day.technician.pk
    now_s = ts(now)
    ready = np.full(draws.n, max(now_s, ts(day.shift.start)))
    origin = day.home
    if day.last_done is not None and day.last_done.completed_at is not None:
        origin = point_of(day.last_done)
        ready = np.full(draws.n, max(now_s, ts(day.last_done.completed_at)))
    ahead: list[Appointment] = []
    specs: list[StopSpec] = []
    fixed = 0
    for stop in day.stops:
        if stop.status == Status.ON_SITE:
            profile = durations.for_job(stop.job_type_id, tech_id)
            ready = ready_on_site(
                now=now_s,
                arrived_at=ts(stop.arrived_at or now),
                duration=profile,
                expected_finish=ts(stop.expected_finish) if stop.expected_finish else None,
                z=draws.for_stop(stop.pk)[1],
            )
            origin = point_of(stop)
            ahead, specs, fixed = [], [], 0  # whatever came before is behind the technician now
            continue
        spec = stop_spec(stop, durations, tech_id)
        if stop.status == Status.EN_ROUTE and stop.en_route_at is not None:
            spec = StopSpec(
                spec.key,
                spec.point,
                spec.duration,
                spec.earliest,
                departed_at=ts(stop.en_route_at),
                travel_estimate=float(stop.travel_estimate_seconds or 0) or None,
            )
            fixed = 1
        ahead.append(stop)
        specs.append(spec)
    free = fixed == 0 and not any(stop.status == Status.ON_SITE for stop in day.stops)
    flags, free_after = breaks_so_far(day, now_s, free=free)
    if free:
        ready = np.maximum(ready, free_after)
    taken = [np.full(draws.n, flag) for flag in flags]
    return Start(ready=ready, origin=origin, ahead=ahead, specs=specs, fixed=fixed, taken=taken)


def breaks_so_far(day: RouteDay, now: float, *, free: bool) -> tuple[list[bool], float]:
    """Which of the day's breaks the technician has had or is having by `now`, and when a technician
    who is free now can set off. As in the prediction, a break starts at the first moment the technician
    is free after its start time: a job finished then, or the start time itself if they were waiting."""
    finished = [ts(when) for when in day.finished]
    idle_since = finished[-1] if finished else ts(day.shift.start)
    flags: list[bool] = []
    free_after = now
    for pause in day.breaks:
        began = next((when for when in finished if when >= pause.start), None)
        if began is None and free and idle_since <= pause.start <= now:
            began = pause.start
        flags.append(began is not None and began <= now)
        if began is not None and began <= now and free:
            free_after = max(free_after, began + pause.seconds)
    return flags, free_after


@dataclass
class Prediction:
    start: Start
    legs: list[Leg]
    back_home: np.ndarray


def home_by(ready: np.ndarray, here: Point, day: RouteDay, travel: TravelModel) -> np.ndarray:
    return ready + travel.seconds(here, day.home, dt.datetime.fromtimestamp(float(ready.mean()), tz=dt.UTC))


def predict(day: RouteDay, now: dt.datetime, models: Models) -> Prediction:
    start = start_state(day, now, models.durations, models.draws)
    legs, ready, here = propagate(
        start.ready,
        start.origin,
        start.specs,
        travel=models.travel,
        noise=models.noise,
        draws=models.draws,
        breaks=day.breaks,
        taken=[flags.copy() for flags in start.taken],
        now=ts(now),
    )
    return Prediction(start, legs, home_by(ready, here, day, models.travel))


def load_days(technicians: Iterable[Technician], first: dt.datetime, last: dt.datetime) -> list[RouteDay]:
    """Every shift starting in [first, last) of these technicians, with its plan and open stops."""
    by_id = {t.pk: t for t in technicians}
    shifts = list(
        Shift.objects.filter(technician_id__in=by_id, start__gte=first, start__lt=last)
        .prefetch_related("breaks")
        .order_by("start")
    )
    days = [
        RouteDay(by_id[s.technician_id], s, local_date(by_id[s.technician_id], s.start), None) for s in shifts
    ]
    return attach_stops(days)


def attach_stops(days: Sequence[RouteDay]) -> list[RouteDay]:
    """Fill in each day's plan (unless already known), its open stops in order and its last finished stop."""
    if not days:
        return []
    missing = [d for d in days if d.plan is None]
    if missing:
        found = DayPlan.objects.filter(
            technician_id__in={d.technician.pk for d in missing}, date__in={d.date for d in missing}
        )
        by_key = {(p.technician_id, p.date): p for p in found}
        for day in missing:
            day.plan = by_key.get((day.technician.pk, day.date))
    plan_ids = [d.plan.pk for d in days if d.plan is not None]
    stops: dict[int, list[Appointment]] = defaultdict(list)
    done: dict[int, Appointment] = {}
    finished: dict[int, list[dt.datetime]] = defaultdict(list)
    if plan_ids:
        # Customer, job type and technician come along: notices and events about these stops need them.
        rows = Appointment.objects.filter(
            plan_id__in=plan_ids, status__in=(*ROUTE_STATUSES, *DONE_STATUSES)
        ).select_related("customer", "job_type", "technician__user")
        for appt in sorted(rows, key=lambda a: (a.position or 0, a.pk)):
            assert appt.plan_id is not None
            if appt.status in DONE_STATUSES:
                if appt.completed_at is not None:
                    finished[appt.plan_id].append(appt.completed_at)
                    last = done.get(appt.plan_id)
                    if last is None or appt.completed_at > last.completed_at:  # type: ignore[operator]
                        done[appt.plan_id] = appt
            else:
                stops[appt.plan_id].append(appt)
    for day in days:
        if day.plan is not None:
            day.stops = stops.get(day.plan.pk, [])
            day.last_done = done.get(day.plan.pk)
            day.finished = sorted(finished.get(day.plan.pk, []))
    return list(days)


def load_day(plan: DayPlan) -> RouteDay | None:
    technician = plan.technician
    zone = ZoneInfo(technician.time_zone)
    first = dt.datetime.combine(plan.date, dt.time.min, tzinfo=zone)
    shift = (
        Shift.objects.filter(technician=technician, start__gte=first, start__lt=first + dt.timedelta(days=1))
        .prefetch_related("breaks")
        .first()
    )
    if shift is None:
        return None
    return attach_stops([RouteDay(technician, shift, plan.date, plan)])[0]
