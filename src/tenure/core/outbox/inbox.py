"""Chat and portal messages: the row itself is the message, shown in the customer's thread or portal."""

from __future__ import annotations

from tenure.core.outbox_models import OutboundMessage


class InboxAdapter:
    def send(self, message: OutboundMessage, following: OutboundMessage | None = None) -> str:
        return f"{message.channel}:{message.pk}"

    def close(self) -> None:
        return None
