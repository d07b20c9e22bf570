"""The outbox's entries on the customer's timeline, one key per (kind, message) so each is written once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox.rows import insert_values
from tenure.core.outbox_models import OutboundMessage
from tenure.core.services import record_event, validate_event_kind

EVENT_SOURCE = "outbox"


def _payload(message: OutboundMessage, extra: dict[str, object]) -> dict[str, object]:
    return {"message_id": message.pk, "channel": message.channel, "purpose": message.purpose, **extra}


def record(message: OutboundMessage, kind: str, **payload: object) -> None:
    """Write one event now, through the kernel's service (its post_save hooks run)."""
    record_event(
        customer_id=message.customer_id,
        kind=kind,
        channel=message.channel,
        source=EVENT_SOURCE,
        idempotency_key=f"{kind}:{message.pk}",
        payload=_payload(message, payload),
    )


# An event not yet written, as {Event field attname: value}: a batch writes hundreds, and building a model
# instance for each cost more than inserting it.
EventRow = dict[str, Any]


def record_new(message: OutboundMessage, kind: str, **payload: object) -> Event:
    """Write an event for a row created in this transaction: its key cannot exist yet, so one INSERT does
    (post_save hooks run as for any event)."""
    event = Event(**event_for(message, kind, None, **payload))
    event.save(force_insert=True)
    return event


def event_for(
    message: OutboundMessage, kind: str, occurred_at: dt.datetime | None = None, **payload: object
) -> EventRow:
    """An event for `save_events`, which writes a batch in one statement."""
    return {
        "customer_id": message.customer_id,
        "kind": validate_event_kind(kind),
        "occurred_at": occurred_at or timezone.now(),
        "channel": message.channel,
        "source": EVENT_SOURCE,
        "idempotency_key": f"{kind}:{message.pk}",
        "payload": _payload(message, payload),
    }


def queued_event(message: OutboundMessage) -> EventRow:
    """The `message.queued` event of a row that waits for a worker."""
    return event_for(message, "message.queued", subject=message.subject)


def sent_event(message: OutboundMessage, **extra: object) -> EventRow:
    """The `message.sent` event of a row marked sent."""
    return event_for(
        message,
        "message.sent",
        occurred_at=message.sent_at,
        recipient=message.recipient,
        provider_id=message.provider_id,
        **extra,
    )


def save_events(events: Iterable[EventRow]) -> None:
    """Insert a batch of outbox events; ones already written (same key) are skipped.

    A bulk insert sends no post_save signals: nothing may hang work off the outbox's own events
    through signals (read them from the timeline instead).
    """
    insert_values(Event, list(events), ignore_conflicts=True)
