"""Send-time rules: opt-outs, quiet hours, the weekly cap on proactive messages, and where a message can go."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q

from tenure.core.models import Event
from tenure.core.outbox_models import TRANSACTIONAL, MessageChannel, MessageStatus, OutboundMessage
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
# Channels a customer can answer a one-off notice or question on after the chat window has closed.
ASYNC_CHANNELS = (MessageChannel.EMAIL, MessageChannel.SMS)


def preferred_channel(customer: Customer, choices: Iterable[str] = FALLBACK_ORDER) -> str:
    """The first-choice channel for the customer's stated preference, if it is one of `choices`; else e-mail.

    Only the first choice: the outbox falls back to another reachable channel at send time.
    """
    wanted = CHANNEL_FOR_PREFERENCE.get(customer.preferred_channel, MessageChannel.EMAIL)
    return wanted if wanted in tuple(choices) else MessageChannel.EMAIL


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


class CapLedger:
    """The weekly cap for a batch of messages, read in one query instead of two per message.

    Per customer: when their proactive messages were sent in the window, and which ones may already
    have reached them (being sent, or tried before and waiting to retry). Claiming a message adds it to
    the second set, so later messages of the same batch see it as the row-by-row check would.

    One query, so one snapshot: another worker marks its messages `sent` (autocommitted) while this claim
    reads, and two statements could see a message neither still `sending` nor yet `sent`.
    """

    def __init__(self, customer_ids: Iterable[int], now: dt.datetime) -> None:
        ids = set(customer_ids)
        proactive = OutboundMessage.objects.filter(customer_id__any_of=ids).exclude(purpose=TRANSACTIONAL)
        recently_sent = Q(status=MessageStatus.SENT, sent_at__gt=now - CAP_WINDOW)
        maybe_delivered = Q(status=MessageStatus.SENDING) | Q(
            status__in=[MessageStatus.QUEUED, MessageStatus.DEFERRED], attempts__gt=0
        )
        self.sent: dict[int, list[dt.datetime]] = defaultdict(list)
        self.in_flight: dict[int, set[int | str]] = defaultdict(set)
        rows = proactive.filter(recently_sent | maybe_delivered).order_by()
        for customer_id, pk, status, sent_at in rows.values_list("customer_id", "pk", "status", "sent_at"):
            if status != MessageStatus.SENT:
                self.in_flight[customer_id].add(pk)
            elif sent_at is not None:
                self.sent[customer_id].append(sent_at)
        for times in self.sent.values():
            times.sort()

    def release_at(self, message: OutboundMessage, now: dt.datetime, cap: int) -> dt.datetime | None:
        """If sending `message` now would exceed the cap, when it would not; else None."""
        if message.is_transactional:
            return None
        sent = self.sent[message.customer_id]
        in_flight = len(self.in_flight[message.customer_id] - {_ledger_key(message)})
        over = len(sent) + in_flight - cap
        if over < 0:
            return None
        if over < len(sent):
            # The cap frees up when enough of the sent ones leave the 7-day window.
            return sent[over] + CAP_WINDOW
        return now + CAP_RECHECK

    def claimed(self, message: OutboundMessage) -> None:
        if not message.is_transactional:
            self.in_flight[message.customer_id].add(_ledger_key(message))


def _ledger_key(message: OutboundMessage) -> int | str:
    # A message claimed as it is queued has no id yet; its idempotency key is as unique.
    return message.pk if message.pk is not None else message.idempotency_key


@dataclass(frozen=True)
class Route:
    channel: str
    recipient: str


def invalid_addresses(customer_ids: Iterable[int]) -> dict[int, set[tuple[str, str]]]:
    """Per customer, the (identity channel, value) pairs a provider has rejected for good."""
    found: dict[int, set[tuple[str, str]]] = defaultdict(set)
    rows = Event.objects.filter(customer_id__any_of=set(customer_ids), kind=IDENTITY_INVALID)
    for customer_id, payload in rows.values_list("customer_id", "payload"):
        if isinstance(payload, dict):
            found[customer_id].add((str(payload.get("channel", "")), str(payload.get("value", ""))))
    return found


class Address(NamedTuple):
    """One of a customer's identities, as routing sees it."""

    channel: str
    value: str


def identities_of(customer_ids: Iterable[int]) -> dict[int, list[Address]]:
    """Per customer, their identities in the order routes prefer them: verified first, then oldest.

    Plain values, not models: a batch reads hundreds of these and needs two fields of each."""
    found: dict[int, list[Address]] = defaultdict(list)
    rows = Identity.objects.filter(customer_id__any_of=set(customer_ids)).order_by(
        "-verified", "created_at", "id"
    )
    for customer_id, channel, value in rows.values_list("customer_id", "channel", "value"):
        found[customer_id].append(Address(channel, value))
    return found


@dataclass(frozen=True)
class Reachability:
    """What routing needs to know about a batch of customers, read once for the batch."""

    identities: dict[int, list[Address]]
    invalid: dict[int, set[tuple[str, str]]]

    @classmethod
    def of(cls, customer_ids: Iterable[int]) -> Reachability:
        ids = set(customer_ids)
        return cls(identities_of(ids), invalid_addresses(ids))


def resolve_route(
    message: OutboundMessage, customer: Customer, known: Reachability | None = None
) -> Route | None:
    """The asked-for channel if the customer is reachable on it, else the preferred one, else any other."""
    if message.channel == MessageChannel.PORTAL:
        return Route(MessageChannel.PORTAL, "")
    known = known or Reachability.of([customer.pk])
    invalid = known.invalid.get(customer.pk, set())
    if message.recipient and (IDENTITY_FOR_CHANNEL.get(message.channel), message.recipient) not in invalid:
        return Route(message.channel, message.recipient)
    order: list[str] = [message.channel]
    if preferred := CHANNEL_FOR_PREFERENCE.get(customer.preferred_channel):
        order.append(preferred)
    order.extend(FALLBACK_ORDER)
    identities = known.identities.get(customer.pk, [])
    for channel in dict.fromkeys(order):
        needed = IDENTITY_FOR_CHANNEL.get(channel)
        for identity in identities:
            if identity.channel == needed and (identity.channel, identity.value) not in invalid:
                return Route(channel, identity.value)
    return None
