"""The demo's present: after a small build, every staff page has real work on it, and each role sees
only what it may (SQLite or PostgreSQL, whichever DATABASE_URL says)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from tenure.core.outbox_models import OutboundMessage
from tenure.demo.generator import DemoSummary, build_company
from tenure.demo.present_field import TZ
from tenure.field import selectors as field_selectors
from tenure.field.models import Appointment, DayPlan, Shift, Technician
from tenure.helpdesk import selectors as desk_selectors
from tenure.helpdesk.console import queues
from tenure.helpdesk.models import Callback, Request
from tenure.journeys.models import Enrollment, EnrollmentState

pytestmark = pytest.mark.django_db
SEED = 4
# A Wednesday, 11:00 at the demo company: office open, technicians out since 7:30.
WEDNESDAY_11AM = dt.datetime(2026, 11, 18, 17, 0, tzinfo=dt.UTC)


def _build(now: dt.datetime) -> tuple[DemoSummary, dt.datetime]:
    """History up to the start of `now`'s business day, then the present as of `now`."""
    end = dt.datetime.combine(now.astimezone(TZ).date(), dt.time(0), tzinfo=TZ).astimezone(dt.UTC)
    return build_company(seed=SEED, customers=400, months=4, end=end, now=now), now


def _client(username: str) -> Client:
    client = Client()
    client.force_login(User.objects.get(username=username))
    return client


def _login(summary: DemoSummary, role: str, index: int = 0) -> str:
    return [login.username for login in summary.logins if login.role == role][index]


def test_present_fills_the_console_board_and_journeys() -> None:
    summary, now = _build(WEDNESDAY_11AM)
    present = summary.extra["present"]
    agent = User.objects.get(username=_login(summary, "agent", 2))

    # Help desk: requests across channels and departments, assigned to the demo agents within capacity.
    requests = Request.objects.all()
    assert requests.count() == present["desk"]["requests"] >= 30
    assert set(requests.values_list("channel", flat=True)) == {"email", "web", "chat", "sms", "phone"}
    assert requests.exclude(department=None).values("department").distinct().count() >= 4
    assignees = set(requests.exclude(assignee=None).values_list("assignee__groups__name", flat=True))
    assert assignees == {"agent"}
    for view in ("open", "due_soon", "breached", "callbacks_due", "triage", "team", "mine"):
        assert desk_selectors.requests_for_view(view, agent, now=now).exists(), view
    # The console's own saved views, as this agent sees them (their requests, teams and the untriaged).
    counts = {view.slug: len(queues.page(agent, view.slug, now=now).rows) for view in queues.VIEWS}
    assert all(
        counts[slug] > 0 for slug in ("mine", "team", "due-soon", "breached", "callbacks", "triage")
    ), counts
    assert requests.filter(status="waiting").exists()
    assert Callback.objects.filter(done_at=None, due_at__lt=now).exists()  # overdue
    assert Callback.objects.filter(done_at=None, due_at__gte=now).exists()  # due soon
    assert present["desk"]["callbacks"] == Callback.objects.count()
    # SLA clocks ran on the office calendar: a breach is recorded on the request and the timeline.
    breached = requests.exclude(first_response_breached_at=None).first()
    assert breached is not None
    assert breached.customer.events.filter(kind="request.sla_breached").exists()

    for slug in ("mine", "breached", "triage"):
        page = _client(agent.username).get(f"/console/?view={slug}")
        assert page.status_code == 200
        first = queues.page(agent, slug).rows[0]
        assert first.reference in page.content.decode(), slug

    # Field: the demo technicians work shifts with a lunch break, and both days have planned routes.
    technicians = Technician.objects.exclude(user=None)
    assert technicians.count() == 6
    today = now.astimezone(TZ).date()
    for day in (today, today + dt.timedelta(days=1)):
        shifts = Shift.objects.filter(start__date__lte=day, end__date__gte=day).prefetch_related("breaks")
        assert shifts.count() >= 6 and all(shift.breaks.exists() for shift in shifts)
    booked = Appointment.objects.exclude(window_start=None)
    assert booked.count() == present["field"]["appointments"] >= 8
    assert DayPlan.objects.exclude(optimised_at=None).exists()  # planned by the solver
    left_out = booked.filter(plan=None).exclude(status__in=("requested", "cancelled"))
    assert left_out.count() == present["field"]["unplanned"] < booked.count() / 4
    for appointment in left_out:  # the planner says why, on the customer's timeline
        assert appointment.customer.events.filter(kind="job.unplanned").exists()
    # By 11:00 the morning's work is under way or done, through the technicians' own transitions.
    field = present["field"]
    assert field["completed"] + field["on_site"] + field["en_route"] >= 1
    assert booked.filter(status="completed").count() == field["completed"]
    dispatcher = _client(_login(summary, "dispatcher"))
    board = dispatcher.get(f"/field/board/?date={today.isoformat()}")
    assert board.status_code == 200
    on_board = list(booked.filter(plan__date=today))
    assert on_board
    for appointment in on_board:
        assert appointment.reference in board.content.decode()

    # Journeys: booking and finished work started enrollments, and the demo added a few win-backs.
    assert present["win_backs"] >= 1
    active = Enrollment.objects.filter(state=EnrollmentState.ACTIVE, next_step_at__isnull=False)
    assert active.filter(journey__key="win-back", next_step_at__gt=now).count() == present["win_backs"]
    assert active.count() == present["active_enrollments"]

    # Messages wait in the outbox for the worker; nothing was sent while seeding.
    assert not OutboundMessage.objects.filter(status="sent").exists()


def test_a_technician_sees_only_their_own_jobs() -> None:
    # The technician's page shows today by the real clock, so this build is seeded as of now.
    summary, now = _build(timezone.now())
    today = now.astimezone(TZ).date()
    usernames = [login.username for login in summary.logins if login.role == "technician"]
    seen_any = False
    for username in usernames:
        technician = Technician.objects.get(user__username=username)
        user = User.objects.get(username=username)
        visible = field_selectors.visible_appointments(user)
        assert set(visible.values_list("technician_id", flat=True)) <= {technician.pk}
        others = Appointment.objects.exclude(technician=technician).exclude(technician=None)
        page = _client(username).get("/field/today/")
        assert page.status_code == 200
        text = page.content.decode()
        for job in field_selectors.route_of(technician, today):
            seen_any = True
            assert f'data-job="{job.pk}"' in text and escape(job.customer.name) in text
        for job in others.filter(plan__date=today):
            assert f'data-job="{job.pk}"' not in text
        # Another technician's job is not theirs to report on.
        other = others.filter(status__in=("booked", "scheduled")).first()
        if other is not None:
            denied = _client(username).post(f"/field/today/{other.pk}/on_my_way/")
            assert denied.status_code == 404
            other.refresh_from_db()
            assert other.status in ("booked", "scheduled") and other.en_route_at is None
    assert seen_any
    # The board is for dispatchers, not technicians; the console is for agents, not technicians.
    assert _client(usernames[0]).get("/field/board/").status_code == 403
    assert _client(usernames[0]).get("/console/").status_code == 403


def test_logins_land_on_each_roles_page() -> None:
    out = StringIO()
    call_command("demo", "--no-serve", "--customers", "80", "--months", "3", "--seed", "2", stdout=out)
    text = out.getvalue()
    assert "Today:" in text and "appointments" in text
    parts = [line.split() for line in text.splitlines() if line.startswith("  ")]
    starts = {words[0]: words[1] for words in parts if len(words) == 2}
    assert starts["dispatcher"].strip() == "/field/board/"
    assert starts["technician"].strip() == "/field/today/"
    assert starts["agent"].strip() == "/console/"
    logins = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") >= 5}
    for role, path in (
        ("dispatcher", "/field/board/"),
        ("technician", "/field/today/"),
        ("agent", "/console/"),
    ):
        username = logins[role].split("│")[3].strip()
        assert _client(username).get(path).status_code == 200, role
