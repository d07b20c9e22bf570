"""Every write of the inbox: a contact from any channel lands on a request (helpdesk) and in the inbound log.

Each item is handled in one transaction: the request message, the timeline event and the log row commit
together or not at all. `(source, external_id)` makes every call idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from tenure.customers.models import Customer
from tenure.helpdesk.services import IncomingAttachment, receive_message
from tenure.inbox.mail.parse import Attachment
from tenure.inbox.models import InboundLog, InboundStatus


@dataclass(frozen=True)
class Contact:
    """One message from a customer, in the shape every channel adapter produces."""

    customer: Customer
    channel: str
    body: str
    subject: str = ""
    html: str = ""
    external_id: str = ""  # the channel's own id (Message-ID, MessageSid, event id): helpdesk dedupes on it
    references: Sequence[str] = ()
    sender: str = ""
    attachments: Sequence[Attachment] = ()
    received_at: dt.datetime | None = None
    metadata: dict[str, Any] | None = None


def existing_log(source: str, external_id: str) -> InboundLog | None:
    if not external_id:
        return None
    return InboundLog.objects.filter(source=source, external_id=external_id).first()


def _log(
    *, source: str, external_id: str, channel: str, status: str, raw: bytes | None = None, **fields: Any
) -> InboundLog:
    """Write the log row; a concurrent writer of the same item wins and its row is returned."""
    try:
        with transaction.atomic():
            return InboundLog.objects.create(
                source=source,
                external_id=external_id[:300],
                channel=channel,
                status=status,
                raw=raw,
                **fields,
            )
    except IntegrityError:
        found = existing_log(source, external_id)
        if found is None:
            raise
        return found


def log_item(
    *,
    source: str,
    external_id: str,
    channel: str,
    status: str,
    sender: str = "",
    subject: str = "",
    message_id: str = "",
    customer: Customer | None = None,
    detail: dict[str, Any] | None = None,
    raw: bytes | None = None,
) -> InboundLog:
    """Record an item that did not become a request (auto-reply, bounce, spam, error)."""
    return _log(
        source=source,
        external_id=external_id,
        channel=channel,
        status=status,
        raw=raw,
        sender=sender[:300],
        subject=subject[:300],
        message_id=message_id[:300],
        customer=customer,
        detail=detail or {},
    )


def _attachments(items: Iterable[Attachment]) -> tuple[IncomingAttachment, ...]:
    return tuple(IncomingAttachment(item.filename, item.content_type, item.data) for item in items)


def accept(
    contact: Contact, *, source: str, log_id: str, message_id: str = "", detail: dict[str, Any] | None = None
) -> InboundLog:
    """Hand a contact to the helpdesk and log it, once per `(source, log_id)`."""
    if (found := existing_log(source, log_id)) is not None:
        return found
    with transaction.atomic():
        received = receive_message(
            customer=contact.customer,
            channel=contact.channel,
            body=contact.body,
            subject=contact.subject,
            html=contact.html,
            external_id=contact.external_id,
            references=tuple(contact.references),
            sender=contact.sender,
            attachments=_attachments(contact.attachments),
            received_at=contact.received_at,
            metadata=contact.metadata,
        )
        return _log(
            source=source,
            external_id=log_id,
            channel=contact.channel,
            status=InboundStatus.ACCEPTED,
            sender=contact.sender[:300],
            subject=contact.subject[:300],
            message_id=message_id[:300],
            customer=contact.customer,
            request_id=received.request.pk,
            detail={
                "created": bool(received.created),
                "reopened": bool(received.reopened),
                "message": received.message.pk,
                **(detail or {}),
            },
        )
