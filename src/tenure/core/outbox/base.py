"""What every channel adapter promises: send one message or raise one of these errors."""

from __future__ import annotations

from typing import Protocol

from tenure.core.outbox_models import OutboundMessage


class SendError(Exception):
    """Delivery did not happen; worth trying again later."""


class PermanentSendError(SendError):
    """Trying again will not help. `bad_address` says the recipient address itself is invalid."""

    def __init__(self, message: str, *, bad_address: bool = False) -> None:
        super().__init__(message)
        self.bad_address = bad_address


class Adapter(Protocol):
    def send(self, message: OutboundMessage, following: OutboundMessage | None = None) -> str:
        """Deliver `message` to `message.recipient`; return the provider's id for it. `following`, if
        given, is the message this adapter will be asked to send next: it may start on it early."""

    def close(self) -> None: ...
