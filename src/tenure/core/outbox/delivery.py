"""The outbox sweeper: claim due rows, apply the send-time rules, deliver, record the outcome.

A claimed row is marked `sending`, with `send_after` pushed out by the sending timeout, and committed
before anything leaves the building (`claim.py`). Each message that goes out is marked `sent` by one
autocommitted UPDATE right after the provider accepted it, so a worker killed mid-batch leaves at most
the one message it had in flight (per lane where a worker sends over several connections at once,
`send_claimed`): that row falls due again when its claim expires. An e-mail whose end had gone out whole
was noted by its lane (`journal.py`), and the claim that takes the row over marks it sent; any other is
sent again, recognisably the same (same e-mail Message-ID / SMS idempotency token).

The `message.sent` events of a batch are written together after it; a sent row keeps a `send_after`
until then, so if the worker dies first, a later claim writes them (see `DUE_STATUSES`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from django.db import connections, transaction
from django.utils import timezone

from tenure.core.drain import register_batch, start_drains
from tenure.core.outbox import fallback, journal, rows
from tenure.core.outbox.base import Adapter, PermanentSendError, SendError
from tenure.core.outbox.claim import Claim, claim_batch
from tenure.core.outbox.email import EmailAdapter
from tenure.core.outbox.events import queued_event, save_events, sent_event
from tenure.core.outbox.inbox import InboxAdapter
from tenure.core.outbox.settings import OutboxSettings, current
from tenure.core.outbox.sms import SmsAdapter
from tenure.core.outbox_models import MessageChannel, MessageStatus, OutboundMessage
from tenure.core.sweeper import earliest_due, register_sweeper

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY = dt.timedelta(hours=6)


def register() -> None:
    register_sweeper("core.outbox", deliver_due)
    register_batch("core.outbox", deliver_batch, next_due)


def next_due() -> dt.datetime | None:
    """When the next row falls due: the earliest timer (only rows in play have one)."""
    return earliest_due(OutboundMessage.objects.all(), "send_after")


def _ours(message: OutboundMessage) -> bool:
    """Lock the row; False if another worker re-claimed it after our claim expired."""
    return (
        OutboundMessage.objects.select_for_update()
        .filter(pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts)
        .exists()
    )


def _mark_sent(
    message: OutboundMessage, provider_id: str, config: OutboxSettings, mark: rows.MarkSent
) -> bool:
    """One statement, committed at once: the window in which a crash repeats this message is this short."""
    sent_at = timezone.now()
    # The sent row stays due until the batch's events are written; see the module docstring.
    event_due = sent_at + dt.timedelta(seconds=config.sending_timeout_seconds)
    marked = mark(message, provider_id[:300], sent_at, event_due)
    message.status, message.provider_id, message.sent_at = MessageStatus.SENT, provider_id[:300], sent_at
    return marked


def _record_sent(sent: list[OutboundMessage]) -> None:
    if not sent:
        return
    with transaction.atomic():
        save_events(sent_event(message) for message in sent)
        rows.clear_timers([message.pk for message in sent])


def _mark_retry(message: OutboundMessage, error: Exception, config: OutboxSettings) -> None:
    with transaction.atomic():
        if not _ours(message):
            return
        if message.attempts >= config.max_attempts:
            fallback.finish(
                message, MessageStatus.FAILED, f"{error} (gave up after {message.attempts} attempts)"
            )
            return
        delay = dt.timedelta(seconds=config.retry_base_seconds * 2 ** (message.attempts - 1))
        message.status = MessageStatus.QUEUED
        message.send_after = timezone.now() + min(delay, MAX_RETRY_DELAY)
        message.last_error = str(error)
        message.save(update_fields=["status", "send_after", "last_error"])
        # Back in the queue; a row claimed as it was queued has no `message.queued` event yet.
        save_events([queued_event(message)])


def _mark_permanent(message: OutboundMessage, error: PermanentSendError) -> None:
    with transaction.atomic():
        if not _ours(message):
            return
        if error.bad_address:
            fallback.address_rejected(message, str(error))
        else:
            fallback.finish(message, MessageStatus.FAILED, str(error))


def _release(messages: list[OutboundMessage]) -> None:
    """Hand back claimed rows we will not get to in time, due now, as if never claimed."""
    released = [
        message
        for message in messages
        if OutboundMessage.objects.filter(
            pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts
        ).update(status=MessageStatus.QUEUED, attempts=message.attempts - 1, send_after=timezone.now())
    ]
    save_events(queued_event(message) for message in released)


def _adapter(channel: str, config: OutboxSettings, notes: journal.LaneNotes) -> Adapter:
    if channel == MessageChannel.EMAIL:
        return EmailAdapter(config, notes)
    if channel == MessageChannel.SMS:
        return SmsAdapter(config)
    return InboxAdapter()


@dataclass
class Lane:
    """One lane's connections: to the providers (opened on first use), for the `sent` marks, and its notes
    of the e-mails whose end went out."""

    config: OutboxSettings
    mark: rows.MarkSent
    notes: journal.LaneNotes
    adapters: dict[str, Adapter] = field(default_factory=dict)

    def deliver(self, message: OutboundMessage, following: OutboundMessage | None) -> bool:
        """Send one claimed message and record the outcome; True if it was sent and marked. `following` is
        the message this lane sends next, if any: the adapter may start on it early."""
        if message.channel not in self.adapters:
            self.adapters[message.channel] = _adapter(message.channel, self.config, self.notes)
        try:
            provider_id = self.adapters[message.channel].send(message, following)
        except PermanentSendError as error:
            _mark_permanent(message, error)
        except SendError as error:
            _mark_retry(message, error, self.config)
        except Exception as error:
            logger.exception("Sending message %s failed unexpectedly", message.pk)
            _mark_retry(message, error, self.config)
        else:
            return _mark_sent(message, provider_id, self.config, self.mark)
        return False

    def close(self) -> None:
        for adapter in self.adapters.values():
            adapter.close()


@dataclass
class Sending:
    """A claim's messages on their way out, shared by the lanes that send them."""

    config: OutboxSettings
    # A send may only start before this (time.monotonic()); see `send_claimed`.
    last_start: float
    pending: deque[OutboundMessage]
    sent: list[OutboundMessage] = field(default_factory=list)
    late: list[OutboundMessage] = field(default_factory=list)

    def take(self) -> OutboundMessage | None:
        try:
            return self.pending.popleft()  # atomic: lanes in several threads share the queue
        except IndexError:
            return None


def _send_lane(sending: Sending) -> None:
    """Send the messages left to send, one after another over this lane's own connections, until none is
    left; sent and marked ones go to `sending.sent`, ones too late to start to `sending.late`."""
    with rows.sent_marks() as mark, journal.LaneNotes() as notes:
        lane = Lane(sending.config, mark, notes)
        try:
            message = sending.take()
            while message is not None:
                following = sending.take()
                if time.monotonic() > sending.last_start:
                    sending.late.append(message)
                elif lane.deliver(message, following):
                    sending.sent.append(message)
                message = following
        finally:
            lane.close()


def _send_lanes_in_parallel(lanes: int, sending: Sending) -> None:
    """`lanes` threads, each a lane with its own SMTP connection and database connection: a message's
    time is mostly spent waiting for the provider, and the waits overlap."""
    errors: list[Exception] = []

    def lane() -> None:
        try:
            _send_lane(sending)
        except Exception as error:  # re-raised in the calling thread below
            errors.append(error)
        finally:
            connections.close_all()  # this thread's own

    threads = [threading.Thread(target=lane, name=f"outbox-lane-{n}") for n in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        # A lane that failed left its unsent messages to the others; the one in hand stays claimed.
        raise errors[0]


def send_claimed(claim: Claim, config: OutboxSettings) -> None:
    """Send a claim's messages, after the claim is committed, and record each outcome.

    Over `TENURE_OUTBOX_CONNECTIONS` lanes at once (default 1, in this thread): more lanes keep a
    distant provider busy, and a killed worker may then repeat up to one message per lane.
    """
    # A send may only start if it ends, timeout included, before the claim expires: after that another
    # worker may take the row over, and two sends in flight would both reach the customer.
    adapter_timeout = max(config.email_timeout, config.sms_timeout)
    last_start = claim.started + config.sending_timeout_seconds - adapter_timeout
    sending = Sending(config, last_start, deque(claim.to_send))
    lanes = min(config.connections, len(claim.to_send))
    try:
        if lanes > 1:
            _send_lanes_in_parallel(lanes, sending)
        else:
            _send_lane(sending)
        _release(sending.late)
    finally:
        _record_sent(sending.sent)


def deliver_batch(now: dt.datetime, config: OutboxSettings | None = None) -> int:
    """Claim, send and mark one batch of due messages; returns how many due rows it handled."""
    config = config or current()
    claim = claim_batch(now, config)
    if claim.to_send:
        send_claimed(claim, config)
    return claim.handled


def deliver_due(now: dt.datetime) -> int:
    """Sweeper: one batch; if the batch was full, start drain tasks so every worker can help with the rest."""
    config = current()
    handled = deliver_batch(now, config)
    if handled >= config.batch_size:
        start_drains()
    return handled
