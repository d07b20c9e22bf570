"""The console's pages and actions through Django's test client, with the role and team checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tenure.core.outbox_models import OutboundMessage
from tenure.helpdesk.models import Callback, Direction, Macro, RequestMessage, Status
from tenure.inbox.models import CallRecord
from tests.helpdesk.console.conftest import Desk, soon

pytestmark = pytest.mark.django_db


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(client: Client, view: str) -> list[int]:
    response = client.get("/console/", {"view": view}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    return [int(part.split('"', 1)[0]) for part in html.split('data-request="')[1:]]


def test_saved_views_show_the_right_requests(desk: Desk) -> None:
    mine = desk.request(team=desk.boilers, assignee=desk.ann)
    team = desk.request(team=desk.boilers)
    nobody = desk.request()
    other_team = desk.request(team=desk.billing)
    due = desk.request(team=desk.boilers, assignee=desk.ann, next_due_at=soon(1))
    breached = desk.request(assignee=desk.ann, first_response_breached_at=timezone.now())
    triage = desk.request(needs_triage=True, assignee=desk.bob)
    done = desk.request(team=desk.boilers, assignee=desk.ann, status=Status.RESOLVED)
    Callback.objects.create(
        request=team, customer=desk.ada, owner=desk.ann, due_at=soon(-1), note="ring back"
    )
    client = login(desk.ann)

    assert set(rows(client, "mine")) == {mine.pk, due.pk, breached.pk}
    assert set(rows(client, "team")) == {mine.pk, team.pk, due.pk}
    assert set(rows(client, "unassigned")) == {team.pk, nobody.pk}
    assert rows(client, "due-soon") == [due.pk]
    assert rows(client, "breached") == [breached.pk]
    assert rows(client, "triage") == [triage.pk]
    assert done.pk not in rows(client, "mine")
    # Bob's team's request is in nobody's view of Ann's, and its page is not found for her.
    assert all(other_team.pk not in rows(client, v) for v in ("mine", "team", "unassigned", "breached"))
    assert client.get(f"/console/requests/{other_team.pk}/").status_code == 404
    callbacks = client.get("/console/", {"view": "callbacks"})
    assert callbacks.status_code == 200 and "ring back" in callbacks.content.decode()

    full = client.get("/console/", {"view": "nonsense"})
    assert full.status_code == 200 and "Mine" in full.content.decode()


def test_managers_see_every_team(desk: Desk, make_staff: Callable[..., User]) -> None:
    other_team = desk.request(team=desk.billing)
    client = login(make_staff("manager"))
    assert other_team.pk in rows(client, "unassigned")
    assert client.get(f"/console/requests/{other_team.pk}/").status_code == 200


@pytest.mark.parametrize("role", ["technician", "dispatcher"])
def test_field_roles_have_no_console(desk: Desk, make_staff: Callable[..., User], role: str) -> None:
    request = desk.request()
    client = login(make_staff(role))
    assert client.get("/console/").status_code == 403
    assert client.get(f"/console/requests/{request.pk}/").status_code == 403
    assert (
        client.post(f"/console/requests/{request.pk}/reply/", {"body": "hi", "channel": "email"}).status_code
        == 403
    )
    assert not RequestMessage.objects.filter(direction=Direction.OUTBOUND).exists()


def test_strangers_are_sent_to_sign_in(desk: Desk) -> None:
    response = Client().get("/console/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_conversation_shows_the_thread_open_items_and_timeline(desk: Desk) -> None:
    request = desk.request(team=desk.boilers, assignee=desk.ann, body="The boiler <b>leaks</b>")
    other = desk.request(team=desk.boilers)
    Callback.objects.create(request=other, customer=desk.ada, due_at=soon(2))
    page = login(desk.ann).get(f"/console/requests/{request.pk}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "The boiler &lt;b&gt;leaks&lt;/b&gt;" in html
    assert other.reference in html and "Call-back due" in html
    assert 'data-kind="request.received"' in html
    # Replies are offered on the channels Ada has: e-mail and SMS, not chat.
    assert (
        '<option value="email"' in html
        and '<option value="sms"' in html
        and '<option value="chat"' not in html
    )


def test_reply_note_status_assign_and_call(desk: Desk) -> None:
    request = desk.request(team=desk.boilers, assignee=desk.ann)
    client = login(desk.ann)
    base = f"/console/requests/{request.pk}"

    response = client.post(
        f"{base}/reply/", {"body": "We will come at 3.", "channel": "sms"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "Reply sent." in response.content.decode()
    reply = RequestMessage.objects.get(request=request, direction=Direction.OUTBOUND)
    assert reply.channel == "sms" and reply.author == desk.ann
    assert reply.outbound is not None and reply.outbound.channel == "sms"

    assert client.post(f"{base}/note/", {"body": "Customer sounded worried"}).status_code == 302
    assert RequestMessage.objects.filter(
        request=request, direction=Direction.NOTE, body="Customer sounded worried"
    ).exists()

    client.post(f"{base}/assign/", {"assignee": desk.bob.pk})
    client.post(f"{base}/status/", {"status": "waiting"})
    request.refresh_from_db()
    assert request.assignee == desk.bob and request.status == Status.WAITING

    response = client.post(
        f"{base}/call/",
        {
            "direction": "outbound",
            "minutes": 4,
            "seconds": 30,
            "outcome": "answered",
            "notes": "Confirmed 3pm",
        },
    )
    assert response.status_code == 302
    call = CallRecord.objects.get(customer=desk.ada)
    assert call.duration_seconds == 270 and call.agent == desk.ann


def test_bad_input_is_a_form_error_and_stores_nothing(desk: Desk) -> None:
    request = desk.request(team=desk.boilers, assignee=desk.ann)
    client = login(desk.ann)
    base = f"/console/requests/{request.pk}"
    before = RequestMessage.objects.count(), OutboundMessage.objects.count()

    no_body = client.post(f"{base}/reply/", {"body": "  ", "channel": "email"})
    assert no_body.status_code == 422 and "This field is required" in no_body.content.decode()
    # Ada has no chat address: chat is not a channel she can be answered on.
    no_chat = client.post(
        f"{base}/reply/", {"body": "hello", "channel": "chat"}, headers={"HX-Request": "true"}
    )
    assert no_chat.status_code == 200 and "Select a valid choice" in no_chat.content.decode()
    assert client.post(f"{base}/status/", {"status": "exploded"}).status_code == 422
    assert (
        client.post(
            f"{base}/call/", {"direction": "sideways", "minutes": -1, "seconds": 99, "outcome": "x"}
        ).status_code
        == 422
    )
    assert client.post(f"{base}/assign/", {"assignee": 99999}).status_code == 422
    assert (RequestMessage.objects.count(), OutboundMessage.objects.count()) == before
    assert not CallRecord.objects.exists()
    request.refresh_from_db()
    assert request.status != "exploded" and request.assignee == desk.ann


def test_macros_fill_the_reply_box_or_apply_at_once(desk: Desk) -> None:
    request = desk.request(team=desk.boilers, assignee=desk.ann)
    macro = Macro.objects.create(
        name="Thanks", body="Hi {{ customer_first_name }}, about {{ request_number }}.", set_status="resolved"
    )
    client = login(desk.ann)
    base = f"/console/requests/{request.pk}"
    filled = client.get(f"{base}/macro/", {"macro": macro.pk})
    assert f"Hi Ada, about {request.reference}." in filled.content.decode()
    assert not RequestMessage.objects.filter(direction=Direction.OUTBOUND).exists()

    client.post(f"{base}/apply-macro/", {"macro": macro.pk, "channel": "email"})
    request.refresh_from_db()
    assert request.status == Status.RESOLVED
    assert (
        RequestMessage.objects.get(direction=Direction.OUTBOUND).body == f"Hi Ada, about {request.reference}."
    )


def test_widget_page_gives_the_one_tag(desk: Desk) -> None:
    html = login(desk.ann).get("/console/chat-widget/").content.decode()
    assert "/static/inbox/chat.js" in html and "TENURE_CHAT_ORIGINS" in html
