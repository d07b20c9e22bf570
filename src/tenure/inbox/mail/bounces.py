"""A hard bounce for one of our own messages marks that address invalid, as the outbox does on an SMTP 5xx."""

from __future__ import annotations

from tenure.core.outbox.policy import IDENTITY_INVALID
from tenure.core.outbox_models import MessageChannel, OutboundMessage
from tenure.core.services import record_event
from tenure.customers.models import Customer, Identity, IdentityChannel
from tenure.inbox.mail.classify import Verdict

EVENT_SOURCE = "inbox"


def _our_message(verdict: Verdict) -> OutboundMessage | None:
    if not verdict.original_message_id:
        return None
    return (
        OutboundMessage.objects.filter(channel=MessageChannel.EMAIL, provider_id=verdict.original_message_id)
        .order_by("-id")
        .first()
    )


def apply_bounce(verdict: Verdict) -> Customer | None:
    """Record hard failures on the timeline; returns the customer the bounce was about, if we know them."""
    message = _our_message(verdict)
    customer: Customer | None = message.customer if message is not None else None
    for failure in verdict.failed:
        if not failure.hard:
            continue
        identity = Identity.objects.filter(channel=IdentityChannel.EMAIL, value=failure.address).first()
        if identity is None or (customer is not None and identity.customer_id != customer.pk):
            continue
        customer = identity.customer
        reason = f"bounced: {failure.status} ({failure.action})"
        record_event(
            customer_id=identity.customer_id,
            kind=IDENTITY_INVALID,
            channel=MessageChannel.EMAIL,
            source=EVENT_SOURCE,
            idempotency_key=f"identity.invalid:{identity.customer_id}:email:{failure.address}",
            payload={
                "channel": IdentityChannel.EMAIL,
                "value": failure.address,
                "reason": reason,
                "message_id": message.pk if message is not None else None,
            },
        )
    if message is not None:
        record_event(
            customer_id=message.customer_id,
            kind="message.bounced",
            channel=MessageChannel.EMAIL,
            source=EVENT_SOURCE,
            idempotency_key=f"message.bounced:{message.pk}",
            payload={
                "message_id": message.pk,
                "hard": any(f.hard for f in verdict.failed),
                "recipients": [f.address for f in verdict.failed],
            },
        )
    return customer
