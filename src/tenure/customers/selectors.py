"""Reads of customers and their timelines, in the shapes pages and the API need."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from tenure.core.models import Event
from tenure.customers.models import Customer, Identity

TIMELINE_PAGE = 50


def customers(*, search: str = "", lifecycle: str = "", tag: str = "") -> QuerySet[Customer]:
    """Live (not merged-away) customers matching a free-text search on name, reference or address."""
    rows = Customer.objects.filter(merged_into__isnull=True)
    if lifecycle:
        rows = rows.filter(lifecycle=lifecycle)
    if tag:
        rows = rows.filter(tags__name=tag.strip().lower())
    term = search.strip()
    if term:
        matched_by_identity = Identity.objects.filter(value__icontains=term.lower()).values("customer_id")
        rows = rows.filter(
            Q(name__icontains=term) | Q(external_ref__iexact=term) | Q(pk__in=matched_by_identity)
        )
    return rows.select_related("assigned_rep").order_by("name", "id")


def customer_by_id(customer_id: int) -> Customer:
    """The customer, following merges so an old id still finds the surviving record."""
    customer = Customer.objects.select_related("assigned_rep").get(pk=customer_id)
    seen = {customer.pk}
    while customer.merged_into_id is not None and customer.merged_into_id not in seen:
        seen.add(customer.merged_into_id)
        customer = Customer.objects.select_related("assigned_rep").get(pk=customer.merged_into_id)
    return customer


@dataclass(frozen=True)
class TimelinePage:
    events: Sequence[Event]
    next_cursor: str | None


def encode_cursor(event: Event) -> str:
    raw = f"{event.occurred_at.isoformat()}|{event.pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        occurred, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition("|")
        return dt.datetime.fromisoformat(occurred), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": "not a cursor this API returned"}) from None


def timeline(
    customer: Customer,
    *,
    kinds: Sequence[str] = (),
    channels: Sequence[str] = (),
    cursor: str | None = None,
    limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """Newest first; `cursor` continues after the last event of the previous page (stable under inserts)."""
    rows = Event.objects.filter(customer=customer)
    if kinds:
        rows = rows.filter(kind__in=kinds)
    if channels:
        rows = rows.filter(channel__in=channels)
    if cursor:
        occurred_at, pk = decode_cursor(cursor)
        rows = rows.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, pk__lt=pk))
    page = list(rows.order_by("-occurred_at", "-id")[: limit + 1])
    next_cursor = encode_cursor(page[limit - 1]) if len(page) > limit else None
    return TimelinePage(events=page[:limit], next_cursor=next_cursor)


def timeline_facets(customer: Customer) -> tuple[list[str], list[str]]:
    """The kinds and channels present on a customer's timeline, for the filter menus."""
    rows = Event.objects.filter(customer=customer)
    kinds = sorted(set(rows.values_list("kind", flat=True).distinct()))
    channels = sorted(set(rows.exclude(channel="").values_list("channel", flat=True).distinct()))
    return kinds, channels
