"""The field API: who may book, who may report on which job, and errors that name the field."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tenure.field.booking import book, offer_windows
from tenure.field.models import Appointment, Status

from .world import World, request
from .world import build as build_world

pytestmark = pytest.mark.django_db
# The API works on the real clock, so the shifts start tomorrow.
NOW = timezone.now()
TOMORROW = (NOW + dt.timedelta(days=1)).date()


def build(technicians: int = 2) -> World:
    return build_world(technicians=technicians, days=2, first_day=TOMORROW)


def post(client: Client, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        f"/api/v1{path}", data=json.dumps(body or {}), content_type="application/json", headers=headers
    )


def test_an_agent_records_a_request_then_books_an_offer(client_as: Callable[[str], Client]) -> None:
    world = build()
    agent = client_as("agent")
    body = {
        "customer_id": world.customer().pk,
        "job_type": "boiler",
        "address": "1 High Street",
        "lat": 51.52,
        "lon": -0.1,
        "preferences": {"ranges": [["08:00", "12:00"]]},
    }
    created = post(agent, "/field/appointments", body)
    assert created.status_code == 201, created.content
    appointment_id = created.json()["id"]
    offers = agent.get(f"/api/v1/field/appointments/{appointment_id}/offers")
    assert offers.status_code == 200
    first = offers.json()[0]
    booked = post(agent, f"/field/appointments/{appointment_id}/book", first)
    assert booked.status_code == 200, booked.content
    assert booked.json()["status"] == "booked"
    again = post(agent, f"/field/appointments/{appointment_id}/book", first)
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "status"


def test_bad_requests_name_the_field_and_store_nothing(client_as: Callable[[str], Client]) -> None:
    world = build()
    agent = client_as("agent")
    customer = world.customer().pk
    cases = [
        ({"customer_id": customer, "job_type": "boiler", "address": "x", "lat": 95, "lon": 0}, "lat"),
        ({"customer_id": customer, "job_type": "boiler", "address": "x", "lat": 51.5}, "lon"),
        (
            {
                "customer_id": customer,
                "job_type": "boiler",
                "address": "x",
                "preferences": {"ranges": [["25:00", "26:00"]]},
            },
            "preferences.ranges.0",
        ),
        ({"customer_id": customer, "job_type": "boiler"}, "address"),
    ]
    for body, field in cases:
        response = post(agent, "/field/appointments", body)
        assert response.status_code == 422, body
        assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert (
        post(agent, "/field/appointments", {**cases[0][0], "job_type": "nope", "lat": 51}).status_code == 422
    )
    assert not Appointment.objects.exists()
    no_coordinates = post(
        agent, "/field/appointments", {"customer_id": customer, "job_type": "boiler", "address": "x"}
    )
    assert no_coordinates.status_code == 201
    offers = agent.get(f"/api/v1/field/appointments/{no_coordinates.json()['id']}/offers")
    assert offers.status_code == 422
    assert offers.json()["errors"][0]["field"] == "address"


def test_technicians_see_and_report_on_their_own_jobs_only(
    client_as: Callable[[str], Client], make_staff: Callable[..., Any]
) -> None:
    world = build(technicians=2)
    mine, theirs = request(world, 0), request(world, 1)
    for appointment, tech in ((mine, world.technicians[0]), (theirs, world.technicians[1])):
        offer = offer_windows(appointment, NOW)[0]
        book(appointment, offer.window_start, technician_id=tech.pk, now=NOW)
        assert Appointment.objects.get(pk=appointment.pk).technician_id == tech.pk
    client = Client()
    client.force_login(world.technicians[0].user)
    listed = client.get("/api/v1/field/appointments").json()
    assert [row["id"] for row in listed] == [mine.pk]
    assert client.get(f"/api/v1/field/appointments/{theirs.pk}").status_code == 404
    assert post(client, f"/field/appointments/{theirs.pk}/arrived").status_code == 404
    arrived = post(client, f"/field/appointments/{mine.pk}/arrived")
    assert arrived.status_code == 200 and arrived.json()["appointment"]["status"] == Status.ON_SITE
    done = post(client, f"/field/appointments/{mine.pk}/complete", {"note": "ok"})
    twice = post(client, f"/field/appointments/{mine.pk}/complete", {"note": "ok"})
    assert done.json()["changed"] is True
    assert twice.status_code == 200 and twice.json()["changed"] is False
    assert "already" in twice.json()["message"]
    # a technician cannot book, and an unassigned technician user cannot report on anyone's job
    assert post(client, f"/field/appointments/{theirs.pk}/cancel", {"reason": "x"}).status_code == 403
    stranger = client_as("technician")
    assert post(stranger, f"/field/appointments/{theirs.pk}/arrived").status_code == 404


def test_roles_without_field_rights_are_refused(
    client_as: Callable[[str], Client], token_for: Callable[[str], str]
) -> None:
    world = build()
    appointment = request(world)
    assert Client().get("/api/v1/field/appointments").status_code == 401
    technician_token = token_for("technician")
    response = Client().get(
        f"/api/v1/field/appointments/{appointment.pk}/offers",
        headers={"Authorization": f"Bearer {technician_token}"},
    )
    assert response.status_code == 403
    assert client_as("agent").get("/api/v1/field/at-risk").status_code == 403
    dispatcher = client_as("dispatcher")
    assert dispatcher.get("/api/v1/field/at-risk").status_code == 200
    report = dispatcher.get("/api/v1/field/report?days=30")
    assert report.status_code == 200 and report.json()["target"] == 0.9
    assert dispatcher.get("/api/v1/field/report?days=0").status_code == 422
