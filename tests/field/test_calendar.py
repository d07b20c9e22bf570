"""Calendar invitations and the customer's signed links: stable UID, rising SEQUENCE, CANCEL, refusals."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from icalendar import Calendar

from tenure.core.outbox_models import OutboundMessage
from tenure.field import links
from tenure.field.booking import book, offer_windows, request_appointment
from tenure.field.models import Appointment, Status
from tenure.field.routing.tasks import replan_day
from tests.field.test_routing_planning import FieldDay


@pytest.fixture
def booked(db: None) -> Appointment:
    """A visit booked through the booking service on tomorrow's first offered window."""
    day = FieldDay.create()
    tomorrow = timezone.now().date() + dt.timedelta(days=1)
    for offset in (0, 1):
        day.technician(f"Tech {offset}", ["boiler"], shift=(8, 17), day=tomorrow + dt.timedelta(days=offset))
    requested = request_appointment(
        customer_id=day.customer.pk,
        job_type=day.job_types["service"],
        address="1 Test Street",
        lat=51.51,
        lon=-0.11,
        preferences={"days": [tomorrow.isoformat()], "ranges": [["09:00", "12:00"]]},
    )
    offer = offer_windows(requested)[0]
    return book(requested, offer.window_start, technician_id=offer.technician_id)


def ics(client: Client, token: str) -> Calendar:
    response = client.get(f"/field/visit/{token}/invite.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def event_of(calendar: Calendar) -> dict[str, object]:
    (event,) = calendar.walk("VEVENT")
    return {
        "uid": str(event["uid"]),
        "sequence": int(event["sequence"]),
        "start": event.decoded("dtstart"),
        "end": event.decoded("dtend"),
        "status": str(event["status"]),
        "method": str(calendar["method"]),
    }


def test_invitation_then_reschedule_then_cancel_keeps_the_uid_and_raises_the_sequence(
    booked: Appointment,
) -> None:
    client = Client()
    token = links.token_for(booked)
    first = event_of(ics(client, token))
    assert first == {
        "uid": f"job-{booked.pk}@tenure.field",
        "sequence": 0,
        "start": booked.window_start,
        "end": booked.window_end,
        "status": "CONFIRMED",
        "method": "REQUEST",
    }

    page = client.get(f"/field/visit/{token}/reschedule/")
    assert page.status_code == 200
    offered = [o.split('"')[0] for o in page.content.decode().split('name="window_start" value="')[1:]]
    assert offered, "no offers on the reschedule page"
    choice = next(o for o in offered if dt.datetime.fromisoformat(o) != booked.window_start)
    moved = client.post(f"/field/visit/{token}/reschedule/", {"window_start": choice})
    assert moved.status_code == 302
    new_token = moved["Location"].split("/field/visit/")[1].split("/")[0]
    booked.refresh_from_db()
    assert booked.window_start == dt.datetime.fromisoformat(choice) and booked.status in (
        Status.SCHEDULED,
        Status.BOOKED,
    )
    second = event_of(ics(client, new_token))
    assert (
        second["uid"] == first["uid"] and second["sequence"] == 1 and second["start"] == booked.window_start
    )

    # The link from before the move no longer acts on the visit.
    stale = client.get(f"/field/visit/{token}/cancel/")
    assert stale.status_code == 410 and "earlier booking" in stale.content.decode()

    assert client.post(f"/field/visit/{new_token}/cancel/").status_code == 302
    booked.refresh_from_db()
    assert booked.status == Status.CANCELLED
    third = event_of(ics(client, new_token))
    assert third["uid"] == first["uid"] and third["sequence"] == 2
    assert third["method"] == "CANCEL" and third["status"] == "CANCELLED"
    assert OutboundMessage.objects.filter(idempotency_key=f"field:{booked.pk}:cancel:customer").exists()
    assert DBTaskResult.objects.filter(
        task_path=replan_day.module_path
    ).exists()  # the freed time gets re-planned


def test_tampered_link_is_refused_and_changes_nothing(booked: Appointment) -> None:
    token = links.token_for(booked)
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    client = Client()
    for path in ("", "invite.ics", "reschedule/", "cancel/"):
        response = client.get(f"/field/visit/{tampered}/{path}")
        assert response.status_code == 400 and "not valid" in response.content.decode()
    assert client.post(f"/field/visit/{tampered}/cancel/").status_code == 400
    other_salt = signing.dumps(
        {"a": booked.pk, "w": int(booked.window_start.timestamp())}, salt="something-else"
    )  # type: ignore[union-attr]
    assert client.post(f"/field/visit/{other_salt}/cancel/").status_code == 400
    booked.refresh_from_db()
    assert booked.status != Status.CANCELLED


def test_expired_link_is_refused(booked: Appointment, monkeypatch: pytest.MonkeyPatch) -> None:
    issued = time.time() - links.max_age().total_seconds() - 60
    monkeypatch.setattr(signing.time, "time", lambda: issued)
    token = links.token_for(booked)
    monkeypatch.undo()
    response = Client().post(f"/field/visit/{token}/cancel/")
    assert response.status_code == 410 and "expired" in response.content.decode()
    booked.refresh_from_db()
    assert booked.status != Status.CANCELLED


def test_a_visit_under_way_cannot_be_moved_or_cancelled_by_link(booked: Appointment) -> None:
    Appointment.objects.filter(pk=booked.pk).update(status=Status.ON_SITE)
    token = links.token_for(booked)
    client = Client()
    page = client.get(f"/field/visit/{token}/").content.decode()
    assert 'id="reschedule"' not in page and "can no longer be changed" in page
    refused = client.post(f"/field/visit/{token}/cancel/")
    assert refused.status_code == 409 and "on site and can no longer be changed" in refused.content.decode()
    bad = client.post(f"/field/visit/{token}/reschedule/", {"window_start": "tomorrow"})
    assert bad.status_code == 400 and "choose one of the windows" in bad.content.decode()
    booked.refresh_from_db()
    assert booked.status == Status.ON_SITE


def test_a_window_taken_meanwhile_leaves_the_booking_as_it_was(booked: Appointment) -> None:
    before = (booked.window_start, booked.technician_id, booked.status)
    gone = timezone.now() + dt.timedelta(minutes=5)  # too soon for any booking
    response = Client().post(
        f"/field/visit/{links.token_for(booked)}/reschedule/", {"window_start": gone.isoformat()}
    )
    assert response.status_code == 409 and "ask for new offers" in response.content.decode()
    booked.refresh_from_db()
    assert (booked.window_start, booked.technician_id, booked.status) == before
