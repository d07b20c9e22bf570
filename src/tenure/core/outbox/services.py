"""Queueing a message. The caller owns the transaction: roll it back and the message was never queued."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenure.core.outbox_models import TRANSACTIONAL, MessageChannel, OutboundMessage
from tenure.core.services import record_event
from tenure.customers.models import Customer, Purpose

EVENT_SOURCE = "outbox"
PURPOSES = frozenset({TRANSACTIONAL, *Purpose.values})


def _validate(*, channel: str, purpose: str, body: str, idempotency_key: str) -> None:
    if channel not in MessageChannel.values:
        raise ValidationError({"channel": f"{channel!r} is not one of {', '.join(MessageChannel.values)}"})
    if purpose not in PURPOSES:
        raise ValidationError({"purpose": f"{purpose!r} is not one of {', '.join(sorted(PURPOSES))}"})
    if not body.strip():
        raise ValidationError({"body": "a message needs a body"})
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationError({"idempotency_key": "give a key of 1 to 200 characters"})


def queue_message(
    *,
    customer: Customer,
    channel: str,
    purpose: str,
    body: str,
    idempotency_key: str,
    subject: str = "",
    template: str = "",
    recipient: str = "",
    in_reply_to: str = "",
    send_after: dt.datetime | None = None,
) -> OutboundMessage:
    """Queue one message; queueing again with the same key returns the first row and changes nothing."""
    existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    _validate(channel=channel, purpose=purpose, body=body, idempotency_key=idempotency_key)
    fields: dict[str, Any] = {
        "customer": customer,
        "channel": channel,
        "purpose": purpose,
        "body": body,
        "subject": subject,
        "template": template,
        "recipient": recipient,
        "in_reply_to": in_reply_to,
        "send_after": send_after or timezone.now(),
    }
    with transaction.atomic():
        # get_or_create settles a race with another writer of the same key on the unique constraint.
        message, created = OutboundMessage.objects.get_or_create(
            idempotency_key=idempotency_key, defaults=fields
        )
        if created:
            record_event(
                customer_id=customer.pk,
                kind="message.queued",
                channel=channel,
                source=EVENT_SOURCE,
                idempotency_key=f"queued:{message.pk}",
                payload={
                    "message_id": message.pk,
                    "channel": channel,
                    "purpose": purpose,
                    "subject": subject,
                },
            )
    return message
