"""Live chat end to end: a real websocket client against uvicorn serving Tenure on the test database."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection

from tenure.core.models import Event
from tenure.customers.models import Identity
from tenure.helpdesk import services as helpdesk
from tenure.helpdesk.models import Direction, Request, RequestMessage
from tests.core.conftest import wait_until
from tests.helpdesk.console.asgi_server import SHOP_ORIGIN, asgi_server, of_type, open_socket, read_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with asgi_server(tmp_path) as url:
        yield url


def say(socket: ClientConnection, client_id: str, body: str) -> None:
    socket.send(json.dumps({"type": "message", "id": client_id, "body": body}))


def test_a_visitor_chats_identifies_and_comes_back(server: str) -> None:
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as socket:
        welcome, _ = read_until(socket, of_type("welcome"), "the welcome frame")
        assert welcome["messages"] == [] and welcome["identified"] is False
        token = welcome["token"]
        say(socket, "m1", "My boiler is leaking, can someone come today?")
        ack, _ = read_until(socket, of_type("ack"), "the acknowledgement")
        assert ack["id"] == "m1" and ack["message"]["from"] == "visitor"
        socket.send(json.dumps({"type": "identify", "email": " Ada@Example.COM ", "name": "Ada Lovelace"}))
        identified, _ = read_until(socket, of_type("identified"), "the identified frame")
        assert identified["email"] == "ada@example.com"
        # The widget re-sends a line whose acknowledgement it missed: stored once.
        say(socket, "m1", "My boiler is leaking, can someone come today?")
        again, _ = read_until(socket, of_type("ack"), "the second acknowledgement")
        assert again["message"]["id"] == ack["message"]["id"]

    message = RequestMessage.objects.select_related("request__customer").get(pk=ack["message"]["id"])
    assert message.direction == Direction.INBOUND and message.channel == "chat"
    assert RequestMessage.objects.filter(channel="chat").count() == 1
    request = message.request
    assert request.channel == "chat" and request.customer.name == "Ada Lovelace"
    identities = set(Identity.objects.filter(customer=request.customer).values_list("channel", flat=True))
    assert identities == {"chat", "email"}
    assert Event.objects.filter(customer=request.customer, kind="request.received").exists()
    # Closing the socket puts the conversation on the timeline in one piece.
    transcript = wait_until(
        lambda: Event.objects.filter(customer=request.customer, kind="chat.transcript").first(),
        "the transcript event",
    )
    assert [line["body"] for line in transcript.payload["lines"]] == [message.body]
    assert transcript.payload["requests"] == [request.pk]

    with open_socket(server, f"/ws/chat/?token={token}", origin=SHOP_ORIGIN) as socket:
        welcome, _ = read_until(socket, of_type("welcome"), "the welcome back")
        assert welcome["identified"] is True and welcome["renewed"] is False
        assert [m["body"] for m in welcome["messages"]] == [message.body]


def test_an_agent_reply_reaches_the_visitor_and_goes_through_the_outbox(server: str) -> None:
    agent = User.objects.create_user("ann", first_name="Ann", password="x" * 12)
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as socket:
        read_until(socket, of_type("welcome"), "the welcome frame")
        say(socket, "q1", "Do you service heat pumps?")
        ack, _ = read_until(socket, of_type("ack"), "the acknowledgement")
        request = Request.objects.get(messages__id=ack["message"]["id"])
        # Written by another process than the server's: it reaches the socket by the socket's own poll.
        answer = helpdesk.reply(request=request, author=agent, body="Yes, every make.", channel="chat")
        pushed, _ = read_until(
            socket, lambda f: f.get("type") == "message" and f["message"]["from"] == "agent", "the reply"
        )
    assert pushed["message"] == {
        "id": answer.pk,
        "from": "agent",
        "author": "Ann",
        "body": "Yes, every make.",
        "at": answer.created_at.isoformat(),
    }
    outbound = answer.outbound
    assert outbound is not None
    assert outbound.channel == "chat" and outbound.body == "Yes, every make."


def test_a_flood_is_refused_frame_by_frame_and_every_line_arrives_once(server: str) -> None:
    lines = {f"f{n}": f"line {n}" for n in range(15)}
    acked: dict[str, int] = {}
    refused: list[dict] = []
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as socket:
        read_until(socket, of_type("welcome"), "the welcome frame")
        waiting = dict(lines)
        while waiting:
            for client_id, body in waiting.items():
                say(socket, client_id, body)
            retry_after = 0.0
            for _ in range(len(waiting)):
                frame, _ = read_until(socket, lambda f: f.get("type") in ("ack", "error"), "an answer")
                if frame["type"] == "ack":
                    acked[frame["id"]] = frame["message"]["id"]
                    waiting.pop(frame["id"], None)
                else:
                    assert frame["code"] == "rate_limited" and frame["id"] in lines, frame
                    assert frame["retry_after"] > 0 and frame["message"]
                    refused.append(frame)
                    retry_after = max(retry_after, frame["retry_after"])
            time.sleep(retry_after)
        # The socket is still fine after the flood: it answers, and takes a line once the limit allows.
        socket.send(json.dumps({"type": "typing"}))
        say(socket, "after", "still there?")
        frame, _ = read_until(socket, lambda f: f.get("id") == "after", "an answer after the flood")
        if frame["type"] == "error":
            time.sleep(frame["retry_after"])
            say(socket, "after", "still there?")
            frame, _ = read_until(socket, lambda f: f.get("id") == "after", "a second answer")
        assert frame["type"] == "ack"
    assert refused, "fifteen lines at once must meet the rate limit"
    assert set(acked) == set(lines)
    stored = RequestMessage.objects.filter(channel="chat", direction=Direction.INBOUND)
    assert sorted(stored.exclude(body="still there?").values_list("body", flat=True)) == sorted(
        lines.values()
    )


def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(server: str) -> None:
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as socket:
        read_until(socket, of_type("welcome"), "the welcome frame")
        for raw, code in [
            ("not json", "invalid"),
            (json.dumps({"type": "shout"}), "invalid"),
            (json.dumps({"type": "message", "id": "big", "body": "x" * 5000}), "too_long"),
            (json.dumps({"type": "identify", "email": "not-an-address"}), "invalid"),
            (json.dumps({"type": "message", "id": "s1", "body": "<script>alert(1)</script>"}), None),
            (json.dumps({"type": "message", "id": "z1", "body": "nul \u0000 inside"}), None),
        ]:
            socket.send(raw)
            frame, _ = read_until(
                socket, lambda f: f.get("type") in ("error", "ack"), f"an answer to {raw[:30]}"
            )
            if code is None:
                assert frame["type"] == "ack"
            else:
                assert frame["type"] == "error" and frame["code"] == code and frame["message"], frame
        socket.send(b"\x00\x01binary")
        frame, _ = read_until(socket, of_type("error"), "an answer to a binary frame")
        assert frame["code"] == "invalid"
    # Stored as text, shown escaped: nothing in a message is ever run.
    bodies = sorted(RequestMessage.objects.filter(channel="chat").values_list("body", flat=True))
    assert bodies == ["<script>alert(1)</script>", "nul \ufffd inside"]
    assert not Identity.objects.filter(channel="email").exists()


def test_unknown_sites_are_refused_and_a_forged_token_sees_nothing(server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, "/ws/chat/", origin="https://evil.example")
    assert refused.value.response.status_code == 403

    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as socket:
        welcome, _ = read_until(socket, of_type("welcome"), "the first visitor's welcome")
        say(socket, "p1", "my account number is 12345")
        read_until(socket, of_type("ack"), "the acknowledgement")
    forged = welcome["token"][:-3] + "abc"
    with open_socket(server, f"/ws/chat/?token={forged}", origin=SHOP_ORIGIN) as socket:
        other, _ = read_until(socket, of_type("welcome"), "the forger's welcome")
    assert other["renewed"] is True and other["token"] != welcome["token"]
    assert other["messages"] == []
