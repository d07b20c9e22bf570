"""Phone calls: a record of each call on the customer's timeline and as a message on a request."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal, get_args

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.inbox import services
from tenure.inbox.models import CallRecord

SOURCE = "phone"
CHANNEL = "phone"
Outcome = Literal[
    "answered", "resolved", "callback_promised", "voicemail", "no_answer", "busy", "missed", "transferred"
]
OUTCOMES: tuple[str, ...] = get_args(Outcome)
MAX_DURATION = 24 * 3600


def _validate(direction: str, duration: int, outcome: str, notes: str, occurred_at: dt.datetime) -> None:
    errors: dict[str, str] = {}
    if direction not in CallRecord.Direction.values:
        errors["direction"] = f"one of {', '.join(CallRecord.Direction.values)}"
    if not isinstance(duration, int) or not 0 <= duration <= MAX_DURATION:
        errors["duration"] = f"whole seconds from 0 to {MAX_DURATION}"
    if outcome not in OUTCOMES:
        errors["outcome"] = f"one of {', '.join(OUTCOMES)}"
    if len(notes) > 20_000:
        errors["notes"] = "at most 20,000 characters"
    if timezone.is_naive(occurred_at):
        errors["occurred_at"] = "give a time zone"
    elif occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors["occurred_at"] = "a call cannot be in the future"
    if errors:
        raise ValidationError(errors)


def _summary(record: CallRecord) -> str:
    minutes, seconds = divmod(record.duration_seconds, 60)
    head = (
        f"{record.get_direction_display()} call, {minutes}:{seconds:02d}, {record.outcome.replace('_', ' ')}"
    )
    return f"{head}\n\n{record.notes.strip()}" if record.notes.strip() else head


def log_call(
    *,
    customer: Customer,
    direction: str,
    duration: int,
    outcome: str,
    notes: str = "",
    agent: AbstractBaseUser | None = None,
    occurred_at: dt.datetime | None = None,
    external_id: str = "",
) -> tuple[CallRecord, bool]:
    """Record a call once per `external_id` (a telephony system's call id; a new one when blank).

    Lands as `call.logged` on the timeline and as a phone message on the customer's request.
    Returns (record, created).
    """
    at = occurred_at or timezone.now()
    _validate(direction, duration, outcome, notes, at)
    key = external_id.strip()[:200] or f"call-{uuid.uuid4()}"
    if (found := CallRecord.objects.filter(external_id=key).first()) is not None:
        return found, False
    try:
        with transaction.atomic():
            record = CallRecord.objects.create(
                customer=customer,
                direction=direction,
                duration_seconds=duration,
                outcome=outcome,
                notes=notes,
                agent_id=agent.pk if agent is not None else None,
                occurred_at=at,
                external_id=key,
            )
            agent_name = agent.get_username() if agent is not None else ""
            log = services.accept(
                services.Contact(
                    customer=customer,
                    channel=CHANNEL,
                    body=_summary(record),
                    subject=f"{record.get_direction_display()} call",
                    external_id=f"call:{key}",
                    sender=agent_name,
                    received_at=at,
                    metadata={
                        "call": record.pk,
                        "direction": direction,
                        "outcome": outcome,
                        "agent": agent_name,
                    },
                ),
                source=SOURCE,
                log_id=key,
            )
            record.request_id = log.request_id
            record.save(update_fields=["request_id"])
            record_event(
                customer_id=customer.pk,
                kind="call.logged",
                occurred_at=at,
                channel=CHANNEL,
                actor=f"staff:{agent_name}" if agent_name else "system",
                source="inbox",
                idempotency_key=f"call.logged:{key}",
                payload={
                    "call": record.pk,
                    "direction": direction,
                    "duration_seconds": duration,
                    "outcome": outcome,
                    "request": log.request_id,
                },
            )
    except IntegrityError:
        # The same call id posted twice at once: the other writer's record stands.
        found = CallRecord.objects.filter(external_id=key).first()
        if found is None:
            raise
        return found, False
    return record, True
