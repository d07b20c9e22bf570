"""The shape of a demo company: the few figures that show it looks like a real business."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count

from tenure.core.models import Event
from tenure.customers.models import Customer
from tenure.demo.history import DemoData

YEAR = dt.timedelta(days=365)


@dataclass(frozen=True)
class DemoShape:
    customers: int
    lifecycle: dict[str, int]
    events: int
    events_by_kind: dict[str, int]
    # Of the paying customers at the start of the last 12 months, the share lost within them.
    churn_12m: float
    # Of all contacts (requests and call-backs), the share that are call-backs about an earlier request.
    callback_share: float


def churn_last_year(
    customers: Iterable[tuple[str, dt.datetime, dt.datetime | None]], end: dt.datetime
) -> float:
    """`customers` are (lifecycle, joined, lost_at); prospects never paid, so they cannot churn."""
    start = end - YEAR
    at_start = lost = 0
    for lifecycle, joined, lost_at in customers:
        if lifecycle == "prospect" or joined >= start or (lost_at is not None and lost_at < start):
            continue
        at_start += 1
        lost += lost_at is not None and lost_at <= end
    return lost / at_start if at_start else 0.0


def callback_share(kinds: dict[str, int]) -> float:
    contacts = kinds.get("request.received", 0) + kinds.get("request.callback", 0)
    return kinds.get("request.callback", 0) / contacts if contacts else 0.0


def shape_from_data(data: DemoData) -> DemoShape:
    """The shape of a simulated company, before anything is written."""
    kinds = dict(Counter(event.kind for event in data.events))
    return DemoShape(
        customers=len(data.customers),
        lifecycle=dict(Counter(customer.lifecycle for customer in data.customers)),
        events=len(data.events),
        events_by_kind=kinds,
        churn_12m=churn_last_year(((c.lifecycle, c.created_at, c.lost_at) for c in data.customers), data.end),
        callback_share=callback_share(kinds),
    )


def shape_from_database(source: str, end: dt.datetime) -> DemoShape:
    """The shape of the demo customers as stored now (they may have changed since the build)."""
    events = Event.objects.filter(source=source)
    demo_customers = Customer.objects.filter(
        pk__in=events.filter(kind="customer.created").values("customer_id")
    )
    kinds = dict(events.values_list("kind").annotate(n=Count("id")).order_by())
    lifecycle = dict(demo_customers.values_list("lifecycle").annotate(n=Count("id")).order_by())
    return DemoShape(
        customers=sum(lifecycle.values()),
        lifecycle=lifecycle,
        events=sum(kinds.values()),
        events_by_kind=kinds,
        churn_12m=churn_last_year(demo_customers.values_list("lifecycle", "created_at", "lost_at"), end),
        callback_share=callback_share(kinds),
    )
