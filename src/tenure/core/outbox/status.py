"""What happens to a message after the provider accepted it: Twilio status callbacks and bounce reports.

Both find the row by its provider id (the SMS sid, the e-mail Message-ID), record the news on the
customer's timeline once, and on a permanent failure of the address mark it invalid and send the message
again on another channel (`fallback.address_rejected`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from tenure.core.outbox import fallback
from tenure.core.outbox.events import record
from tenure.core.outbox_models import DeliveryStatus, MessageChannel, MessageStatus, OutboundMessage

# Twilio's MessageStatus values that are final, mapped to ours; the rest (queued, sending, sent, accepted,
# scheduled) only say it is on its way.
TWILIO_FINAL = {
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.UNDELIVERED,
    "failed": DeliveryStatus.UNDELIVERED,
}
# Twilio error codes on a failed/undelivered message that mean the number itself cannot get SMS.
TWILIO_BAD_NUMBER_CODES = frozenset(
    {"30003", "30005", "30006", "21211", "21214", "21217", "21401", "21407", "21614"}
)


class UnknownMessage(Exception):
    """No outbound message has this provider id."""


@dataclass(frozen=True)
class StatusUpdate:
    message: OutboundMessage
    changed: bool


def _locked(provider_id: str, channel: str) -> OutboundMessage:
    if not provider_id:
        raise UnknownMessage(provider_id)
    message = (
        OutboundMessage.objects.select_for_update()
        .filter(provider_id=provider_id, channel=channel)
        .order_by("-id")
        .first()
    )
    if message is None:
        raise UnknownMessage(provider_id)
    return message


def _set_delivery(message: OutboundMessage, status: str) -> None:
    message.delivery_status = status
    message.delivery_updated_at = timezone.now()
    message.save(update_fields=["delivery_status", "delivery_updated_at"])


@transaction.atomic
def record_sms_status(*, sid: str, status: str, error_code: str = "") -> StatusUpdate:
    """Apply one Twilio status callback; repeats and late intermediate statuses change nothing."""
    message = _locked(sid, MessageChannel.SMS)
    final = TWILIO_FINAL.get(status)
    if final is None or message.delivery_status in {DeliveryStatus.DELIVERED, DeliveryStatus.UNDELIVERED}:
        return StatusUpdate(message, changed=False)
    _set_delivery(message, final)
    if final == DeliveryStatus.DELIVERED:
        record(message, "message.delivered", provider_id=sid, provider_status=status)
        return StatusUpdate(message, changed=True)
    reason = f"SMS {status}" + (f", Twilio error {error_code}" if error_code else "")
    record(message, "message.undelivered", provider_id=sid, provider_status=status, reason=reason)
    if error_code in TWILIO_BAD_NUMBER_CODES and message.status == MessageStatus.SENT:
        fallback.address_rejected(message, reason)
    return StatusUpdate(message, changed=True)


@transaction.atomic
def record_bounce(message_id_header: str, permanent: bool, reason: str) -> StatusUpdate:
    """A bounce report for the e-mail with this Message-ID (with or without angle brackets).

    Permanent: the address is marked invalid and the message goes out again on another channel (or fails
    if there is none). Temporary: noted on the timeline; the receiving server keeps trying.
    Raises `UnknownMessage` if no message of ours has that Message-ID.
    """
    value = message_id_header.strip()
    message_id = value if value.startswith("<") else f"<{value}>"
    message = _locked(message_id, MessageChannel.EMAIL)
    if message.delivery_status == DeliveryStatus.BOUNCED:
        return StatusUpdate(message, changed=False)
    if not permanent:
        _set_delivery(message, DeliveryStatus.DELAYED)
        record(message, "message.delayed", provider_id=message_id, reason=reason)
        return StatusUpdate(message, changed=True)
    _set_delivery(message, DeliveryStatus.BOUNCED)
    record(message, "message.bounced", provider_id=message_id, reason=reason, recipient=message.recipient)
    if message.status == MessageStatus.SENT:
        fallback.address_rejected(message, f"bounced: {reason}")
    return StatusUpdate(message, changed=True)
