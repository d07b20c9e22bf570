"""The live-chat socket: one per open widget. Visitors talk here; agents' replies are pushed back.

Every visitor frame is checked (`chat.frames`) and rate limited per connection before it reaches the
database; a refused frame gets an error frame naming why (and, for a message, its id, so the widget
keeps it and sends it again after `retry_after`). The socket stays open either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import ValidationError

from tenure.core.sockets import ClosedClientSafeConsumer
from tenure.inbox.chat import conversation, live
from tenure.inbox.chat.frames import FrameError, Identify, Say, Typing, parse
from tenure.inbox.chat.ratelimit import TokenBucket
from tenure.inbox.chat.tokens import new_visitor, visitor_from_token

logger = logging.getLogger(__name__)

# Any frame: bursts of 20, then 5 a second. Messages: bursts of 5, then one a second.
FRAME_BURST, FRAMES_PER_SECOND = 20, 5.0
MESSAGE_BURST, MESSAGES_PER_SECOND = 5, 1.0
RETRY_AFTER_FAILURE_SECONDS = 5.0
# Replies written in another process (on the in-memory layer no poke reaches us) show up within this.
POLL_SECONDS = 3.0


class ChatConsumer(ClosedClientSafeConsumer, AsyncWebsocketConsumer):
    visitor_id: str
    request_id: int | None = None
    last_reply_id: int = 0

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        token = (query.get("token") or [""])[0]
        visitor_id = visitor_from_token(token)
        renewed = visitor_id is None
        if visitor_id is None:
            visitor_id, token = new_visitor()
        self.visitor_id = visitor_id
        self.session = uuid.uuid4().hex
        self.lines: list[dict[str, Any]] = []
        self.frames = TokenBucket(FRAME_BURST, FRAMES_PER_SECOND)
        self.messages = TokenBucket(MESSAGE_BURST, MESSAGES_PER_SECOND)
        self.check = asyncio.Lock()
        await self.accept()
        resumed = await database_sync_to_async(conversation.resume)(visitor_id)
        self.request_id = None
        self.last_reply_id = resumed.last_id
        await self._follow(resumed.request_id)
        await self._send(
            {
                "type": "welcome",
                "token": token,
                "renewed": renewed and bool(query.get("token")),
                "identified": resumed.identified,
                "messages": resumed.messages,
            }
        )
        self.poller = asyncio.create_task(self._poll())

    async def disconnect(self, code: int) -> None:
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        if self.request_id is not None:
            await self.channel_layer.group_discard(live.chat_group(self.request_id), self.channel_name)
        if getattr(self, "lines", None):
            await database_sync_to_async(conversation.record_transcript)(
                self.visitor_id, self.session, self.lines
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        flooding = self.frames.take()
        try:
            frame = parse(text_data)
        except FrameError as error:
            await self._refuse(error)
            return
        client_id = frame.client_id if isinstance(frame, Say) else ""
        if flooding:
            await self._refuse(self._too_fast(flooding, client_id))
            return
        if isinstance(frame, Say):
            if wait := self.messages.take():
                await self._refuse(self._too_fast(wait, client_id))
                return
            await self._say(frame)
        elif isinstance(frame, Identify):
            await self._identify(frame)
        elif isinstance(frame, Typing) and self.request_id is not None:
            await live.poke(live.request_group(self.request_id), "presence.typing", who="visitor", name="")

    @staticmethod
    def _too_fast(wait: float, client_id: str) -> FrameError:
        return FrameError(
            "rate_limited",
            "too many messages at once; this one was not taken, send it again after retry_after seconds",
            client_id=client_id,
            retry_after=round(wait + 0.05, 2),
        )

    async def _refuse(self, error: FrameError) -> None:
        await self._send(error.frame())

    async def _say(self, frame: Say) -> None:
        try:
            said = await database_sync_to_async(conversation.receive)(
                self.visitor_id, frame.client_id, frame.body
            )
        except Exception:
            # Not stored (the transaction rolled back); the widget keeps the line and sends it again.
            logger.exception(
                "chat line %s of visitor %s could not be stored", frame.client_id, self.visitor_id
            )
            await self._refuse(
                FrameError(
                    "unavailable",
                    "the message could not be taken just now; it will be sent again",
                    client_id=frame.client_id,
                    retry_after=RETRY_AFTER_FAILURE_SECONDS,
                )
            )
            return
        await self._follow(said.request_id)
        if said.created:
            self.lines.append(said.message)
            await live.poke(live.request_group(said.request_id), "request.changed", request=said.request_id)
            await live.poke(live.INBOX_GROUP, "inbox.changed", request=said.request_id)
        await self._send({"type": "ack", "id": frame.client_id, "message": said.message})

    async def _identify(self, frame: Identify) -> None:
        try:
            email = await database_sync_to_async(conversation.identify)(
                self.visitor_id, frame.email, frame.name
            )
        except ValidationError as error:
            await self._refuse(FrameError("invalid", " ".join(error.messages), field="email"))
            return
        await self._send({"type": "identified", "email": email})

    async def _follow(self, request_id: int | None) -> None:
        """Listen for replies on the visitor's current request."""
        if request_id == self.request_id:
            return
        if self.request_id is not None:
            await self.channel_layer.group_discard(live.chat_group(self.request_id), self.channel_name)
        self.request_id = request_id
        if request_id is not None:
            await self.channel_layer.group_add(live.chat_group(request_id), self.channel_name)

    async def _push_replies(self) -> None:
        if self.request_id is None:
            return
        async with self.check:
            replies = await database_sync_to_async(conversation.replies_after)(
                self.request_id, self.last_reply_id
            )
            for reply in replies:
                self.last_reply_id = max(self.last_reply_id, reply["id"])
                self.lines.append(reply)
                await self._send({"type": "message", "message": reply})

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            await self._push_replies()

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=conversation.dumps(frame))

    # Channel-layer handlers (the "type" of a poke, dots as underscores).
    async def chat_reply(self, event: dict[str, Any]) -> None:
        await self._push_replies()

    async def chat_typing(self, event: dict[str, Any]) -> None:
        await self._send({"type": "typing", "name": event.get("name", "")})
