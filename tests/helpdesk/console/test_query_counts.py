"""Queries per console page are pinned (after NetBox's query_counts.json), so an N+1 fails here first.

The data has more rows than a page holds, with assignees, departments, messages with authors,
attachments and outbox rows, call-backs and timeline events, so any per-row query would multiply.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenure.core.models import Event, Team
from tenure.core.outbox_models import OutboundMessage
from tenure.customers.models import Customer, Identity
from tenure.helpdesk.models import (
    Attachment,
    Callback,
    Department,
    Direction,
    Request,
    RequestMessage,
    Status,
)

pytestmark = pytest.mark.django_db
PINNED = json.loads((Path(__file__).parent / "query_counts.json").read_text())
ROWS = 70


@pytest.fixture
def busy_desk(make_staff) -> tuple[User, int]:  # type: ignore[no-untyped-def]
    agent = make_staff("agent", "ann")
    helper = make_staff("agent", "bob")
    team = Team.objects.create(name="Boilers")
    team.members.add(agent)
    department = Department.objects.order_by("id").first()
    now = timezone.now()
    customers = Customer.objects.bulk_create(Customer(name=f"Customer {n}") for n in range(ROWS))
    Identity.objects.bulk_create(
        Identity(customer=c, channel="email", value=f"c{c.pk}@example.com") for c in customers
    )
    requests = Request.objects.bulk_create(
        Request(
            customer=customers[n],
            subject=f"Question {n}",
            channel="email",
            status=Status.OPEN,
            department=department,
            team=team,
            assignee=agent if n % 2 else helper,
            needs_triage=n % 3 == 0,
            next_due_at=now + dt.timedelta(minutes=n),
            first_response_breached_at=now if n % 4 == 0 else None,
            created_at=now - dt.timedelta(hours=n),
            last_message_at=now - dt.timedelta(minutes=n),
        )
        for n in range(ROWS)
    )
    target = requests[1]
    for request in requests[:3]:
        outbound = OutboundMessage.objects.create(
            customer=request.customer,
            channel="email",
            purpose="transactional",
            body="ok",
            idempotency_key=f"k{request.pk}",
        )
        messages = RequestMessage.objects.bulk_create(
            [
                RequestMessage(
                    request=request, direction=Direction.INBOUND, channel="email", body="help", created_at=now
                ),
                RequestMessage(
                    request=request,
                    direction=Direction.OUTBOUND,
                    channel="email",
                    author=agent,
                    body="ok",
                    outbound=outbound,
                    created_at=now,
                ),
                RequestMessage(
                    request=request,
                    direction=Direction.NOTE,
                    channel="email",
                    author=helper,
                    body="hm",
                    created_at=now,
                ),
            ]
        )
        Attachment.objects.bulk_create(Attachment(message=m, filename="a.pdf", size=10) for m in messages)
    for n in range(ROWS):
        Callback.objects.create(
            request=requests[n], customer=customers[n], owner=agent, due_at=now - dt.timedelta(minutes=n)
        )
    Event.objects.bulk_create(
        Event(customer=target.customer, kind="order.placed", occurred_at=now - dt.timedelta(days=d))
        for d in range(40)
    )
    # Other open items of the same customer.
    Request.objects.bulk_create(
        Request(
            customer=target.customer,
            subject=f"Also {n}",
            channel="sms",
            status=Status.NEW,
            team=team,
            created_at=now,
            last_message_at=now,
        )
        for n in range(5)
    )
    return agent, target.pk


def count(client: Client, url: str, **headers: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    return len(captured.captured_queries), [q["sql"] for q in captured.captured_queries]


def test_queries_per_console_page_are_pinned(busy_desk: tuple[User, int]) -> None:
    agent, request_id = busy_desk
    client = Client()
    client.force_login(agent)
    pages = {
        "inbox": "/console/",
        **{
            f"inbox:{view}": f"/console/?view={view}&page=1"
            for view in (
                "mine",
                "team",
                "unassigned",
                "due-soon",
                "breached",
                "callbacks",
                "triage",
            )
        },
        "inbox:mine:page2": "/console/?view=mine&page=2",
        "inbox:counts": "/console/counts/?view=mine",
        "conversation": f"/console/requests/{request_id}/",
        "thread": f"/console/requests/{request_id}/thread/",
    }
    measured: dict[str, int] = {}
    shown: dict[str, list[str]] = {}
    for name, url in pages.items():
        htmx = name.startswith("inbox:") or name == "thread"
        measured[name], shown[name] = count(client, url, **({"HX-Request": "true"} if htmx else {}))
    wrong = {
        name: (measured[name], PINNED.get(name)) for name in measured if measured[name] != PINNED.get(name)
    }
    details = "\n\n".join(f"{name}:\n" + "\n".join(shown[name]) for name in wrong)
    assert not wrong, f"queries per page changed (measured, pinned): {wrong}\n{details}"
