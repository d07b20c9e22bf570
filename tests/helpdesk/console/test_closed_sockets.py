"""A tab that closes while its socket is being written to still cleans up after itself.

ASGI servers raise an `OSError` when an application sends to a socket the client has closed (uvicorn's
`ClientDisconnected`), and queue a `websocket.disconnect` for it. The race with a real server is a matter of
milliseconds, so here each consumer runs against a small ASGI server of the test's own that keeps that
contract exactly: once its client is gone, a send raises and the disconnect is waiting in the queue.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser, User

from tenure.core.models import Event
from tenure.helpdesk.console.consumers import ConsoleConsumer
from tenure.helpdesk.models import Request
from tenure.inbox.chat import live
from tenure.inbox.consumers import ChatConsumer
from tests.helpdesk.console.conftest import Desk

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
WAIT_SECONDS = 30.0  # a guard against hangs, not a speed check


class ClientGone(OSError):
    """What the server raises on a send to a closed socket."""


class AsgiSocket:
    """One websocket connection as an ASGI server sees it, for one consumer."""

    def __init__(self, consumer: type[AsyncConsumer], path: str, user: User | AnonymousUser) -> None:
        self.scope = {"type": "websocket", "path": path, "query_string": b"", "headers": [], "user": user}
        self.incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.gone = False
        self.refused_sends = 0
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.consumer = asyncio.create_task(consumer.as_asgi()(self.scope, self.incoming.get, self._send))

    async def _send(self, message: dict[str, Any]) -> None:
        if self.gone:
            self.refused_sends += 1
            raise ClientGone("the client closed the socket")
        if message["type"] == "websocket.send":
            await self.frames.put(json.loads(message["text"]))

    def say(self, frame: dict[str, Any]) -> None:
        self.incoming.put_nowait({"type": "websocket.receive", "text": json.dumps(frame)})

    async def read_until(self, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(WAIT_SECONDS):
            while not wanted(frame := await self.frames.get()):
                pass
        return frame

    def close_abruptly(self) -> None:
        """The tab dies: sends fail from now on, and the disconnect waits behind whatever is in flight."""
        self.gone = True
        self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1006})


def run_on_own_loop(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """`asyncio.run` in a thread of its own: the browser tests' driver may hold a loop in this one."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, scenario()).result()


def console(user: User) -> AsgiSocket:
    return AsgiSocket(ConsoleConsumer, "/ws/console/", user)


def presence(event: str, name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("type") == "presence" and f["event"] == event and f["name"] == name


def test_an_agent_whose_tab_dies_mid_send_is_seen_leaving(desk: Desk) -> None:
    desk.boilers.members.add(desk.bob)
    request = desk.request(team=desk.boilers)

    async def scenario() -> int:
        ann_socket, bob_socket = console(desk.ann), console(desk.bob)
        ann_socket.say({"type": "watch", "request": request.pk})
        await asyncio.sleep(0)
        bob_socket.say({"type": "watch", "request": request.pk})
        await ann_socket.read_until(presence("join", "bob"))
        # Bob's tab closes just as news of the inbox arrives for it: the send of that news fails.
        bob_socket.gone = True
        await live.poke(live.INBOX_GROUP, "inbox.changed", request=request.pk)
        await ann_socket.read_until(lambda f: f.get("type") == "inbox.changed")
        bob_socket.close_abruptly()
        await ann_socket.read_until(presence("leave", "bob"))
        async with asyncio.timeout(WAIT_SECONDS):
            await bob_socket.consumer
        ann_socket.incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
        async with asyncio.timeout(WAIT_SECONDS):
            await ann_socket.consumer
        return bob_socket.refused_sends

    assert run_on_own_loop(scenario) >= 1
    # Both sockets left their groups: nothing is kept for a tab that is gone.
    layer = get_channel_layer()
    assert not layer.groups.get(live.request_group(request.pk)) and not layer.groups.get(live.INBOX_GROUP)


def test_a_chat_closed_mid_send_still_lands_on_the_timeline() -> None:
    async def scenario() -> AsgiSocket:
        visitor = AsgiSocket(ChatConsumer, "/ws/chat/", AnonymousUser())
        await visitor.read_until(lambda f: f.get("type") == "welcome")
        visitor.say({"type": "message", "id": "v1", "body": "Is the engineer still coming today?"})
        ack = await visitor.read_until(lambda f: f.get("type") == "ack")
        # The widget closes just as an agent starts typing: telling it so fails.
        visitor.gone = True
        request_id = await database_sync_to_async(
            lambda: Request.objects.get(messages__id=ack["message"]["id"]).pk
        )()
        await live.poke(live.chat_group(request_id), "chat.typing", name="Ann")
        visitor.close_abruptly()
        async with asyncio.timeout(WAIT_SECONDS):
            await visitor.consumer
        return visitor

    visitor = run_on_own_loop(scenario)
    assert visitor.refused_sends >= 1
    transcript = Event.objects.get(kind="chat.transcript")
    assert [line["body"] for line in transcript.payload["lines"]] == ["Is the engineer still coming today?"]
