"""Final outcomes of one message, and what a rejected address means: mark it invalid, try another channel."""

from __future__ import annotations

from django.utils import timezone

from tenure.core.outbox import policy
from tenure.core.outbox.events import EVENT_SOURCE, queued_event, record, save_events
from tenure.core.outbox_models import MessageStatus, OutboundMessage
from tenure.core.services import record_event
from tenure.customers.models import Customer


def finish(message: OutboundMessage, status: str, reason: str) -> None:
    """Make the row final (failed or suppressed) with its reason, and say so on the timeline."""
    message.status = status
    message.last_error = reason
    message.send_after = None
    message.save(update_fields=["status", "last_error", "send_after"])
    record(message, f"message.{status}", reason=reason)


def mark_address_invalid(message: OutboundMessage, reason: str) -> None:
    """An `identity.invalid` event: routing skips this address from now on, for every message."""
    identity_channel = policy.IDENTITY_FOR_CHANNEL.get(message.channel)
    record_event(
        customer_id=message.customer_id,
        kind=policy.IDENTITY_INVALID,
        channel=message.channel,
        source=EVENT_SOURCE,
        idempotency_key=f"identity.invalid:{message.customer_id}:{identity_channel}:{message.recipient}",
        payload={"channel": identity_channel, "value": message.recipient, "reason": reason},
    )


def address_rejected(message: OutboundMessage, reason: str) -> None:
    """The provider says the address is bad for good: mark it, then queue the message on another channel.

    Call inside a transaction holding the row's lock. With no other address left the message fails.
    """
    mark_address_invalid(message, reason)
    route = policy.resolve_route(message, Customer.objects.get(pk=message.customer_id))
    if route is None:
        finish(message, MessageStatus.FAILED, f"{reason}; no other reachable address")
        return
    message.channel, message.recipient = route.channel, route.recipient
    message.status = MessageStatus.QUEUED
    message.send_after = timezone.now()
    message.sent_at = None
    message.last_error = f"{reason}; falling back to {route.channel}"
    message.save(update_fields=["channel", "recipient", "status", "send_after", "sent_at", "last_error"])
    save_events([queued_event(message)])
