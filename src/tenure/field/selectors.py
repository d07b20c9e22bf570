"""Reads for the field app: who may see which appointments, today's route, jobs at risk."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from tenure.field.live import CANNOT_KEEP, NOTICE_THRESHOLD
from tenure.field.models import OPEN_STATUSES, Appointment, DayPlan, Technician

SEE_ALL = ("field.add_appointment", "field.change_appointment")


def technician_of(user: User | AnonymousUser) -> Technician | None:
    if not user.is_authenticated:
        return None
    return Technician.objects.filter(user_id=user.pk).first()


def sees_all(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and any(user.has_perm(perm) for perm in SEE_ALL)


def visible_appointments(user: User | AnonymousUser) -> QuerySet[Appointment]:
    """Everything for staff who book or dispatch; a technician's own jobs for technicians; else nothing."""
    base = Appointment.objects.select_related("job_type", "technician", "customer")
    if sees_all(user):
        return base
    technician = technician_of(user)
    if technician is None or not user.has_perm("field.view_appointment"):
        return base.none()
    return base.filter(technician=technician)


def route_of(technician: Technician, date: dt.date) -> list[Appointment]:
    plan = DayPlan.objects.filter(technician=technician, date=date).first()
    if plan is None:
        return []
    return list(plan.stops.select_related("job_type", "customer").order_by("position", "id"))


def at_risk(
    now: dt.datetime, threshold: float = NOTICE_THRESHOLD, horizon: dt.timedelta = dt.timedelta(hours=24)
) -> QuerySet[Appointment]:
    """Open jobs whose (announced) window is likely to be missed, or that nobody can reach today."""
    return (
        Appointment.objects.filter(status__in=OPEN_STATUSES)
        # A return visit nobody could book has no window yet but still needs the dispatcher.
        .filter(Q(window_start__lt=now + horizon) | Q(window_start__isnull=True))
        .filter(Q(miss_probability__gt=threshold) | Q(notice_reason__startswith=CANNOT_KEEP))
        .exclude(window_end__lt=now - horizon)
        .select_related("job_type", "technician", "customer")
        .order_by("-miss_probability", "window_start")
    )
