"""Queueing a message. The caller owns the transaction: roll it back and the message was never queued."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.utils import timezone

from tenure.core.outbox.claim import Claim, SendRules
from tenure.core.outbox.events import queued_event, record_new, save_events
from tenure.core.outbox.policy import Reachability
from tenure.core.outbox.rows import insert_rows
from tenure.core.outbox.settings import OutboxSettings
from tenure.core.outbox_models import TRANSACTIONAL, WAITING, MessageChannel, MessageStatus, OutboundMessage
from tenure.customers.models import Customer, Purpose

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
    try:
        _validate(channel=channel, purpose=purpose, body=body, idempotency_key=idempotency_key)
    except ValidationError:
        # A repeat of a key already queued returns that message, whatever else the call says.
        existing = OutboundMessage.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        raise
    message = OutboundMessage(
        customer=customer,
        channel=channel,
        purpose=purpose,
        body=body,
        subject=subject,
        template=template,
        recipient=recipient,
        in_reply_to=in_reply_to,
        idempotency_key=idempotency_key,
        send_after=send_after or timezone.now(),
    )
    try:
        # The savepoint lets a repeated key (here or in a racing writer) fail alone.
        with transaction.atomic():
            message.save(force_insert=True)
            record_new(message, "message.queued", subject=subject)
    except IntegrityError:
        return OutboundMessage.objects.get(idempotency_key=idempotency_key)
    return message


@dataclass(frozen=True)
class Draft:
    """One message for `queue_messages`; the fields mean what they mean in `queue_message`."""

    customer_id: int
    channel: str
    purpose: str
    body: str
    idempotency_key: str
    subject: str = ""
    template: str = ""
    recipient: str = ""
    in_reply_to: str = ""
    send_after: dt.datetime | None = None


def _staged(drafts: Sequence[Draft], now: dt.datetime) -> dict[str, OutboundMessage]:
    """Unsaved rows for the drafts, the first draft of each key; all or nothing on bad input."""
    for index, draft in enumerate(drafts):
        try:
            _validate(
                channel=draft.channel,
                purpose=draft.purpose,
                body=draft.body,
                idempotency_key=draft.idempotency_key,
            )
        except ValidationError as error:
            raise ValidationError(
                {f"{index}.{name}": messages for name, messages in error.message_dict.items()}
            ) from None
    staged: dict[str, OutboundMessage] = {}
    for draft in drafts:
        staged.setdefault(
            draft.idempotency_key,
            OutboundMessage(
                customer_id=draft.customer_id,
                channel=draft.channel,
                purpose=draft.purpose,
                body=draft.body,
                subject=draft.subject,
                template=draft.template,
                recipient=draft.recipient,
                in_reply_to=draft.in_reply_to,
                idempotency_key=draft.idempotency_key,
                send_after=draft.send_after or now,
            ),
        )
    return staged


def _store(staged: dict[str, OutboundMessage]) -> tuple[dict[str, OutboundMessage], list[OutboundMessage]]:
    """Insert the staged rows, with a `message.queued` event for each new row that waits (one already
    claimed to go out at once gets its `message.sent` instead); returns key -> row (the first row for keys
    queued before) and the rows inserted now. Call inside a transaction."""
    inserted = insert_rows(list(staged.values()), ignore_conflicts=True, returning=("idempotency_key", "id"))
    rows: dict[str, OutboundMessage] = {}
    for key, pk in inserted:
        message = rows[key] = staged[key]
        message.pk = pk
        message._state.adding = False
        message._state.db = DEFAULT_DB_ALIAS
    new = list(rows.values())
    if queued_before := [key for key in staged if key not in rows]:
        rows.update(
            (message.idempotency_key, message)
            for message in OutboundMessage.objects.filter(idempotency_key__in=queued_before)
        )
    save_events(queued_event(message) for message in new if message.status in WAITING)
    return rows, new


def queue_messages(drafts: Sequence[Draft]) -> dict[str, OutboundMessage]:
    """Queue many messages with one insert for the rows and one for their events (for step runners and
    broadcasts); returns key -> row, the first row for keys queued before. All or nothing on bad input.

    The `message.queued` events are bulk-inserted: no post_save signal fires for them.
    """
    staged = _staged(drafts, timezone.now())
    with transaction.atomic():
        rows, _ = _store(staged)
    return rows


def queue_and_claim(
    drafts: Sequence[Draft],
    customers: dict[int, Customer],
    config: OutboxSettings,
    known: Reachability | None = None,
) -> tuple[dict[str, OutboundMessage], Claim]:
    """`queue_messages`, and the drafts already due claimed at once under the send-time rules, as the outbox
    would claim them a moment later, without it reading back the rows just written.

    For a caller that holds the locks of `customers` (`claim.lock_customers`) and sends the claim once its
    transaction commits (`delivery.send_claimed`). Drafts for other customers are queued for the outbox
    to claim, as are drafts not yet due; drafts whose key was queued before are not claimed again.
    `known`: the customers' reachability, if the caller has read it already.
    """
    now = timezone.now()
    staged = _staged(drafts, now)
    due = [
        m
        for m in staged.values()
        if m.customer_id in customers and m.send_after is not None and m.send_after <= now
    ]
    claim = Claim(handled=len(due))
    finished = SendRules.read(customers, due, now, known).apply(due, now, config)
    with transaction.atomic():
        rows, inserted = _store(staged)
        ours = {id(message) for message in inserted}
        save_events(done.event() for done in finished if id(done.message) in ours)
    claim.to_send = [m for m in due if id(m) in ours and m.status == MessageStatus.SENDING]
    return rows, claim
