"""Send-time rules: opt-outs, quiet hours, the weekly cap on proactive messages, and where a message can go."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q

from tenure.core.models import Event
from tenure.core.outbox_models import MessageChannel, MessageStatus, OutboundMessage
from tenure.customers.models import Customer, Identity, IdentityChannel

CAP_WINDOW = dt.timedelta(days=7)
# When only in-flight messages fill the cap, look again this much later.
CAP_RECHECK = dt.timedelta(minutes=5)
IDENTITY_INVALID = "identity.invalid"

# Which identity a channel needs; portal messages need none.
IDENTITY_FOR_CHANNEL: dict[str, str] = {
    MessageChannel.EMAIL: IdentityChannel.EMAIL,
    MessageChannel.SMS: IdentityChannel.PHONE,
    MessageChannel.CHAT: IdentityChannel.CHAT,
}
CHANNEL_FOR_PREFERENCE: dict[str, str] = {
    identity: channel for channel, identity in IDENTITY_FOR_CHANNEL.items()
}
FALLBACK_ORDER = (MessageChannel.EMAIL, MessageChannel.SMS, MessageChannel.CHAT)


def is_opted_out(customer: Customer, purpose: str) -> bool:
    return purpose in (customer.opted_out_purposes or [])


def customer_zone(customer: Customer) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(customer.time_zone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def quiet_hours_end(customer: Customer, now: dt.datetime) -> dt.datetime | None:
    """If `now` falls in the customer's quiet hours (local time), when they end; else None.

    A window whose start is after its end wraps midnight (22:00-07:00).
    """
    start, end = customer.quiet_hours_start, customer.quiet_hours_end
    if start is None or end is None or start == end:
        return None
    zone = customer_zone(customer)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    end_day = local.date() if clock < end else local.date() + dt.timedelta(days=1)
    # fold=0 and a round trip through UTC settle DST gaps and overlaps on a real instant.
    return dt.datetime.combine(end_day, end, tzinfo=zone).astimezone(dt.UTC)


def cap_release_at(message: OutboundMessage, now: dt.datetime, cap: int) -> dt.datetime | None:
    """If sending `message` now would exceed the weekly cap on proactive messages, when it would not; else None."""
    if message.is_transactional:
        return None
    proactive = OutboundMessage.objects.filter(customer_id=message.customer_id).exclude(
        purpose="transactional"
    )
    recent = proactive.filter(status=MessageStatus.SENT, sent_at__gt=now - CAP_WINDOW)
    sent = sorted(at for at in recent.values_list("sent_at", flat=True) if at is not None)
    # A message being sent, or tried before and waiting to retry, may already have reached the customer.
    maybe_delivered = Q(status=MessageStatus.SENDING) | Q(
        status__in=[MessageStatus.QUEUED, MessageStatus.DEFERRED], attempts__gt=0
    )
    in_flight = proactive.filter(maybe_delivered).exclude(pk=message.pk).count()
    over = len(sent) + in_flight - cap
    if over < 0:
        return None
    if over < len(sent):
        # The cap frees up when enough of the sent ones leave the 7-day window.
        return sent[over] + CAP_WINDOW
    return now + CAP_RECHECK


@dataclass(frozen=True)
class Route:
    channel: str
    recipient: str


def invalid_addresses(customer_id: int) -> set[tuple[str, str]]:
    """(identity channel, value) pairs a provider has rejected for good."""
    payloads = Event.objects.filter(customer_id=customer_id, kind=IDENTITY_INVALID).values_list(
        "payload", flat=True
    )
    return {(str(p.get("channel", "")), str(p.get("value", ""))) for p in payloads if isinstance(p, dict)}


def resolve_route(message: OutboundMessage, customer: Customer) -> Route | None:
    """The asked-for channel if the customer is reachable on it, else the preferred one, else any other."""
    if message.channel == MessageChannel.PORTAL:
        return Route(MessageChannel.PORTAL, "")
    invalid = invalid_addresses(customer.pk)
    if message.recipient and (IDENTITY_FOR_CHANNEL.get(message.channel), message.recipient) not in invalid:
        return Route(message.channel, message.recipient)
    order: list[str] = [message.channel]
    if preferred := CHANNEL_FOR_PREFERENCE.get(customer.preferred_channel):
        order.append(preferred)
    order.extend(FALLBACK_ORDER)
    identities = list(Identity.objects.filter(customer=customer).order_by("-verified", "created_at", "id"))
    for channel in dict.fromkeys(order):
        needed = IDENTITY_FOR_CHANNEL.get(channel)
        for identity in identities:
            if identity.channel == needed and (identity.channel, identity.value) not in invalid:
                return Route(channel, identity.value)
    return None
