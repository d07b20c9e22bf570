"""Building the demo company into a real database (SQLite or PostgreSQL, whichever DATABASE_URL says)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from tenure.core.models import AuditLog, BusinessCalendar, Event, Team
from tenure.customers.models import ContactPerson, Customer, Identity
from tenure.customers.services import create_customer
from tenure.demo.generator import DemoConflict, DemoSummary, build_company
from tenure.demo.history import simulate
from tenure.demo.summary import shape_from_data
from tenure.field.models import Technician
from tenure.helpdesk.models import Request, TriageRule

pytestmark = pytest.mark.django_db
END = dt.datetime(2026, 11, 1, 15, tzinfo=dt.UTC)


def _small(reset: bool = False) -> DemoSummary:
    # The history only: tests/demo/test_present.py covers the present seeded after it.
    return build_company(seed=5, customers=150, months=6, end=END, reset=reset, present=False)


def _counts() -> tuple[int, int, int, int, int]:
    return (
        Customer.objects.count(),
        Event.objects.count(),
        Identity.objects.count(),
        ContactPerson.objects.count(),
        User.objects.count(),
    )


def test_build_writes_what_the_simulation_decided() -> None:
    data = simulate(seed=5, customers=150, months=6, end=END)
    summary = _small()
    assert not summary.reused
    assert summary.shape == shape_from_data(data)
    assert Customer.objects.count() == 150
    assert Event.objects.filter(source="demo").count() == len(data.events)
    assert Identity.objects.count() == sum(len(c.identities) for c in data.customers)
    customer = Customer.objects.get(external_ref="CUST-000001")
    spec = data.customers[0]
    assert (customer.name, customer.created_at, customer.lifecycle) == (
        spec.name,
        spec.created_at,
        spec.lifecycle,
    )
    assert sorted(customer.tags.values_list("name", flat=True)) == spec.tags
    assert customer.events.filter(kind="customer.created").count() == 1
    lost = Customer.objects.filter(lifecycle="lost")
    assert lost.exists()
    assert not lost.filter(lost_at__isnull=True).exists()
    assert not lost.filter(lost_reason="").exists()
    assert not Customer.objects.filter(lifecycle="active", lapse_due_at__isnull=True).exists()


def test_staff_calendar_and_teams() -> None:
    summary = _small()
    assert len(summary.logins) == 13
    agent = next(login for login in summary.logins if login.role == "agent")
    user = authenticate(username=agent.username, password=agent.password)
    assert user is not None and user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["agent"]
    assert User.objects.get(username="admin").is_superuser
    calendar = BusinessCalendar.objects.get(name="Office hours")
    assert calendar.time_zone == "America/Chicago"
    assert calendar.weekly_hours["5"] == [["09:00", "13:00"]]
    assert "6" not in calendar.weekly_hours
    assert calendar.holidays.filter(name="Independence Day").exists()  # May-Nov 2026
    assert Team.objects.get(name="Field technicians").members.count() == 6
    assert Team.objects.get(name="Service desk").members.count() == 5
    reps = set(Customer.objects.values_list("assigned_rep__groups__name", flat=True))
    assert reps == {"agent"}


def test_running_twice_reuses_the_build() -> None:
    first = _small()
    before = _counts()
    second = _small()
    assert second.reused
    assert _counts() == before
    assert second.shape == first.shape
    assert [login.password for login in second.logins] == [login.password for login in first.logins]


def test_another_size_needs_reset_and_reset_rebuilds() -> None:
    _small()
    before = _counts()
    with pytest.raises(DemoConflict, match="--reset"):
        build_company(seed=6, customers=150, months=6, end=END)
    assert _counts() == before
    rebuilt = build_company(seed=6, customers=100, months=6, end=END, reset=True, now=END)
    assert not rebuilt.reused
    assert Customer.objects.count() == 100
    # A reset removes the previous present too (technicians, rules), so a rebuild does not double them.
    rebuilt_again = build_company(seed=6, customers=100, months=6, end=END, reset=True, now=END)
    assert rebuilt_again.extra["present"]["field"]["technicians"] == 6
    assert Technician.objects.count() == 6
    assert TriageRule.objects.filter(name__startswith="Demo: ").count() == 5
    assert Request.objects.count() == rebuilt_again.extra["present"]["desk"]["requests"]
    assert Event.objects.filter(source="demo").count() == rebuilt.shape.events
    assert AuditLog.objects.filter(action="demo.reset").count() == 2


def test_reset_keeps_customers_that_are_not_the_demos() -> None:
    _small()
    mine = create_customer(name="Real Customer", identities=[("email", "real@example.org")])
    _small(reset=True)
    assert Customer.objects.filter(pk=mine.pk).exists()
    assert mine.events.count() == 1
    assert Customer.objects.count() == 151


def test_refuses_to_overwrite_existing_staff() -> None:
    User.objects.create_user("admin", password="x" * 12)
    with pytest.raises(DemoConflict, match="admin"):
        _small()
    assert Customer.objects.count() == 0


def test_command_builds_without_serving() -> None:
    out = StringIO()
    call_command("demo", "--no-serve", "--customers", "60", "--months", "3", "--seed", "2", stdout=out)
    text = out.getvalue()
    assert Customer.objects.count() == 60
    assert "Churn in the last 12 months" in text
    assert "call-backs among contacts" in text
    admin_line = next(line for line in text.splitlines() if " admin " in line and "│" in line)
    password = admin_line.split("│")[4].strip()
    assert authenticate(username="admin", password=password) is not None

    again = StringIO()
    call_command("demo", "--no-serve", "--customers", "60", "--months", "3", "--seed", "2", stdout=again)
    assert "already here, reused" in again.getvalue()
    assert Customer.objects.count() == 60


def test_command_rejects_bad_sizes() -> None:
    with pytest.raises(CommandError, match="--customers"):
        call_command("demo", "--no-serve", "--customers", "0")
    with pytest.raises(CommandError, match="--months"):
        call_command("demo", "--no-serve", "--months", "0")
