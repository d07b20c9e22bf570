"""Seed the demo company's *present* once its history is written: today's help-desk work, the field
day (today and tomorrow) and a few live journey enrollments, all through the apps' own services.

The same seed picks the same customers and the same work; what has happened to it by now depends on
the clock, as in a real business: a demo built at 2 a.m. has no technician on site yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from django.contrib.auth.models import User

from tenure.core.progress import ProgressFn, no_progress
from tenure.core.roles import AGENT, MANAGER, TECHNICIAN
from tenure.customers.models import Customer
from tenure.demo.present_field import TZ, FieldSummary, seed_appointments, setup_field
from tenure.demo.present_helpdesk import DeskSummary, configure_desk, seed_requests
from tenure.demo.present_journeys import active_enrollments, seed_enrollments
from tenure.demo.staff import StaffMember

STEPS = 5


@dataclass(frozen=True)
class PresentSummary:
    desk: DeskSummary
    field: FieldSummary
    win_backs: int
    active_enrollments: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _users(staff: list[StaffMember], role: str) -> list[User]:
    names = [member.username for member in staff if member.role == role]
    by_name = {user.username: user for user in User.objects.filter(username__in=names)}
    return [by_name[name] for name in names]


def seed_present(
    *,
    seed: int,
    staff: list[StaffMember],
    customer_ids: list[int],
    now: dt.datetime,
    progress: ProgressFn = no_progress,
) -> PresentSummary:
    agents = _users(staff, AGENT)
    managers = _users(staff, MANAGER)
    technicians = _users(staff, TECHNICIAN)
    people = Customer.objects.filter(pk__in=customer_ids).order_by("pk")
    active = list(people.filter(lifecycle="active"))
    progress("present", 0, STEPS)
    configure_desk(agents, managers[0] if managers else None)
    progress("present", 1, STEPS)
    desk = seed_requests(seed=seed, customers=active, agents=agents, now=now)
    progress("present", 2, STEPS)
    field_technicians = setup_field(seed=seed, technicians=technicians, today=now.astimezone(TZ).date())
    progress("present", 3, STEPS)
    field = seed_appointments(seed=seed, customers=active, technicians=field_technicians, now=now)
    progress("present", 4, STEPS)
    win_backs = seed_enrollments(seed=seed, lapsed=list(people.filter(lifecycle="lapsed")), now=now)
    progress("present", 5, STEPS)
    return PresentSummary(desk, field, win_backs, active_enrollments())
