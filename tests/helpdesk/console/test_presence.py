"""The console's socket against a real server: presence, typing, live updates, and who may connect."""

from __future__ import annotations

import json
import re
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from websockets.exceptions import InvalidStatus

from tenure.core.models import Team
from tenure.helpdesk.models import Direction, Request, RequestMessage
from tests.helpdesk.console.asgi_server import SHOP_ORIGIN, asgi_server, of_type, open_socket, read_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with asgi_server(tmp_path) as url:
        yield url


def session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def presence(event: str, name: str) -> Callable[[dict], bool]:
    return lambda f: f.get("type") == "presence" and f["event"] == event and f["name"] == name


def test_agents_see_each_other_viewing_and_typing(server: str, make_staff: Callable[..., User]) -> None:
    ann, bob = make_staff("agent", "ann"), make_staff("agent", "bob")
    team = Team.objects.create(name="Boilers")
    team.members.add(ann, bob)
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as visitor:
        read_until(visitor, of_type("welcome"), "the visitor's welcome")
        visitor.send(json.dumps({"type": "message", "id": "v1", "body": "Is anyone there?"}))
        ack, _ = read_until(visitor, of_type("ack"), "the visitor's acknowledgement")
        request = Request.objects.get(messages__id=ack["message"]["id"])
        Request.objects.filter(pk=request.pk).update(team=team)

        with open_socket(server, "/ws/console/", cookie=session_cookie(ann)) as ann_socket:
            ann_socket.send(json.dumps({"type": "watch", "request": request.pk}))
            with open_socket(server, "/ws/console/", cookie=session_cookie(bob)) as bob_socket:
                bob_socket.send(json.dumps({"type": "watch", "request": request.pk}))
                read_until(ann_socket, presence("join", "bob"), "Bob joining")
                read_until(bob_socket, presence("here", "ann"), "Ann saying she is here")
                bob_socket.send(json.dumps({"type": "typing", "mode": "reply"}))
                typing, _ = read_until(ann_socket, presence("typing", "bob"), "Bob typing")
                assert typing["mode"] == "reply"
                # The visitor is told an agent is typing a reply (never about notes).
                told, _ = read_until(visitor, of_type("typing"), "the visitor hearing of the typing")
                assert told["name"] == "bob"
                # The visitor writes again: both consoles hear of it at once.
                visitor.send(json.dumps({"type": "message", "id": "v2", "body": "Hello?"}))
                read_until(ann_socket, lambda f: f.get("type") == "request.changed", "a live update")
                read_until(ann_socket, lambda f: f.get("type") == "inbox.changed", "an inbox update")
            read_until(ann_socket, presence("leave", "bob"), "Bob leaving")


def test_an_agent_answers_from_the_console_and_the_visitor_sees_it(
    server: str, make_staff: Callable[..., User]
) -> None:
    ann = make_staff("agent", "ann")
    ann.first_name = "Ann"
    ann.save()
    cookie = session_cookie(ann)
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as visitor:
        read_until(visitor, of_type("welcome"), "the visitor's welcome")
        visitor.send(json.dumps({"type": "message", "id": "v1", "body": "Can you come on Friday?"}))
        ack, _ = read_until(visitor, of_type("ack"), "the visitor's acknowledgement")
        request = Request.objects.get(messages__id=ack["message"]["id"])

        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        page_url = f"{server}/console/requests/{request.pk}/"
        get = urllib.request.Request(page_url, headers={"Cookie": cookie})  # noqa: S310 - our own http:// server
        with opener.open(get) as page:
            html = page.read().decode()
            csrf_cookie = next(
                value.split(";", 1)[0]
                for name, value in page.headers.items()
                if name.lower() == "set-cookie" and value.startswith("csrftoken=")
            )
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token is not None
        body = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token.group(1), "body": "Yes, Friday at 10.", "channel": "chat"}
        ).encode()
        post = urllib.request.Request(  # noqa: S310 - our own http:// server
            f"{page_url}reply/",
            data=body,
            headers={"Cookie": f"{cookie}; {csrf_cookie}", "Referer": page_url, "HX-Request": "true"},
        )
        with opener.open(post) as answer:
            assert answer.status == 200 and "Reply sent." in answer.read().decode()
        pushed, _ = read_until(visitor, of_type("message"), "the agent's reply")
    assert pushed["message"]["body"] == "Yes, Friday at 10." and pushed["message"]["author"] == "Ann"
    stored = RequestMessage.objects.get(request=request, direction=Direction.OUTBOUND)
    assert stored.outbound is not None and stored.outbound.channel == "chat"


@pytest.mark.parametrize("role", ["technician", "dispatcher"])
def test_field_roles_and_strangers_cannot_open_the_console_socket(
    server: str, make_staff: Callable[..., User], role: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, "/ws/console/", cookie=session_cookie(make_staff(role)))
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        open_socket(server, "/ws/console/")
    with pytest.raises(InvalidStatus):
        open_socket(
            server, "/ws/console/", cookie=session_cookie(make_staff("agent")), origin="https://evil.example"
        )


def test_an_agent_cannot_watch_another_teams_request(server: str, make_staff: Callable[..., User]) -> None:
    ann = make_staff("agent", "ann")
    billing = Team.objects.create(name="Billing")
    with open_socket(server, "/ws/chat/", origin=SHOP_ORIGIN) as visitor:
        read_until(visitor, of_type("welcome"), "the visitor's welcome")
        visitor.send(json.dumps({"type": "message", "id": "v1", "body": "Billing question"}))
        ack, _ = read_until(visitor, of_type("ack"), "the acknowledgement")
    request = Request.objects.get(messages__id=ack["message"]["id"])
    Request.objects.filter(pk=request.pk).update(team=billing, assignee=None)
    with open_socket(server, "/ws/console/", cookie=session_cookie(ann)) as socket:
        socket.send(json.dumps({"type": "watch", "request": request.pk}))
        refused, _ = read_until(socket, of_type("error"), "the refusal")
    assert "no such request" in refused["message"]
