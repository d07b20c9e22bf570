"""One socket per open console tab.

It always hears about changes to the inbox; on a conversation page it also tells the other agents on the
same request that this agent is viewing (and typing), and hears the same from them. Presence is kept by
the sockets themselves: a newcomer announces itself and everyone already there answers it directly, so
no shared table has to be cleaned up when a tab dies.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from tenure.core.sockets import ClosedClientSafeConsumer
from tenure.helpdesk.console import access
from tenure.inbox.chat import live


class ConsoleConsumer(ClosedClientSafeConsumer, AsyncJsonWebsocketConsumer):
    request_id: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not await database_sync_to_async(access.may_use_console)(user):
            await self.close(code=4403)
            return
        self.user_id = int(user.pk)
        self.name = user.get_full_name() or user.get_username()
        await self.channel_layer.group_add(live.INBOX_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if getattr(self, "user_id", None) is None:
            return
        await self._leave()
        await self.channel_layer.group_discard(live.INBOX_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "watch":
            request_id = content.get("request")
            if isinstance(request_id, int) and await database_sync_to_async(access.may_view_request)(
                self.scope["user"], request_id
            ):
                await self._leave()
                self.request_id = request_id
                await self.channel_layer.group_add(live.request_group(request_id), self.channel_name)
                await self._announce("presence.join")
            else:
                await self.send_json({"type": "error", "message": "no such request in your queues"})
        elif kind == "typing" and self.request_id is not None:
            await self._announce("presence.typing", mode="note" if content.get("mode") == "note" else "reply")
            if content.get("mode") != "note":
                await live.poke(live.chat_group(self.request_id), "chat.typing", name=self.name)

    async def _announce(self, kind: str, **data: Any) -> None:
        assert self.request_id is not None
        await live.poke(
            live.request_group(self.request_id),
            kind,
            user=self.user_id,
            name=self.name,
            reply_to=self.channel_name,
            **data,
        )

    async def _leave(self) -> None:
        if self.request_id is None:
            return
        await self._announce("presence.leave")
        await self.channel_layer.group_discard(live.request_group(self.request_id), self.channel_name)
        self.request_id = None

    def _from_me(self, event: dict[str, Any]) -> bool:
        return event.get("reply_to") == self.channel_name

    # Channel-layer handlers.
    async def presence_join(self, event: dict[str, Any]) -> None:
        if self._from_me(event):
            return
        await self._presence("join", event)
        # Tell the newcomer we are here too.
        await self.channel_layer.send(
            event["reply_to"],
            {"type": "presence.here", "user": self.user_id, "name": self.name, "reply_to": self.channel_name},
        )

    async def presence_here(self, event: dict[str, Any]) -> None:
        await self._presence("here", event)

    async def presence_leave(self, event: dict[str, Any]) -> None:
        if not self._from_me(event):
            await self._presence("leave", event)

    async def presence_typing(self, event: dict[str, Any]) -> None:
        if not self._from_me(event):
            await self._presence("typing", event)

    async def _presence(self, what: str, event: dict[str, Any]) -> None:
        await self.send_json(
            {
                "type": "presence",
                "event": what,
                "user": event.get("user"),
                "name": event.get("name") or "The customer",
                "mode": event.get("mode", ""),
                "tab": event.get("reply_to", ""),
            }
        )

    async def request_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "request.changed", "request": event.get("request")})

    async def inbox_changed(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "inbox.changed", "request": event.get("request")})
