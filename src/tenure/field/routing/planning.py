"""The database side of planning: load a day from the field tables, plan or re-plan it, store the routes,
and move one job by hand after checking it still works.

A day is the local date in the business's time zone (settings.TIME_ZONE); times inside the planner are
seconds from that date's local midnight, so reasons read in local clock time ("window 10:00 to 11:00").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tenure.core.services import audit, record_event
from tenure.field.live import watch
from tenure.field.models import Appointment, DayPlan, Shift, Status, Technician
from tenure.field.routing.problem import Job, Plan, Point, Stop, TravelMatrix, Worker
from tenure.field.routing.solver import SolveOptions, plan_day
from tenure.field.routing.timing import time_route
from tenure.field.travel import TravelModel, default_travel_model

PLANNABLE = (Status.BOOKED, Status.SCHEDULED)
STARTED = (Status.EN_ROUTE, Status.ON_SITE)
DONE = (Status.COMPLETED, Status.NOT_FIXED)


def business_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=business_zone())
    return start, start + dt.timedelta(days=1)


def conservative_travel(model: TravelModel, departures: Sequence[dt.datetime]) -> TravelMatrix:
    """Driving seconds that hold whenever in the day the leg is driven: the slowest of the departures."""

    def matrix(points: Sequence[Point]) -> np.ndarray:
        bulk = getattr(model, "seconds_matrix", None)
        slowest: np.ndarray | None = None
        for when in departures:
            if bulk is not None:
                current = np.asarray(bulk(points, when), dtype=float)
            else:
                current = np.array([[model.seconds(a, b, when) for b in points] for a in points])
            slowest = current if slowest is None else np.maximum(slowest, current)
        assert slowest is not None
        return slowest

    return matrix


@dataclass
class DayProblem:
    day: dt.date
    origin: dt.datetime
    workers: list[Worker]
    jobs: list[Job]
    current: dict[int, list[int]]
    technicians: dict[int, Technician]
    appointments: dict[int, Appointment]
    travel: TravelMatrix
    notes: dict[int, str] = field(default_factory=dict)  # jobs on the day the planner cannot take

    def seconds(self, when: dt.datetime) -> int:
        return int((when - self.origin).total_seconds())

    def at(self, seconds: int) -> dt.datetime:
        return self.origin + dt.timedelta(seconds=seconds)


def _minutes(appointment: Appointment) -> int:
    return appointment.planned_minutes or appointment.job_type.default_duration_minutes


def _point(appointment: Appointment) -> Point | None:
    if appointment.lat is None or appointment.lon is None:
        return None
    return (appointment.lat, appointment.lon)


def _job(problem_origin: dt.datetime, appointment: Appointment, pinned_to: int | None = None) -> Job:
    assert appointment.window_start is not None and appointment.window_end is not None
    late = max(appointment.window_end, appointment.notice_window_end or appointment.window_end)
    return Job(
        key=appointment.pk,
        location=_point(appointment),
        skills=frozenset(s.code for s in appointment.job_type.skills.all()),
        service=_minutes(appointment) * 60,
        early=int((appointment.window_start - problem_origin).total_seconds()),
        late=int((late - problem_origin).total_seconds()),
        pinned_to=pinned_to,
        label=appointment.reference,
    )


def _free_after(appointment: Appointment, now: dt.datetime) -> dt.datetime:
    """When a job already begun will be done, by the best estimate stored on it."""
    if appointment.expected_finish is not None:
        return max(now, appointment.expected_finish)
    begun = appointment.arrived_at or appointment.eta or appointment.en_route_at or now
    return max(now, begun + dt.timedelta(minutes=_minutes(appointment)))


def load_day(day: dt.date, now: dt.datetime | None = None, travel: TravelModel | None = None) -> DayProblem:
    now = now or timezone.now()
    first, last = day_bounds(day)
    shifts = list(
        Shift.objects.filter(start__gte=first, start__lt=last, technician__active=True)
        .select_related("technician")
        .prefetch_related("breaks", "technician__skills")
        .order_by("technician__name", "technician_id", "start")
    )
    appointments = list(
        Appointment.objects.filter(window_start__gte=first, window_start__lt=last)
        .exclude(status__in=(Status.REQUESTED, Status.CANCELLED))
        .select_related("job_type", "plan")
        .prefetch_related("job_type__skills")
        .order_by("plan_id", "position", "window_start", "id")
    )
    technicians = {s.technician_id: s.technician for s in shifts}
    by_tech: dict[int, list[Appointment]] = {}
    for appointment in appointments:
        if appointment.technician_id is not None:
            by_tech.setdefault(appointment.technician_id, []).append(appointment)

    workers: list[Worker] = []
    seen: set[int] = set()
    for shift in shifts:
        if shift.technician_id in seen:  # one shift per technician per day
            continue
        seen.add(shift.technician_id)
        tech = shift.technician
        free_from: Point | None = None
        free_at: dt.datetime | None = now if now > shift.start else None
        mine = by_tech.get(tech.pk, [])
        finished = [(a.completed_at, a) for a in mine if a.status in DONE and a.completed_at is not None]
        if finished:
            done_at, latest = max(finished, key=lambda pair: pair[0])
            free_from, free_at = _point(latest), max(now, done_at)
        for started in (a for a in mine if a.status in STARTED):
            free_from, free_at = _point(started), _free_after(started, now)
        workers.append(
            Worker(
                key=tech.pk,
                home=(tech.home_lat, tech.home_lon),
                skills=frozenset(s.code for s in tech.skills.all()),
                start=int((shift.start - first).total_seconds()),
                end=int((shift.end - first).total_seconds()),
                breaks=tuple(
                    (int((b.start - first).total_seconds()), int((b.end - first).total_seconds()))
                    for b in shift.breaks.all()
                ),
                free_from=free_from,
                free_at=int((free_at - first).total_seconds()) if free_at else None,
                name=tech.name,
            )
        )

    jobs = [
        _job(first, a, a.technician_id if a.pinned else None) for a in appointments if a.status in PLANNABLE
    ]
    current: dict[int, list[int]] = {}
    for appointment in appointments:
        if appointment.status in PLANNABLE and appointment.plan_id and appointment.technician_id:
            current.setdefault(appointment.technician_id, []).append(appointment.pk)
    hours = sorted(
        {
            first + dt.timedelta(hours=h)
            for h in range(24)
            if any(w.start <= h * 3600 + 3599 and h * 3600 <= w.end for w in workers)
        }
    ) or [first + dt.timedelta(hours=12)]
    return DayProblem(
        day=day,
        origin=first,
        workers=workers,
        jobs=jobs,
        current=current,
        technicians=technicians,
        appointments={a.pk: a for a in appointments},
        travel=conservative_travel(travel or default_travel_model(), hours),
    )


def _actor(user: AbstractBaseUser | None) -> str:
    return f"staff:{user.get_username()}" if user is not None else "planner"


@dataclass
class Replanned:
    plan: Plan
    planned: int
    unassigned: dict[int, str]
    changed_routes: int


def _plan_for(problem: DayProblem, technician_id: int) -> DayPlan:
    plan, _ = DayPlan.objects.get_or_create(technician_id=technician_id, date=problem.day)
    return plan


def store_routes(
    problem: DayProblem, routes: dict[int, list[Stop]], now: dt.datetime, *, optimised: bool
) -> int:
    """Write the routes of these technicians (in the caller's transaction); returns routes whose order changed."""
    changed_routes = 0
    dirty: list[Appointment] = []
    for tech_id, stops in routes.items():
        plan = _plan_for(problem, tech_id)
        before = [
            a.pk
            for a in sorted(
                (a for a in problem.appointments.values() if a.plan_id == plan.pk and a.status in PLANNABLE),
                key=lambda a: (a.position or 0, a.pk),
            )
        ]
        for position, stop in enumerate(stops, start=1):
            appointment = problem.appointments[stop.job]
            appointment.technician_id = tech_id
            appointment.plan = plan
            appointment.position = position
            appointment.planned_start = problem.at(stop.start)
            appointment.planned_minutes = _minutes(appointment)
            if appointment.status == Status.BOOKED:
                appointment.status = Status.SCHEDULED
            dirty.append(appointment)
        if before != [s.job for s in stops]:
            changed_routes += 1
            plan.version += 1
        if optimised:
            plan.optimised_at = now
        plan.save(update_fields=["version", "optimised_at", "updated_at"])
        starts = [problem.appointments[s.job].window_start for s in stops]
        if any(starts):
            watch(plan.pk, min(start for start in starts if start is not None))
    Appointment.objects.bulk_update(
        dirty, ["technician", "plan", "position", "planned_start", "planned_minutes", "status", "updated_at"]
    )
    return changed_routes


@transaction.atomic
def replan(
    day: dt.date,
    *,
    now: dt.datetime | None = None,
    options: SolveOptions | None = None,
    user: AbstractBaseUser | None = None,
    travel: TravelModel | None = None,
) -> Replanned:
    """Plan the day from where it stands (warm start from the stored routes) and store the result."""
    now = now or timezone.now()
    actor = _actor(user)
    problem = load_day(day, now, travel)
    # Lock the day's rows so a concurrent move or re-plan waits instead of being overwritten.
    list(Appointment.objects.select_for_update().filter(pk__in=list(problem.appointments)).values_list("pk"))
    plan = plan_day(problem.workers, problem.jobs, problem.travel, current=problem.current, options=options)
    changed = store_routes(problem, plan.routes, now, optimised=True)
    left_out = [problem.appointments[key] for key in plan.unassigned]
    for appointment in left_out:
        was_planned = appointment.plan_id is not None
        appointment.technician_id = appointment.plan = appointment.position = appointment.planned_start = None
        if was_planned or appointment.status == Status.SCHEDULED:
            appointment.status = Status.BOOKED
        record_event(
            customer_id=appointment.customer_id,
            kind="job.unplanned",
            actor=actor,
            payload={
                "job": appointment.reference,
                "date": day.isoformat(),
                "reason": plan.unassigned[appointment.pk],
            },
        )
    Appointment.objects.bulk_update(
        left_out, ["technician", "plan", "position", "planned_start", "status", "updated_at"]
    )
    planned = sum(len(s) for s in plan.routes.values())
    audit_fields = {"date": day.isoformat(), "planned": planned, "unassigned": len(left_out)}
    audit(
        actor=user,
        action="field.replan",
        object_type="field.day",
        object_id=day.isoformat(),
        details=audit_fields,
    )
    return Replanned(
        plan=plan,
        planned=planned,
        unassigned=dict(plan.unassigned),
        changed_routes=changed,
    )


class MoveRefused(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _route_of(problem: DayProblem, tech_id: int, without: int) -> list[Appointment]:
    return sorted(
        (
            a
            for a in problem.appointments.values()
            if a.technician_id == tech_id and a.status in PLANNABLE and a.plan_id and a.pk != without
        ),
        key=lambda a: (a.position or 0, a.pk),
    )


def _timed(
    problem: DayProblem, worker: Worker, route: list[Appointment], override: Job | None
) -> tuple[list[Stop], list[str]]:
    jobs = [
        override
        if override is not None and a.pk == override.key
        else _job(problem.origin, a, a.technician_id if a.pinned else None)
        for a in route
    ]
    timed = time_route(worker, jobs, problem.travel)
    return timed.stops, timed.problems


@transaction.atomic
def move_job(
    appointment_id: int,
    technician_id: int,
    start_at: dt.datetime,
    *,
    user: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
    travel: TravelModel | None = None,
) -> list[Stop]:
    """Put a job on this technician's route to start at `start_at`, if every rule still holds; else MoveRefused."""
    now = now or timezone.now()
    appointment = Appointment.objects.select_for_update().select_related("job_type").get(pk=appointment_id)
    if (
        appointment.status not in PLANNABLE
        or appointment.window_start is None
        or appointment.window_end is None
    ):
        raise MoveRefused(
            [f"{appointment.reference} is {appointment.get_status_display().lower()} and cannot be moved"]
        )
    day = appointment.window_start.astimezone(business_zone()).date()
    problem = load_day(day, now, travel)
    worker = next((w for w in problem.workers if w.key == technician_id), None)
    if worker is None:
        raise MoveRefused([f"that technician has no shift on {day.isoformat()}"])
    appointment = problem.appointments[appointment_id]
    if not appointment.window_start <= start_at <= appointment.window_end:  # type: ignore[operator]
        local = business_zone()
        raise MoveRefused(
            [
                f"{start_at.astimezone(local):%H:%M} is outside the promised window "
                f"{appointment.window_start.astimezone(local):%H:%M} to {appointment.window_end.astimezone(local):%H:%M}"  # type: ignore[union-attr]
            ]
        )
    # The dispatcher's time is the earliest start; anything after it inside the window still keeps the promise.
    moved = replace(_job(problem.origin, appointment), early=problem.seconds(start_at))
    route = _route_of(problem, technician_id, appointment_id)
    starts = {a.pk: a.planned_start or a.window_start for a in route}
    at = next((i for i, a in enumerate(route) if starts[a.pk] and starts[a.pk] > start_at), len(route))  # type: ignore[operator]
    route.insert(at, appointment)
    stops, problems = _timed(problem, worker, route, moved)
    if problems:
        raise MoveRefused(problems)

    routes = {technician_id: stops}
    old_tech = appointment.technician_id
    if old_tech is not None and old_tech != technician_id:
        old_worker = next((w for w in problem.workers if w.key == old_tech), None)
        if old_worker is not None:
            routes[old_tech], _ = _timed(
                problem, old_worker, _route_of(problem, old_tech, appointment_id), None
            )
    store_routes(problem, routes, now, optimised=False)
    # The dispatcher chose this technician: later re-plans keep the job with them.
    Appointment.objects.filter(pk=appointment_id).update(pinned=True)
    audit(
        actor=user,
        action="field.move",
        object_type="field.appointment",
        object_id=appointment.pk,
        details={"technician": technician_id, "start_at": start_at.isoformat()},
    )
    record_event(
        customer_id=appointment.customer_id,
        kind="job.moved",
        actor=_actor(user),
        payload={
            "job": appointment.reference,
            "technician": problem.technicians[technician_id].name,
            "planned_start": problem.at(next(s.start for s in stops if s.job == appointment_id)).isoformat(),
        },
    )
    return stops
