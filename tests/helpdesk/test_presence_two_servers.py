"""Two web processes sharing a Redis channel layer: agents on different processes see each other."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tenure.core.models import Team
from tenure.helpdesk.models import Request
from tests.helpdesk.console.asgi_server import SHOP_ORIGIN, asgi_server, of_type, open_socket, read_until
from tests.helpdesk.console.test_presence import presence, session_cookie
from tests.missing import missing

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = ("127.0.0.1", 6379)


def redis_layer() -> dict[str, str]:
    """Environment for a server on the local Redis; skips (fails in CI) when none is listening."""
    with socket.socket() as probe:
        if probe.connect_ex(REDIS) != 0:
            missing("Redis is not running on 127.0.0.1:6379")
    return {
        "TENURE_CHANNEL_LAYER": "channels_redis.core.RedisChannelLayer",
        "TENURE_CHANNEL_LAYER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/9",
    }


def bob_is_there(frame: dict) -> bool:
    return presence("join", "bob")(frame) or presence("here", "bob")(frame)


def test_agents_on_two_web_processes_see_each_other(tmp_path: Path, make_staff: Callable[..., User]) -> None:
    layer = redis_layer()
    ann, bob = make_staff("agent", "ann"), make_staff("agent", "bob")
    team = Team.objects.create(name="Boilers")
    team.members.add(ann, bob)
    with (
        asgi_server(tmp_path, **layer) as first,
        asgi_server(tmp_path, **layer) as second,
        open_socket(first, "/ws/chat/", origin=SHOP_ORIGIN) as visitor,
    ):
        read_until(visitor, of_type("welcome"), "the visitor's welcome")
        visitor.send(json.dumps({"type": "message", "id": "v1", "body": "Is anyone there?"}))
        ack, _ = read_until(visitor, of_type("ack"), "the visitor's acknowledgement")
        request = Request.objects.get(messages__id=ack["message"]["id"])
        Request.objects.filter(pk=request.pk).update(team=team)

        with (
            open_socket(first, "/ws/console/", cookie=session_cookie(ann)) as ann_socket,
            open_socket(second, "/ws/console/", cookie=session_cookie(bob)) as bob_socket,
        ):
            ann_socket.send(json.dumps({"type": "watch", "request": request.pk}))
            bob_socket.send(json.dumps({"type": "watch", "request": request.pk}))
            # Whichever watch lands first, Ann hears of Bob: "join" if she was there first, else "here".
            read_until(ann_socket, bob_is_there, "Bob on the other process")
            bob_socket.send(json.dumps({"type": "typing", "mode": "reply"}))
            read_until(ann_socket, presence("typing", "bob"), "Bob typing on the other process")
            # The visitor, connected to the first process, hears of the typing on the second.
            told, _ = read_until(visitor, of_type("typing"), "the visitor hearing of the typing")
            assert told["name"] == "bob"
