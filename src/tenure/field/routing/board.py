"""What the dispatcher board shows for a day: one lane per technician on a time axis, each job as a block
inside its promised window, jobs at risk, jobs nobody has, and the routes on a map."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from tenure.field.live import CANNOT_KEEP, NOTICE_THRESHOLD
from tenure.field.models import Appointment, Shift, Status, Technician
from tenure.field.routing.planning import business_zone, day_bounds

AXIS_START_HOUR, AXIS_END_HOUR = 6, 20
ON_BOARD = (
    Status.BOOKED,
    Status.SCHEDULED,
    Status.EN_ROUTE,
    Status.ON_SITE,
    Status.COMPLETED,
    Status.NOT_FIXED,
)


def at_risk(appointment: Appointment) -> bool:
    if appointment.status not in (Status.BOOKED, Status.SCHEDULED, Status.EN_ROUTE):
        return False
    late_plan = (
        appointment.planned_start is not None
        and appointment.window_end is not None
        and appointment.planned_start > appointment.window_end
    )
    # The same rule as the live day's notices (selectors.at_risk), plus a plan that already runs late.
    likely_miss = appointment.miss_probability > NOTICE_THRESHOLD or appointment.notice_reason.startswith(
        CANNOT_KEEP
    )
    return late_plan or likely_miss


@dataclass
class Block:
    appointment: Appointment
    left: float  # percent of the axis
    width: float
    window_left: float
    window_width: float
    at_risk: bool


@dataclass
class Lane:
    technician: Technician
    shift_left: float
    shift_width: float
    breaks: list[tuple[float, float]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)


@dataclass
class BoardDay:
    day: dt.date
    lanes: list[Lane]
    unplanned: list[Appointment]
    at_risk: list[Appointment]
    hours: list[tuple[str, float]]
    stops: dict[int, list[Appointment]]  # technician → route in order, for the map

    @property
    def movable(self) -> list[Appointment]:
        jobs = [b.appointment for lane in self.lanes for b in lane.blocks] + self.unplanned
        return [a for a in jobs if a.status in (Status.BOOKED, Status.SCHEDULED)]


class Axis:
    def __init__(self, day: dt.date) -> None:
        first, _ = day_bounds(day)
        self.start = first + dt.timedelta(hours=AXIS_START_HOUR)
        self.seconds = (AXIS_END_HOUR - AXIS_START_HOUR) * 3600

    def pos(self, when: dt.datetime) -> float:
        return max(0.0, min(100.0, (when - self.start).total_seconds() / self.seconds * 100))

    def span(self, start: dt.datetime, end: dt.datetime) -> float:
        return max(0.4, self.pos(end) - self.pos(start))


def board_day(day: dt.date) -> BoardDay:
    first, last = day_bounds(day)
    axis = Axis(day)
    shifts = (
        Shift.objects.filter(start__gte=first, start__lt=last)
        .select_related("technician")
        .prefetch_related("breaks")
        .order_by("technician__name", "technician_id")
    )
    lanes: dict[int, Lane] = {}
    for shift in shifts:
        lane = lanes.setdefault(
            shift.technician_id,
            Lane(shift.technician, axis.pos(shift.start), axis.span(shift.start, shift.end)),
        )
        lane.breaks += [(axis.pos(b.start), axis.span(b.start, b.end)) for b in shift.breaks.all()]
    jobs = list(
        Appointment.objects.filter(window_start__gte=first, window_start__lt=last, status__in=ON_BOARD)
        .select_related("job_type", "customer", "technician")
        .order_by("technician_id", "position", "window_start", "id")
    )
    unplanned: list[Appointment] = []
    stops: dict[int, list[Appointment]] = {}
    for job in jobs:
        job_lane = lanes.get(job.technician_id) if job.technician_id else None
        begins = job.arrived_at or job.planned_start
        if job_lane is None or begins is None or job.window_start is None or job.window_end is None:
            unplanned.append(job)
            continue
        ends = job.completed_at or begins + dt.timedelta(
            minutes=job.planned_minutes or job.job_type.default_duration_minutes
        )
        job_lane.blocks.append(
            Block(
                appointment=job,
                left=axis.pos(begins),
                width=axis.span(begins, ends),
                window_left=axis.pos(job.window_start),
                window_width=axis.span(job.window_start, job.window_end),
                at_risk=at_risk(job),
            )
        )
        stops.setdefault(job_lane.technician.pk, []).append(job)
    hours = [
        (f"{h:02d}:00", axis.pos(first + dt.timedelta(hours=h)))
        for h in range(AXIS_START_HOUR, AXIS_END_HOUR + 1, 2)
    ]
    return BoardDay(
        day=day,
        lanes=list(lanes.values()),
        unplanned=unplanned,
        at_risk=[j for j in jobs if at_risk(j)],
        hours=hours,
        stops=stops,
    )


def today() -> dt.date:
    return timezone.now().astimezone(business_zone()).date()
