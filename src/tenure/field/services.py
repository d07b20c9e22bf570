"""Writes that set up the field: skills, job types, technicians and their shifts.

Booking lives in `booking.py`, the technician's day in `live.py`; this module is the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.field.models import JobType, Shift, ShiftBreak, Skill, Technician


def skills_named(codes: Iterable[str]) -> list[Skill]:
    skills = []
    for code in codes:
        code = code.strip().lower()
        if not code:
            raise ValidationError({"skills": "a skill needs a name"})
        skill, _ = Skill.objects.get_or_create(
            code=code, defaults={"name": code.replace("-", " ").capitalize()}
        )
        skills.append(skill)
    return skills


def create_job_type(
    *, code: str, name: str, skills: Sequence[str] = (), default_minutes: int = 60
) -> JobType:
    if not 5 <= default_minutes <= 24 * 60:
        raise ValidationError({"default_minutes": "a default duration is between 5 minutes and 24 hours"})
    with transaction.atomic():
        job_type = JobType.objects.create(code=code, name=name, default_duration_minutes=default_minutes)
        job_type.skills.set(skills_named(skills))
    return job_type


def _check_zone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"time_zone": f"{name!r} is not a time zone, e.g. 'Europe/London'"}) from None


def create_technician(
    *,
    name: str,
    home: tuple[float, float],
    skills: Sequence[str] = (),
    time_zone: str = "UTC",
    user: User | None = None,
) -> Technician:
    lat, lon = home
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationError({"home": "home base needs a latitude (-90..90) and longitude (-180..180)"})
    _check_zone(time_zone)
    with transaction.atomic():
        technician = Technician.objects.create(
            name=name, home_lat=lat, home_lon=lon, time_zone=time_zone, user=user
        )
        technician.skills.set(skills_named(skills))
    return technician


def add_shift(
    technician: Technician,
    start: dt.datetime,
    end: dt.datetime,
    breaks: Sequence[tuple[dt.datetime, dt.datetime]] = (),
) -> Shift:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError({"start": "give shift times with a time zone"})
    if end <= start:
        raise ValidationError({"end": "a shift must end after it starts"})
    if end - start > dt.timedelta(hours=16):
        raise ValidationError({"end": "a shift is at most 16 hours"})
    for index, (b_start, b_end) in enumerate(breaks):
        if not (start <= b_start < b_end <= end):
            raise ValidationError(
                {f"breaks.{index}": "a break must lie inside its shift and end after it starts"}
            )
    if Shift.objects.filter(technician=technician, start__lt=end, end__gt=start).exists():
        raise ValidationError({"start": f"{technician} already has a shift overlapping this one"})
    with transaction.atomic():
        shift = Shift.objects.create(technician=technician, start=start, end=end)
        ShiftBreak.objects.bulk_create([ShiftBreak(shift=shift, start=a, end=b) for a, b in breaks])
    return shift
