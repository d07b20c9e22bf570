"""Today's and tomorrow's field work for the demo: technicians, job types, shifts, appointments booked
from what customers said suits them, day routes planned by PyVRP, and today's jobs moved on to where
they would be by now (on the way, on site, done).

Everything goes through the field app's own services (`services`, `booking`, `routing.planning`,
`live`), so windows, promises, routes, timeline events and confirmation messages are the real ones.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from tenure.customers.models import Customer
from tenure.demo.staff import BUSINESS_TIME_ZONE
from tenure.field import booking, live
from tenure.field import services as field_services
from tenure.field.learning import Models
from tenure.field.models import Appointment, JobType, Status, Technician
from tenure.field.routing.planning import replan

TZ = ZoneInfo(BUSINESS_TIME_ZONE)
SHIFT = (dt.time(7, 30), dt.time(17, 0))
LUNCH = (dt.time(12, 0), dt.time(12, 30))
# (code, name, skill, minutes)
JOB_TYPES = (
    ("leak-repair", "Leak repair", "plumbing", 60),
    ("drain-cleaning", "Drain cleaning", "plumbing", 45),
    ("water-heater-service", "Water heater service", "plumbing", 90),
    ("furnace-tune-up", "Furnace tune-up", "heating", 60),
    ("furnace-repair", "Furnace repair", "heating", 90),
    ("breaker-troubleshooting", "Breaker troubleshooting", "electrical", 60),
    ("outlet-repair", "Outlet repair", "electrical", 45),
)
# Skills of the six demo technicians, in the order the staff list gives them.
TECH_SKILLS = (
    ("plumbing", "heating"),
    ("plumbing",),
    ("heating", "electrical"),
    ("electrical", "plumbing"),
    ("heating",),
    ("plumbing", "heating", "electrical"),
)
# Approximate town centres (lat, lon) of the demo company's service area (names.CITIES).
TOWNS = {
    "Chicago": (41.925, -87.665),
    "Evanston": (42.045, -87.688),
    "Skokie": (42.033, -87.733),
    "Oak Park": (41.885, -87.785),
    "Cicero": (41.845, -87.754),
    "Naperville": (41.750, -88.153),
    "Schaumburg": (42.033, -88.083),
    "Aurora": (41.760, -88.320),
}
HOME_BASES = ("Chicago", "Evanston", "Oak Park", "Skokie", "Chicago", "Cicero")
# What customers say when asked when they can be home (first range fits best).
PREFERENCES: tuple[dict[str, object], ...] = (
    {"ranges": [["08:00", "12:00"]]},
    {"ranges": [["12:00", "17:00"]]},
    {"ranges": [["09:00", "11:00"], ["14:00", "16:00"]]},
    {"asap": True},
)


@dataclass(frozen=True)
class FieldSummary:
    technicians: int
    appointments: int
    today: int
    tomorrow: int
    not_booked: int
    unplanned: int  # booked, but the day planner found no room on a route (the board lists them)
    en_route: int
    on_site: int
    completed: int


def appointment_count(customers: int) -> int:
    return min(40, max(8, customers // 45))


def _jitter(rng: random.Random, point: tuple[float, float], spread: float = 0.03) -> tuple[float, float]:
    return (
        round(point[0] + rng.uniform(-spread, spread), 5),
        round(point[1] + rng.uniform(-spread, spread), 5),
    )


def _town(address: str) -> tuple[float, float]:
    for town, point in TOWNS.items():
        if f", {town}," in address:
            return point
    return TOWNS["Chicago"]


def _at(day: dt.date, when: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, when, tzinfo=TZ)


def setup_field(*, seed: int, technicians: Sequence[User], today: dt.date) -> list[Technician]:
    """Job types, the demo technicians as field technicians, and their shifts today and tomorrow."""
    rng = random.Random(f"field:{seed}")
    for code, name, skill, minutes in JOB_TYPES:
        if not JobType.objects.filter(code=code).exists():
            field_services.create_job_type(code=code, name=name, skills=[skill], default_minutes=minutes)
    made = []
    for index, user in enumerate(technicians):
        technician = Technician.objects.filter(user=user).first() or field_services.create_technician(
            name=user.get_full_name() or user.username,
            home=_jitter(rng, TOWNS[HOME_BASES[index % len(HOME_BASES)]]),
            skills=TECH_SKILLS[index % len(TECH_SKILLS)],
            time_zone=BUSINESS_TIME_ZONE,
            user=user,
        )
        for day in (today, today + dt.timedelta(days=1)):
            if not technician.shifts.filter(start__date__gte=day, start__date__lte=day).exists():
                field_services.add_shift(
                    technician,
                    _at(day, SHIFT[0]),
                    _at(day, SHIFT[1]),
                    breaks=[(_at(day, LUNCH[0]), _at(day, LUNCH[1]))],
                )
        made.append(technician)
    return made


def _book_one(
    rng: random.Random, customer: Customer, day: dt.date, booked_at: dt.datetime, models: Models, notify: bool
) -> Appointment | None:
    job_type = JobType.objects.get(code=rng.choice(JOB_TYPES)[0])
    lat, lon = _jitter(rng, _town(customer.address), 0.04)
    preferences = {**rng.choice(PREFERENCES)}
    if not preferences.get("asap"):
        preferences["days"] = [day.isoformat()]
    appointment = booking.request_appointment(
        customer_id=customer.pk,
        job_type=job_type,
        address=customer.address,
        lat=lat,
        lon=lon,
        preferences=preferences,
        notes="Booked by phone",
        now=booked_at,
    )
    try:
        offers = booking.offer_windows(appointment, booked_at, models=models, horizon_days=2)
        best = offers[0]
        return booking.book(
            appointment,
            best.window_start,
            technician_id=best.technician_id,
            now=booked_at,
            models=models,
            notify_customer=notify,
        )
    except ValidationError:
        # Nobody had room that suits them: it stays a request the dispatcher can see, as in real life.
        return None


def _move_on(appointment: Appointment, free_at: dt.datetime, now: dt.datetime, models: Models) -> dt.datetime:
    """Take one planned stop as far as `now` allows; returns when the technician is free again."""
    assert appointment.planned_start is not None
    arrive = max(appointment.planned_start, free_at + dt.timedelta(minutes=20))
    leave = arrive - dt.timedelta(minutes=20)
    if leave > now:
        return free_at
    live.on_my_way(appointment, now=leave, models=models)
    if arrive > now:
        return now
    live.arrived(appointment, now=arrive, models=models)
    done = arrive + dt.timedelta(minutes=appointment.planned_minutes or 60)
    if done > now:
        return done
    live.complete(appointment, note="Fixed; customer shown the work", now=done, models=models)
    return done


def _play_day(technicians: Sequence[Technician], day: dt.date, now: dt.datetime, models: Models) -> None:
    for technician in technicians:
        free_at = _at(day, SHIFT[0])
        stops = Appointment.objects.filter(
            technician=technician, plan__date=day, status__in=(Status.BOOKED, Status.SCHEDULED)
        ).order_by("position", "id")
        for stop in stops:
            free_at = _move_on(stop, free_at, now, models)
            if free_at >= now:
                break


def seed_appointments(
    *, seed: int, customers: Sequence[Customer], technicians: Sequence[Technician], now: dt.datetime
) -> FieldSummary:
    rng = random.Random(f"appointments:{seed}")
    today = now.astimezone(TZ).date()
    tomorrow = today + dt.timedelta(days=1)
    models = Models.load()
    count = min(appointment_count(len(customers)), len(customers))
    chosen = rng.sample(list(customers), count)
    # Today's visits were booked yesterday evening; tomorrow's are being booked now.
    yesterday_evening = _at(today - dt.timedelta(days=1), dt.time(18))
    half = count // 2
    booked = [
        _book_one(rng, customer, today, yesterday_evening, models, notify=False) for customer in chosen[:half]
    ]
    replan(today, now=yesterday_evening)
    booked += [_book_one(rng, customer, tomorrow, now, models, notify=True) for customer in chosen[half:]]
    replan(tomorrow, now=now)
    _play_day(technicians, today, now, models)
    ids = [a.pk for a in booked if a is not None]
    mine = Appointment.objects.filter(pk__in=ids)
    statuses = [a.status for a in mine]
    local_days = [a.window_start.astimezone(TZ).date() for a in mine if a.window_start is not None]
    return FieldSummary(
        technicians=len(technicians),
        appointments=len(ids),
        today=local_days.count(today),
        tomorrow=local_days.count(tomorrow),
        not_booked=count - len(ids),
        unplanned=sum(a.plan_id is None and a.status == Status.BOOKED for a in mine),
        en_route=statuses.count(Status.EN_ROUTE),
        on_site=statuses.count(Status.ON_SITE),
        completed=statuses.count(Status.COMPLETED),
    )
