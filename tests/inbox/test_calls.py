"""Phone calls: the log_call service and the API endpoint for telephony systems (token auth, role checks)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from tenure.core.models import Event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.helpdesk.models import Request, RequestMessage
from tenure.inbox.calls import log_call
from tenure.inbox.models import CallRecord

pytestmark = pytest.mark.django_db

URL = "/api/v1/inbox/calls"


def post(token: str, payload: dict[str, Any]) -> Any:
    return Client().post(
        URL, json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_log_call_lands_on_timeline_and_request(make_staff: Callable[..., User]) -> None:
    agent = make_staff("agent")
    customer = create_customer(name="Ada", identities=[("phone", "+12025550143")])
    at = timezone.now() - dt.timedelta(minutes=10)
    record, created = log_call(
        customer=customer,
        direction="inbound",
        duration=185,
        outcome="callback_promised",
        notes="Boiler pressure drops overnight; call back after the part arrives.",
        agent=agent,
        occurred_at=at,
        external_id="pbx-1",
    )
    assert created and record.request_id is not None
    message = RequestMessage.objects.get(request_id=record.request_id)
    assert message.channel == "phone"
    assert message.body.startswith("Inbound call, 3:05, callback promised")
    assert "Boiler pressure drops overnight" in message.body
    event = Event.objects.get(customer=customer, kind="call.logged")
    assert event.payload["duration_seconds"] == 185 and event.actor == f"staff:{agent.username}"
    again, created_again = log_call(
        customer=customer, direction="inbound", duration=185, outcome="callback_promised", external_id="pbx-1"
    )
    assert again == record and not created_again
    assert CallRecord.objects.count() == 1 and RequestMessage.objects.filter(direction="in").count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"duration": -1}, "duration"),
        ({"outcome": "exploded"}, "outcome"),
        ({"occurred_at": timezone.now() + dt.timedelta(days=1)}, "occurred_at"),
    ],
)
def test_log_call_rejects_bad_values(changes: dict[str, Any], field: str) -> None:
    customer = create_customer(name="Ada")
    values: dict[str, Any] = {"direction": "outbound", "duration": 60, "outcome": "answered", **changes}
    with pytest.raises(ValidationError) as raised:
        log_call(customer=customer, **values)
    assert field in raised.value.message_dict
    assert not CallRecord.objects.exists() and not Request.objects.exists()


def test_api_records_a_call_by_phone_number(
    token_for: Callable[[str], str], make_staff: Callable[..., User]
) -> None:
    make_staff("agent", "maria")
    payload = {
        "phone": "(202) 555-0143",
        "direction": "inbound",
        "duration": 42,
        "outcome": "answered",
        "notes": "Asked about the invoice.",
        "agent": "maria",
        "occurred_at": "2026-03-02T09:30:00+01:00",
        "external_id": "pbx-77",
    }
    token = token_for("agent")
    response = post(token, payload)
    assert response.status_code == 201, response.content
    body = response.json()
    customer = Customer.objects.get(identities__value="+12025550143")
    assert body["customer_id"] == customer.pk and body["created"] is True and body["request_id"]
    assert CallRecord.objects.get().agent.username == "maria"
    repeated = post(token, payload)
    assert repeated.status_code == 200 and repeated.json()["id"] == body["id"]


def test_api_needs_a_token_and_the_right_role(token_for: Callable[[str], str]) -> None:
    customer = create_customer(name="Ada")
    payload = {"customer_id": customer.pk, "direction": "outbound", "duration": 5, "outcome": "no_answer"}
    anonymous = Client().post(URL, json.dumps(payload), content_type="application/json")
    assert anonymous.status_code == 401
    for role in ("technician", "dispatcher"):
        denied = post(token_for(role), payload)
        assert denied.status_code == 403, role
        assert "inbox.add_callrecord" in denied.json()["errors"][0]["message"]
    assert post(token_for("manager"), payload).status_code == 201
    assert CallRecord.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"direction": "inbound", "duration": 5, "outcome": "answered"}, "phone"),
        ({"phone": "12", "direction": "inbound", "duration": 5, "outcome": "answered"}, "phone"),
        (
            {"customer_id": 999999, "direction": "inbound", "duration": 5, "outcome": "answered"},
            "customer_id",
        ),
        (
            {"phone": "+12025550143", "direction": "inbound", "duration": -5, "outcome": "answered"},
            "duration",
        ),
        ({"phone": "+12025550143", "direction": "up", "duration": 5, "outcome": "answered"}, "direction"),
        (
            {
                "phone": "+12025550143",
                "direction": "inbound",
                "duration": 5,
                "outcome": "answered",
                "agent": "ghost",
            },
            "agent",
        ),
    ],
)
def test_api_errors_name_the_field_and_store_nothing(
    token_for: Callable[[str], str], payload: dict[str, Any], field: str
) -> None:
    response = post(token_for("agent"), payload)
    assert response.status_code == 422, response.content
    assert field in [error["field"] for error in response.json()["errors"]]
    assert not Customer.objects.exists() and not CallRecord.objects.exists()
