"""Claiming a batch of due messages: the send-time rules for all of them in one transaction, a fixed handful
of queries whatever the batch size.

Rows are claimed with `claim_due` (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and their customers locked
(`FOR NO KEY UPDATE`, in id order), so two workers cannot both fit a message under one customer's cap.
The rows this worker will send leave the transaction `sending`, with `attempts + 1` and a claim that
expires after the sending timeout; everything is written back with one bulk update and one bulk insert
of timeline events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction

from tenure.core.models import Event
from tenure.core.outbox import policy, rows
from tenure.core.outbox.events import event_for, save_events
from tenure.core.outbox.settings import OutboxSettings
from tenure.core.outbox_models import MessageStatus, OutboundMessage
from tenure.core.sweeper import claim_due
from tenure.customers.models import Customer

UPDATED_FIELDS = ["channel", "recipient", "status", "attempts", "send_after", "last_error"]


@dataclass
class Claim:
    """What one claim decided: how many due rows it handled and which are now this worker's to send."""

    handled: int = 0
    to_send: list[OutboundMessage] = field(default_factory=list)
    claimed_at: dt.datetime | None = None


def _finish(message: OutboundMessage, status: str, reason: str, events: list[Event]) -> None:
    message.status = status
    message.last_error = reason
    message.send_after = None
    events.append(event_for(message, f"message.{status}", reason=reason))


def _defer(message: OutboundMessage, until: dt.datetime, reason: str) -> None:
    message.status = MessageStatus.DEFERRED
    message.send_after = until
    message.last_error = reason


def _apply_rules(
    message: OutboundMessage,
    customer: Customer,
    now: dt.datetime,
    config: OutboxSettings,
    ledger: policy.CapLedger,
    known: policy.Reachability,
    events: list[Event],
) -> None:
    """Decide one due row in memory: final, deferred, or `sending` (ours to send)."""
    if message.status == MessageStatus.SENDING and message.attempts >= config.max_attempts:
        reason = f"gave up after {message.attempts} attempts; the last never finished"
        _finish(message, MessageStatus.FAILED, reason, events)
        return
    if not message.is_transactional:
        if policy.is_opted_out(customer, message.purpose):
            _finish(message, MessageStatus.SUPPRESSED, f"customer opted out of {message.purpose}", events)
            return
        if quiet_end := policy.quiet_hours_end(customer, now):
            _defer(message, quiet_end, "quiet hours")
            return
        if cap_end := ledger.release_at(message, now, config.cap_per_week):
            _defer(message, cap_end, f"at most {config.cap_per_week} proactive messages per 7 days")
            return
    route = policy.resolve_route(message, customer, known)
    if route is None:
        _finish(message, MessageStatus.FAILED, "no reachable address on e-mail, SMS or chat", events)
        return
    message.channel, message.recipient = route.channel, route.recipient
    message.status = MessageStatus.SENDING
    message.attempts += 1
    message.send_after = now + dt.timedelta(seconds=config.sending_timeout_seconds)
    ledger.claimed(message)


def claim_batch(now: dt.datetime, config: OutboxSettings) -> Claim:
    with transaction.atomic():
        due = claim_due(
            # Only rows in play have a timer (a check constraint says so): no status filter needed.
            OutboundMessage.objects.all(),
            "send_after",
            now,
            limit=config.batch_size,
        )
        if not due:
            return Claim()
        events: list[Event] = []
        unrecorded = [message for message in due if message.status == MessageStatus.SENT]
        for message in unrecorded:
            events.append(
                event_for(
                    message,
                    "message.sent",
                    occurred_at=message.sent_at,
                    recipient=message.recipient,
                    provider_id=message.provider_id,
                )
            )
        pending = [message for message in due if message.status != MessageStatus.SENT]
        customer_ids = {message.customer_id for message in pending}
        locked = Customer.objects.select_for_update(no_key=True).filter(pk__in=customer_ids).order_by("pk")
        customers = {customer.pk: customer for customer in locked}
        ledger = policy.CapLedger(
            {message.customer_id for message in pending if not message.is_transactional}, now
        )
        known = policy.Reachability.of(customer_ids)
        for message in pending:
            _apply_rules(message, customers[message.customer_id], now, config, ledger, known, events)
        if pending:
            rows.update_rows(pending, UPDATED_FIELDS)
        rows.clear_timers([message.pk for message in unrecorded])
        save_events(events)
    to_send = [message for message in pending if message.status == MessageStatus.SENDING]
    return Claim(handled=len(due), to_send=to_send, claimed_at=now)
