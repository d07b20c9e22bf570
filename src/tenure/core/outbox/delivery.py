"""The outbox sweeper: claim due rows, apply the send-time rules, deliver, record the outcome.

A claimed row is marked `sending` with `send_after` pushed out by the sending timeout and committed
before anything leaves the building. If the worker dies after sending but before marking the row
`sent`, the row falls due again once that timeout passes and is sent again: delivery is at least once,
and the second copy carries the same e-mail Message-ID / SMS idempotency token, so it is recognisably
the same message.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone

from tenure.core.outbox import policy
from tenure.core.outbox.base import Adapter, PermanentSendError, SendError
from tenure.core.outbox.email import EmailAdapter
from tenure.core.outbox.inbox import InboxAdapter
from tenure.core.outbox.settings import OutboxSettings, current
from tenure.core.outbox.sms import SmsAdapter
from tenure.core.outbox_models import MessageChannel, MessageStatus, OutboundMessage
from tenure.core.services import record_event
from tenure.core.sweeper import claim_due, register_sweeper
from tenure.customers.models import Customer

logger = logging.getLogger(__name__)

EVENT_SOURCE = "outbox"
MAX_RETRY_DELAY = dt.timedelta(hours=6)
DUE_STATUSES = (MessageStatus.QUEUED, MessageStatus.DEFERRED, MessageStatus.SENDING)


def register() -> None:
    register_sweeper("core.outbox", deliver_due)


def _record(message: OutboundMessage, kind: str, **payload: object) -> None:
    record_event(
        customer_id=message.customer_id,
        kind=kind,
        channel=message.channel,
        source=EVENT_SOURCE,
        idempotency_key=f"{kind}:{message.pk}",
        payload={"message_id": message.pk, "channel": message.channel, "purpose": message.purpose, **payload},
    )


def _finish(message: OutboundMessage, status: str, reason: str) -> None:
    message.status = status
    message.last_error = reason
    message.send_after = None
    message.save(update_fields=["status", "last_error", "send_after"])
    _record(message, f"message.{status}", reason=reason)


def _defer(message: OutboundMessage, until: dt.datetime, reason: str) -> None:
    message.status = MessageStatus.DEFERRED
    message.send_after = until
    message.last_error = reason
    message.save(update_fields=["status", "send_after", "last_error"])


def _claim(message: OutboundMessage, customer: Customer, now: dt.datetime, config: OutboxSettings) -> bool:
    """Apply the send-time rules to one due row; True if it is now ours to send."""
    if message.status == MessageStatus.SENDING and message.attempts >= config.max_attempts:
        _finish(
            message,
            MessageStatus.FAILED,
            f"gave up after {message.attempts} attempts; the last never finished",
        )
        return False
    if not message.is_transactional:
        if policy.is_opted_out(customer, message.purpose):
            _finish(message, MessageStatus.SUPPRESSED, f"customer opted out of {message.purpose}")
            return False
        if quiet_end := policy.quiet_hours_end(customer, now):
            _defer(message, quiet_end, "quiet hours")
            return False
        if cap_end := policy.cap_release_at(message, now, config.cap_per_week):
            _defer(message, cap_end, f"at most {config.cap_per_week} proactive messages per 7 days")
            return False
    route = policy.resolve_route(message, customer)
    if route is None:
        _finish(message, MessageStatus.FAILED, "no reachable address on e-mail, SMS or chat")
        return False
    message.channel, message.recipient = route.channel, route.recipient
    message.status = MessageStatus.SENDING
    message.attempts += 1
    message.send_after = now + dt.timedelta(seconds=config.sending_timeout_seconds)
    message.save(update_fields=["channel", "recipient", "status", "attempts", "send_after"])
    return True


def _still_ours(message: OutboundMessage) -> bool:
    """Lock the row; False if another worker re-claimed it after our claim timed out."""
    return (
        OutboundMessage.objects.select_for_update()
        .filter(pk=message.pk, status=MessageStatus.SENDING, attempts=message.attempts)
        .exists()
    )


def _mark_sent(message: OutboundMessage, provider_id: str) -> None:
    with transaction.atomic():
        if not _still_ours(message):
            return
        message.status = MessageStatus.SENT
        message.provider_id = provider_id[:300]
        message.sent_at = timezone.now()
        message.send_after = None
        message.last_error = ""
        message.save(update_fields=["status", "provider_id", "sent_at", "send_after", "last_error"])
        _record(message, "message.sent", recipient=message.recipient, provider_id=message.provider_id)


def _mark_retry(message: OutboundMessage, error: Exception, config: OutboxSettings) -> None:
    with transaction.atomic():
        if not _still_ours(message):
            return
        if message.attempts >= config.max_attempts:
            _finish(message, MessageStatus.FAILED, f"{error} (gave up after {message.attempts} attempts)")
            return
        delay = dt.timedelta(seconds=config.retry_base_seconds * 2 ** (message.attempts - 1))
        message.status = MessageStatus.QUEUED
        message.send_after = timezone.now() + min(delay, MAX_RETRY_DELAY)
        message.last_error = str(error)
        message.save(update_fields=["status", "send_after", "last_error"])


def _mark_permanent(message: OutboundMessage, error: PermanentSendError) -> None:
    with transaction.atomic():
        if not _still_ours(message):
            return
        if not error.bad_address:
            _finish(message, MessageStatus.FAILED, str(error))
            return
        identity_channel = policy.IDENTITY_FOR_CHANNEL.get(message.channel)
        record_event(
            customer_id=message.customer_id,
            kind=policy.IDENTITY_INVALID,
            channel=message.channel,
            source=EVENT_SOURCE,
            idempotency_key=f"identity.invalid:{message.customer_id}:{identity_channel}:{message.recipient}",
            payload={"channel": identity_channel, "value": message.recipient, "reason": str(error)},
        )
        route = policy.resolve_route(message, Customer.objects.get(pk=message.customer_id))
        if route is None:
            _finish(message, MessageStatus.FAILED, f"{error}; no other reachable address")
            return
        message.channel, message.recipient = route.channel, route.recipient
        message.status = MessageStatus.QUEUED
        message.send_after = timezone.now()
        message.last_error = f"{error}; falling back to {route.channel}"
        message.save(update_fields=["channel", "recipient", "status", "send_after", "last_error"])


def _adapter(channel: str, config: OutboxSettings) -> Adapter:
    if channel == MessageChannel.EMAIL:
        return EmailAdapter(config)
    if channel == MessageChannel.SMS:
        return SmsAdapter(config)
    return InboxAdapter()


def _deliver(message: OutboundMessage, adapters: dict[str, Adapter], config: OutboxSettings) -> None:
    if message.channel not in adapters:
        adapters[message.channel] = _adapter(message.channel, config)
    try:
        provider_id = adapters[message.channel].send(message)
    except PermanentSendError as error:
        _mark_permanent(message, error)
    except SendError as error:
        _mark_retry(message, error, config)
    except Exception as error:
        logger.exception("Sending message %s failed unexpectedly", message.pk)
        _mark_retry(message, error, config)
    else:
        _mark_sent(message, provider_id)


def deliver_due(now: dt.datetime) -> int:
    """Sweeper: handle up to one batch of due messages; returns how many rows it handled."""
    config = current()
    with transaction.atomic():
        due = claim_due(
            OutboundMessage.objects.filter(status__in=DUE_STATUSES),
            "send_after",
            now,
            limit=config.batch_size,
        )
        # Locking the customers serialises claims per customer across workers, so two workers cannot both
        # fit a message under the weekly cap. NO KEY UPDATE does not block inserts that reference them.
        locked = Customer.objects.select_for_update(no_key=True).filter(pk__in={m.customer_id for m in due})
        customers = {customer.pk: customer for customer in locked.order_by("pk")}
        claimed = [message for message in due if _claim(message, customers[message.customer_id], now, config)]
    adapters: dict[str, Adapter] = {}
    try:
        for message in claimed:
            _deliver(message, adapters, config)
    finally:
        for adapter in adapters.values():
            adapter.close()
    return len(due)
