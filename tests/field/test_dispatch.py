"""A dispatcher's move survives re-planning (the pin), re-plan and move over the API and the CLI with role
checks, and the booking confirmation's links (manage page and .ics)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from tenure.core.models import AuditLog
from tenure.core.outbox_models import OutboundMessage
from tenure.field.booking import book, offer_windows
from tenure.field.models import Appointment, Technician
from tenure.field.routing.planning import move_job, replan

from .test_routing_planning import FAST, FieldDay, at
from .world import build, request

pytestmark = pytest.mark.django_db
# Re-plans over the API and CLI use the real clock, so their day is tomorrow.
TOMORROW = (timezone.now() + dt.timedelta(days=1)).date()
FAR = (51.70, -0.12)  # about 22 km north of the jobs
NEAR = (51.51, -0.11)


@pytest.fixture
def field_day(db: None) -> FieldDay:
    return FieldDay.create()


def _two_technicians(field_day: FieldDay) -> tuple[Technician, Technician, Appointment]:
    ann = field_day.technician("Ann", ["boiler"], home=NEAR, day=TOMORROW)
    bob = field_day.technician("Bob", ["boiler"], home=FAR, day=TOMORROW)
    job = field_day.job("service", 10, NEAR, day=TOMORROW)
    return ann, bob, job


def test_a_moved_job_stays_with_its_technician_through_a_replan(field_day: FieldDay) -> None:
    ann, bob, job = _two_technicians(field_day)
    now = at(6, TOMORROW) - dt.timedelta(days=1)
    replan(TOMORROW, now=now, options=FAST)
    job.refresh_from_db()
    assert job.technician_id == ann.pk and not job.pinned  # the near technician, left to the planner

    move_job(job.pk, bob.pk, at(10.25, TOMORROW), now=now)
    replan(TOMORROW, now=now, options=FAST)
    job.refresh_from_db()
    assert job.pinned and job.technician_id == bob.pk

    # Without the pin the planner takes it back to the near technician: the pin is what kept it.
    Appointment.objects.filter(pk=job.pk).update(pinned=False)
    replan(TOMORROW, now=now, options=FAST)
    job.refresh_from_db()
    assert job.technician_id == ann.pk


def _post(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/v1{path}", data=json.dumps(body or {}), content_type="application/json")


def test_api_replan_and_move_for_dispatchers_only(
    field_day: FieldDay, client_as: Callable[[str], Client]
) -> None:
    _ann, bob, job = _two_technicians(field_day)
    for role in ("agent", "technician"):
        client = client_as(role)
        assert _post(client, f"/field/plans/{TOMORROW}/replan").status_code == 403
        moved = _post(
            client,
            f"/field/appointments/{job.pk}/move",
            {"technician_id": bob.pk, "start_at": at(10.25, TOMORROW).isoformat()},
        )
        assert moved.status_code in (403, 404)
    job.refresh_from_db()
    assert job.technician_id is None and not job.pinned  # the refusals changed nothing

    dispatcher = client_as("dispatcher")
    planned = _post(dispatcher, f"/field/plans/{TOMORROW}/replan")
    assert planned.status_code == 200, planned.content
    assert planned.json()["planned"] == 1 and planned.json()["unassigned"] == {}

    outside = _post(
        dispatcher,
        f"/field/appointments/{job.pk}/move",
        {"technician_id": bob.pk, "start_at": at(13, TOMORROW).isoformat()},
    )
    assert outside.status_code == 409
    assert "outside the promised window" in outside.json()["errors"][0]["message"]
    bad = _post(
        dispatcher, f"/field/appointments/{job.pk}/move", {"technician_id": bob.pk, "start_at": "soon"}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"]

    moved = _post(
        dispatcher,
        f"/field/appointments/{job.pk}/move",
        {"technician_id": bob.pk, "start_at": at(10.25, TOMORROW).isoformat()},
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["appointment"]["technician_id"] == bob.pk and moved.json()["appointment"]["pinned"]
    assert moved.json()["route"] == [job.pk]
    assert _post(dispatcher, f"/field/plans/{TOMORROW}/replan").status_code == 200
    job.refresh_from_db()
    assert job.technician_id == bob.pk
    assert AuditLog.objects.filter(action="field.move", object_id=str(job.pk)).exists()


def test_cli_plan_and_move(field_day: FieldDay, make_staff: Callable[..., Any]) -> None:
    ann, bob, job = _two_technicians(field_day)
    make_staff("agent", username="agnes")
    make_staff("dispatcher", username="dora")
    out = StringIO()
    call_command("field", "plan", "--date", TOMORROW.isoformat(), "--user", "dora", stdout=out)
    assert json.loads(out.getvalue())["planned"] == 1

    with pytest.raises(CommandError, match="may not re-plan"):
        call_command("field", "plan", "--date", TOMORROW.isoformat(), "--user", "agnes")
    with pytest.raises(CommandError, match="not a date"):
        call_command("field", "plan", "--date", "tomorrow")
    with pytest.raises(CommandError, match="outside the promised window"):
        call_command("field", "move", str(job.pk), "--technician", "Bob", "--at", "13:00")
    with pytest.raises(CommandError, match="no technician"):
        call_command("field", "move", str(job.pk), "--technician", "Zed", "--at", "10:15")
    job.refresh_from_db()
    assert job.technician_id == ann.pk and not job.pinned

    out = StringIO()
    call_command(
        "field", "move", job.reference, "--technician", "Bob", "--at", "10:15", "--user", "dora", stdout=out
    )
    assert json.loads(out.getvalue())["route"] == [job.reference]
    job.refresh_from_db()
    assert job.technician_id == bob.pk and job.pinned


def test_the_booking_confirmation_links_the_manage_page_and_the_ics(client: Client) -> None:
    world = build(technicians=1, days=1)
    now = at(0, world.technicians[0].shifts.first().start.date()) - dt.timedelta(days=2)  # type: ignore[union-attr]
    appointment = request(world)
    appointment = book(appointment, offer_windows(appointment, now)[0].window_start, now=now)
    message = OutboundMessage.objects.get(idempotency_key__startswith=f"field:{appointment.pk}:booked")
    manage = next(
        line.split(": ", 1)[1] for line in message.body.splitlines() if line.startswith("See, move")
    )
    ics = next(line.split(": ", 1)[1] for line in message.body.splitlines() if line.startswith("Add it"))
    assert client.get(urlsplit(manage).path).status_code == 200
    invite = client.get(urlsplit(ics).path)
    assert invite.status_code == 200 and invite["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in invite.content and appointment.reference.lower().encode() in invite.content
