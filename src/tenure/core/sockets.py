"""What every Tenure websocket consumer shares."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import AsyncConsumer

logger = logging.getLogger(__name__)

Message = dict[str, Any]


class ClosedClientSafeConsumer(AsyncConsumer):
    """Drops a frame sent to a client that has just gone, so the consumer still runs its `disconnect`.

    ASGI servers raise an `OSError` on a send to a closed socket, and uvicorn then ends the consumer
    without a word. A handler that happened to be sending as the tab closed would take the consumer down
    with it, and `disconnect` (announcing that an agent left, saving the chat transcript, leaving groups)
    would never run. The server has already queued the `websocket.disconnect` by then, so once the send
    is dropped the consumer reads it next and cleans up as usual.
    """

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        async def send_unless_gone(message: Message) -> None:
            try:
                await send(message)
            except OSError as gone:
                logger.debug("dropped a %s to a closed socket: %s", message.get("type"), gone)

        await super().__call__(scope, receive, send_unless_gone)
