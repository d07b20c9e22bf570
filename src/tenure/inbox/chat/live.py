"""Channel-layer groups shared by the chat widget's sockets and the agent console, and how to poke them.

A poke only says "look again": sockets read what changed from the database, so a poke that never arrives
(another process on the in-memory layer) costs a short delay until the next poll, never a lost message.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

INBOX_GROUP = "console.inbox"


def request_group(request_id: int) -> str:
    """Agents' consoles open on one request."""
    return f"console.request.{request_id}"


def chat_group(request_id: int) -> str:
    """Visitors' widgets talking on one request."""
    return f"chat.request.{request_id}"


async def poke(group: str, kind: str, **data: Any) -> None:
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, {"type": kind, **data})


def poke_after_commit(group: str, kind: str, **data: Any) -> None:
    """From synchronous code (views, services): poke once the current transaction has committed."""

    def send() -> None:
        async_to_sync(poke)(group, kind, **data)

    transaction.on_commit(send)
