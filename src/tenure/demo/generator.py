"""Write the simulated demo company into the database.

Staff, calendar and teams are a handful of rows and go through the ordinary model managers.
Customers, identities and events are written with `bulk_create` in large batches instead of through
`customers.services`: the services write one customer (and its timeline event) per call, which for
~3,000 customers and ~100,000 events would take minutes instead of seconds. The rows written are the
ones the services would write (normalised identities, one `customer.created` event each, lifecycle,
lost date/reason and the lapse timer set as `note_activity`/`set_lifecycle` set them), every event
has source "demo" and a deterministic idempotency key, and the whole build is one transaction, so a
failed build leaves nothing behind and a finished one is never written twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils import timezone

from tenure.core.models import AuditLog, BusinessCalendar, Event, Holiday, Team
from tenure.core.progress import ProgressFn, no_progress
from tenure.customers.models import ContactPerson, Customer, Identity, Tag
from tenure.customers.services import lapse_due
from tenure.demo.history import DemoData, simulate
from tenure.demo.present import seed_present
from tenure.demo.present_helpdesk import DEMO_RULE_PREFIX
from tenure.demo.staff import BUSINESS_TIME_ZONE, CALENDAR_NAME, TEAMS, WEEKLY_HOURS, StaffMember
from tenure.demo.summary import DemoShape, shape_from_database
from tenure.field.models import Technician
from tenure.helpdesk.models import TriageRule

SOURCE = "demo"
BUILT, RESET = "demo.built", "demo.reset"
BATCH = 2000

# progress(stage, done, total): called as each stage moves on; `total` stays fixed for a stage.
T = TypeVar("T")


class DemoConflict(Exception):
    """A different demo, or data the demo would collide with, is already in the database."""


@dataclass(frozen=True)
class Login:
    role: str
    username: str
    password: str
    name: str


@dataclass
class DemoSummary:
    seed: int
    customers: int
    months: int
    reused: bool
    logins: list[Login]
    shape: DemoShape
    built_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _logins(staff: list[StaffMember]) -> list[Login]:
    return [Login(member.role, member.username, member.password, member.full_name) for member in staff]


def latest_marker() -> AuditLog | None:
    return AuditLog.objects.filter(action__in=[BUILT, RESET]).order_by("-at", "-id").first()


def existing_demo() -> AuditLog | None:
    """The audit row of the demo currently in the database, if there is one."""
    marker = latest_marker()
    return marker if marker is not None and marker.action == BUILT else None


def build_company(
    *,
    seed: int = 7,
    customers: int = 3000,
    months: int = 18,
    reset: bool = False,
    end: dt.datetime | None = None,
    now: dt.datetime | None = None,
    present: bool = True,
    progress: ProgressFn = no_progress,
) -> DemoSummary:
    """Build the demo company unless the same one is already there; `reset` rebuilds it.

    After the history (which ends at `end`), `present` seeds today's work as of `now` (default: now).
    """
    marker = existing_demo()
    wanted = {"seed": seed, "customers": customers, "months": months}
    if marker is not None and not reset:
        found = {name: marker.details.get(name) for name in wanted}
        if found != wanted:
            described = ", ".join(f"{name}={value}" for name, value in found.items())
            raise DemoConflict(f"a demo built with {described} is already here; pass --reset to rebuild it")
        data_end = dt.datetime.fromisoformat(marker.details["end"])
        staff = simulate_staff(seed)
        return DemoSummary(
            seed,
            customers,
            months,
            True,
            _logins(staff),
            shape_from_database(SOURCE, data_end),
            built_at=marker.at.isoformat(),
        )

    progress("simulate", 0, 1)
    data = simulate(seed=seed, customers=customers, months=months, end=end)
    progress("simulate", 1, 1)
    with transaction.atomic():
        if marker is not None:
            remove_demo(marker)
        _check_free(data)
        _write_staff(data, progress)
        customer_ids = _write_customers(data, progress)
        _write_events(data, customer_ids, progress)
        extra: dict[str, Any] = {}
        if present:
            extra["present"] = seed_present(
                seed=seed,
                staff=data.staff,
                customer_ids=customer_ids,
                now=now or timezone.now(),
                progress=progress,
            ).as_dict()
        AuditLog.objects.create(
            action=BUILT,
            object_type="demo",
            object_id=str(seed),
            details={**wanted, "end": data.end.isoformat(), "usernames": [s.username for s in data.staff]},
        )
    return DemoSummary(
        seed,
        customers,
        months,
        False,
        _logins(data.staff),
        shape_from_database(SOURCE, data.end),
        extra=extra,
    )


def simulate_staff(seed: int) -> list[StaffMember]:
    """The staff (and their passwords) of a seed, without simulating the customers."""
    return simulate(seed=seed, customers=1, months=1).staff


def remove_demo(marker: AuditLog) -> None:
    """Delete what a demo build wrote: its customers (with timelines), staff, teams and calendar."""
    with transaction.atomic():
        customer_ids = list(
            Event.objects.filter(source=SOURCE, kind="customer.created").values_list("customer_id", flat=True)
        )
        Event.objects.filter(customer_id__in=customer_ids).delete()
        for chunk in _chunks(customer_ids, 5000):
            Identity.objects.filter(customer_id__in=chunk).delete()
            ContactPerson.objects.filter(customer_id__in=chunk).delete()
            Customer.tags.through.objects.filter(customer_id__in=chunk).delete()
            Customer.objects.filter(pk__in=chunk).delete()
        usernames = marker.details.get("usernames", [])
        Technician.objects.filter(user__username__in=usernames).delete()
        TriageRule.objects.filter(name__startswith=DEMO_RULE_PREFIX).delete()
        Team.objects.filter(name__in=TEAMS).delete()
        BusinessCalendar.objects.filter(name=CALENDAR_NAME).delete()
        User.objects.filter(username__in=usernames).delete()
        AuditLog.objects.create(action=RESET, object_type="demo", object_id=marker.object_id, details={})


def _check_free(data: DemoData) -> None:
    usernames = [member.username for member in data.staff]
    taken = sorted(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    if taken:
        raise DemoConflict(f"staff users {', '.join(taken)} already exist; the demo needs an empty database")
    refs = [customer.ref for customer in data.customers]
    if any(Customer.objects.filter(external_ref__in=chunk).exists() for chunk in _chunks(refs, 5000)):
        raise DemoConflict("customers with the demo's CUST-… references already exist; use an empty database")


def _write_staff(data: DemoData, progress: ProgressFn) -> None:
    total = len(data.staff) + len(TEAMS)
    # Password hashing is deliberately slow (~0.25 s each); hashlib releases the GIL, so use both cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        hashes = list(pool.map(make_password, [member.password for member in data.staff]))
    groups = {group.name: group for group in Group.objects.all()}
    users: dict[str, User] = {}
    for done, (member, hashed) in enumerate(zip(data.staff, hashes, strict=True), start=1):
        user = User.objects.create(
            username=member.username,
            password=hashed,
            first_name=member.first_name,
            last_name=member.last_name,
            email=f"{member.username}@staff.example.com",
            is_staff=True,
            is_superuser=member.role == "admin",
        )
        if member.role in groups:
            user.groups.add(groups[member.role])
        users[member.username] = user
        progress("staff", done, total)
    calendar, _ = BusinessCalendar.objects.update_or_create(
        name=CALENDAR_NAME, defaults={"time_zone": BUSINESS_TIME_ZONE, "weekly_hours": WEEKLY_HOURS}
    )
    calendar.holidays.all().delete()
    Holiday.objects.bulk_create(
        Holiday(calendar=calendar, date=day, name=name) for day, name in data.holidays
    )
    for done, team_name in enumerate(TEAMS, start=len(data.staff) + 1):
        team, _ = Team.objects.update_or_create(name=team_name, defaults={"calendar": calendar})
        team.members.set([users[m.username] for m in data.staff if team_name in m.teams])
        progress("staff", done, total)


def _write_customers(data: DemoData, progress: ProgressFn) -> list[int]:
    """Write the customers with their tags, identities and contacts; return their ids in order."""
    reps = dict(
        User.objects.filter(username__in=[m.username for m in data.staff]).values_list("username", "id")
    )
    total = len(data.customers)
    rows = [
        Customer(
            kind=spec.kind,
            name=spec.name,
            external_ref=spec.ref,
            address=spec.address,
            lifecycle=spec.lifecycle,
            lost_at=spec.lost_at,
            lost_reason=spec.lost_reason,
            assigned_rep_id=reps[spec.rep],
            preferred_channel=spec.preferred_channel,
            language=spec.language,
            quiet_hours_start=spec.quiet_hours[0] if spec.quiet_hours else None,
            quiet_hours_end=spec.quiet_hours[1] if spec.quiet_hours else None,
            opted_out_purposes=spec.opted_out,
            last_activity_at=spec.last_activity_at,
            lapse_due_at=lapse_due(spec.last_activity_at)
            if spec.lifecycle == "active" and spec.last_activity_at
            else None,
        )
        for spec in data.customers
    ]
    written = 0
    for chunk in _chunks(rows, BATCH):
        Customer.objects.bulk_create(chunk)
        written += len(chunk)
        progress("customers", written // 2, total)
    # created_at is auto_now_add, so bulk_create stamped "now"; put back the day each customer joined.
    for row, spec in zip(rows, data.customers, strict=True):
        row.created_at = spec.created_at
    Customer.objects.bulk_update(rows, ["created_at"], batch_size=500)
    tag_ids = {
        name: Tag.objects.get_or_create(name=name)[0].pk for spec in data.customers for name in spec.tags
    }
    through = Customer.tags.through
    Customer.tags.through.objects.bulk_create(
        [
            through(customer_id=row.pk, tag_id=tag_ids[name])
            for row, spec in zip(rows, data.customers, strict=True)
            for name in spec.tags
        ],
        batch_size=BATCH,
    )
    Identity.objects.bulk_create(
        [
            Identity(customer_id=row.pk, channel=channel, value=value, verified=True)
            for row, spec in zip(rows, data.customers, strict=True)
            for channel, value in spec.identities
        ],
        batch_size=BATCH,
    )
    ContactPerson.objects.bulk_create(
        [
            ContactPerson(
                customer_id=row.pk,
                name=contact.name,
                role=contact.role,
                email=contact.email,
                phone=contact.phone,
                is_primary=contact.is_primary,
            )
            for row, spec in zip(rows, data.customers, strict=True)
            for contact in spec.contacts
        ],
        batch_size=BATCH,
    )
    progress("customers", total, total)
    return [row.pk for row in rows]


def _write_events(data: DemoData, ids: list[int], progress: ProgressFn) -> None:
    total = len(data.events)
    done = 0
    for chunk in _chunks(data.events, BATCH * 2):
        Event.objects.bulk_create(
            [
                Event(
                    customer_id=ids[event.customer],
                    kind=event.kind,
                    occurred_at=event.occurred_at,
                    channel=event.channel,
                    actor=event.actor,
                    payload=event.payload,
                    source=SOURCE,
                    idempotency_key=event.key,
                )
                for event in chunk
            ]
        )
        done += len(chunk)
        progress("events", done, total)
