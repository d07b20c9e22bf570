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
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction

from tenure.core.outbox import journal, policy, rows
from tenure.core.outbox.events import EventRow, event_for, save_events, sent_event
from tenure.core.outbox.settings import OutboxSettings
from tenure.core.outbox_models import MessageStatus, OutboundMessage
from tenure.core.sweeper import claim_due
from tenure.customers.models import Customer

UPDATED_FIELDS = ["channel", "recipient", "status", "attempts", "send_after", "last_error"]


@dataclass
class Claim:
    """What one claim decided: how many due rows it handled and which are now this worker's to send.

    `started` is when the claim was made (`time.monotonic()`): a send may only start while the claim
    still has time to run, see `delivery.send_claimed`.
    """

    handled: int = 0
    to_send: list[OutboundMessage] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


@dataclass
class Finished:
    """A message the rules settled for good (failed or suppressed), and why: its event is written once the
    row has an id."""

    message: OutboundMessage
    reason: str

    def event(self) -> EventRow:
        return event_for(self.message, f"message.{self.message.status}", reason=self.reason)


def _finish(message: OutboundMessage, status: str, reason: str, finished: list[Finished]) -> None:
    message.status = status
    message.last_error = reason
    message.send_after = None
    finished.append(Finished(message, reason))


def _defer(message: OutboundMessage, until: dt.datetime, reason: str) -> None:
    message.status = MessageStatus.DEFERRED
    message.send_after = until
    message.last_error = reason


@dataclass
class SendRules:
    """The send-time rules for a batch of messages, with what they need to know about its customers read
    once. The caller holds the customers' locks (`lock_customers`) until it commits what the rules
    decided, so two workers cannot both fit a message under one customer's cap."""

    customers: dict[int, Customer]
    ledger: policy.CapLedger
    known: policy.Reachability

    @classmethod
    def read(
        cls,
        customers: dict[int, Customer],
        messages: Sequence[OutboundMessage],
        now: dt.datetime,
        known: policy.Reachability | None = None,
    ) -> SendRules:
        """`known`: the customers' reachability, if the caller has read it already."""
        proactive = {message.customer_id for message in messages if not message.is_transactional}
        return cls(customers, policy.CapLedger(proactive, now), known or policy.Reachability.of(customers))

    def apply(
        self, messages: Sequence[OutboundMessage], now: dt.datetime, config: OutboxSettings
    ) -> list[Finished]:
        """Decide each message in memory: final, deferred, or `sending` (ours to send)."""
        finished: list[Finished] = []
        for message in messages:
            self._decide(message, self.customers[message.customer_id], now, config, finished)
        return finished

    def _decide(
        self,
        message: OutboundMessage,
        customer: Customer,
        now: dt.datetime,
        config: OutboxSettings,
        finished: list[Finished],
    ) -> None:
        if message.status == MessageStatus.SENDING and message.attempts >= config.max_attempts:
            reason = f"gave up after {message.attempts} attempts; the last never finished"
            _finish(message, MessageStatus.FAILED, reason, finished)
            return
        if not message.is_transactional:
            if policy.is_opted_out(customer, message.purpose):
                _finish(
                    message, MessageStatus.SUPPRESSED, f"customer opted out of {message.purpose}", finished
                )
                return
            if quiet_end := policy.quiet_hours_end(customer, now):
                _defer(message, quiet_end, "quiet hours")
                return
            if cap_end := self.ledger.release_at(message, now, config.cap_per_week):
                _defer(message, cap_end, f"at most {config.cap_per_week} proactive messages per 7 days")
                return
        route = policy.resolve_route(message, customer, self.known)
        if route is None:
            _finish(message, MessageStatus.FAILED, "no reachable address on e-mail, SMS or chat", finished)
            return
        message.channel, message.recipient = route.channel, route.recipient
        message.status = MessageStatus.SENDING
        message.attempts += 1
        message.send_after = now + dt.timedelta(seconds=config.sending_timeout_seconds)
        self.ledger.claimed(message)


def lock_customers(
    customer_ids: Iterable[int], *related: str, skip_locked: bool = False
) -> dict[int, Customer]:
    """The customers, locked for this transaction in id order (so two lockers cannot deadlock), with
    `related` rows joined in but not locked. With `skip_locked`, those another transaction holds are
    left out instead of waited for."""
    rows = Customer.objects.filter(pk__any_of=set(customer_ids)).order_by("pk").select_related(*related)
    of = ("self",) if related and connection.features.has_select_for_update_of else ()
    locked = rows.select_for_update(no_key=True, of=of, skip_locked=skip_locked)
    return {customer.pk: customer for customer in locked}


# On the `message.sent` event of a row settled from a lane's note.
REPLY_NOT_SEEN = "not seen: the worker stopped after the whole message had gone out"


def _settle_ended(due: Sequence[OutboundMessage]) -> list[EventRow]:
    """Rows taken over from an expired claim whose end a dead lane noted had gone out whole (see
    `journal.py`): marked sent as of then instead of being sent again. Returns their events."""
    ended = journal.ended_before(due)
    events = []
    for message in due:
        note = ended.get(message.pk)
        if note is None:
            continue
        message.status, message.provider_id = MessageStatus.SENT, note.provider_id[:300]
        message.sent_at = dt.datetime.fromtimestamp(note.sent_at, tz=dt.UTC)
        message.send_after = None
        OutboundMessage.objects.filter(
            pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts
        ).update(
            status=message.status, provider_id=message.provider_id, sent_at=message.sent_at, send_after=None
        )
        events.append(sent_event(message, reply=REPLY_NOT_SEEN))
    return events


def claim_batch(now: dt.datetime, config: OutboxSettings) -> Claim:
    started = time.monotonic()
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
        taken_over = any(message.status == MessageStatus.SENDING for message in due)
        unrecorded = [message for message in due if message.status == MessageStatus.SENT]
        events = [sent_event(message) for message in unrecorded]
        if taken_over:
            events.extend(_settle_ended(due))
        pending = [message for message in due if message.status != MessageStatus.SENT]
        customers = lock_customers(message.customer_id for message in pending)
        finished = SendRules.read(customers, pending, now).apply(pending, now, config)
        events.extend(done.event() for done in finished)
        if pending:
            rows.update_rows(pending, UPDATED_FIELDS)
        rows.clear_timers([message.pk for message in unrecorded])
        save_events(events)
    if taken_over:
        journal.forget_settled()
    to_send = [message for message in pending if message.status == MessageStatus.SENDING]
    return Claim(handled=len(due), to_send=to_send, started=started)
