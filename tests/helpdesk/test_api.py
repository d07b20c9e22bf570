"""The help desk API: who may do what, JSON errors that name the field, the reply and status round trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tenure.customers.models import Customer
from tenure.helpdesk import services
from tenure.helpdesk.models import Direction, Macro, Request, RequestMessage, StaffNotification, Status
from tenure.helpdesk.notify import notify

pytestmark = pytest.mark.django_db
BASE = "/api/v1/helpdesk"


def call(client: Client, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if body is None:
        return getattr(client, method)(BASE + path, **headers)
    return getattr(client, method)(
        BASE + path, data=json.dumps(body), content_type="application/json", **headers
    )


def test_agent_logs_a_contact_replies_notes_and_resolves(
    token_for: Callable[[str], str], customer: Customer
) -> None:
    client, token = Client(), token_for("agent")
    created = call(
        client,
        "post",
        "/requests",
        token,
        {"customer_id": customer.pk, "channel": "phone", "subject": "Heater", "body": "Heater makes a bang"},
    )
    assert created.status_code == 201, created.content
    request_id = created.json()["request"]["id"]
    assert created.json()["created"] is True

    listed = call(client, "get", "/requests?view=open", token)
    assert listed.status_code == 200 and [r["id"] for r in listed.json()["items"]] == [request_id]

    answered = call(
        client, "post", f"/requests/{request_id}/reply", token, {"body": "A technician calls today."}
    )
    assert answered.status_code == 201 and answered.json()["direction"] == "out"
    sent = RequestMessage.objects.select_related("outbound").get(pk=answered.json()["id"])
    assert sent.outbound is not None and sent.outbound.channel == "sms"

    note = call(client, "post", f"/requests/{request_id}/notes", token, {"body": "Customer sounded worried"})
    assert note.status_code == 201 and note.json()["direction"] == Direction.NOTE

    waiting = call(client, "post", f"/requests/{request_id}/status", token, {"status": "waiting"})
    assert waiting.status_code == 200 and waiting.json()["status"] == "waiting"
    assert Request.objects.get(pk=request_id).sla_paused_at is not None
    resolved = call(client, "post", f"/requests/{request_id}/status", token, {"status": "resolved"})
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_at"]

    detail = call(client, "get", f"/requests/{request_id}", token).json()
    assert [m["direction"] for m in detail["messages"]] == ["in", "out", "note"]


def test_bad_input_gets_json_errors_naming_the_field(
    token_for: Callable[[str], str], customer: Customer
) -> None:
    client, token = Client(), token_for("agent")
    unknown = call(
        client, "post", "/requests", token, {"customer_id": 999999, "channel": "email", "body": "x"}
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "customer_id"
    bad_channel = call(
        client, "post", "/requests", token, {"customer_id": customer.pk, "channel": "fax", "body": "x"}
    )
    assert bad_channel.status_code == 422 and bad_channel.json()["errors"][0]["field"] == "channel"
    made = call(
        client, "post", "/requests", token, {"customer_id": customer.pk, "channel": "email", "body": "hi"}
    )
    request_id = made.json()["request"]["id"]
    empty = call(client, "post", f"/requests/{request_id}/reply", token, {"body": "  "})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    wrong = call(client, "post", f"/requests/{request_id}/status", token, {"status": "closed"})
    assert wrong.status_code == 200
    back = call(client, "post", f"/requests/{request_id}/status", token, {"status": "waiting"})
    assert back.status_code == 422 and back.json()["errors"][0]["field"] == "status"
    assert Request.objects.get(pk=request_id).status == Status.CLOSED  # nothing lost or changed
    missing = call(client, "get", "/requests/424242", token)
    assert missing.status_code == 404


@pytest.mark.parametrize("role", ["dispatcher", "technician"])
def test_field_roles_cannot_see_or_work_requests(
    token_for: Callable[[str], str], role: str, customer: Customer
) -> None:
    client, token = Client(), token_for(role)
    assert call(client, "get", "/requests", token).status_code == 403
    denied = call(
        client, "post", "/requests", token, {"customer_id": customer.pk, "channel": "email", "body": "x"}
    )
    assert denied.status_code == 403
    assert Request.objects.count() == 0


def test_reports_are_for_managers_and_strangers_get_401(token_for: Callable[[str], str]) -> None:
    client = Client()
    assert call(client, "get", "/metrics", token_for("agent")).status_code == 403
    report = call(client, "get", "/metrics?days=7", token_for("manager"))
    assert report.status_code == 200 and report.json()["requests"] == 0
    assert call(client, "get", "/requests").status_code == 401
    assert call(client, "get", "/requests", "tnr_not-a-token").status_code == 401


def test_macro_reply_renders_variables_and_applies_its_changes(
    token_for: Callable[[str], str], customer: Customer
) -> None:
    client, token = Client(), token_for("agent")
    macro = Macro.objects.create(
        name="Refund done",
        body="Hi {{ customer_first_name }}, your refund for {{ request_number }} is on its way. {{ agent_name }}",
        set_status="resolved",
        add_tags="refund",
    )
    made = call(
        client,
        "post",
        "/requests",
        token,
        {"customer_id": customer.pk, "channel": "email", "body": "refund?"},
    )
    request_id = made.json()["request"]["id"]
    sent = call(client, "post", f"/requests/{request_id}/reply", token, {"macro_id": macro.pk})
    assert sent.status_code == 201
    assert (
        sent.json()["body"] == f"Hi Jane, your refund for R-{request_id:06d} is on its way. agent-integration"
    )
    request = Request.objects.get(pk=request_id)
    assert request.status == Status.RESOLVED and [t.name for t in request.tags.all()] == ["refund"]


def test_agents_read_only_their_own_notifications(
    token_for: Callable[[str], str], make_staff: Callable[..., User], customer: Customer
) -> None:
    client, token = Client(), token_for("agent")
    me = User.objects.get(username="agent-integration")
    other = make_staff("agent", "other")
    request = services.receive_message(customer=customer, channel="email", body="hi").request
    notify([me], kind="sla.warning", request=request, text="due soon", key="k1")
    notify([other], kind="sla.warning", request=request, text="not yours", key="k1")
    mine = call(client, "get", "/notifications", token).json()
    assert [n["text"] for n in mine] == ["due soon"]
    theirs = StaffNotification.objects.get(user=other)
    assert call(client, "post", f"/notifications/{theirs.pk}/read", token).status_code == 404
    read = call(client, "post", f"/notifications/{mine[0]['id']}/read", token)
    assert read.status_code == 200 and read.json()["read_at"]
    assert call(client, "get", "/notifications", token).json() == []
    assert StaffNotification.objects.get(pk=theirs.pk).read_at is None
