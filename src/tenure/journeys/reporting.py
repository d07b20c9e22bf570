"""Per journey: enrolled, sent, replies, and retention of treated vs holdout customers.

Each customer counts once per journey, from their first enrollment. A customer is retained at a
horizon if they were not marked lost within that many days of enrolling; only enrollments at least
that old count at that horizon, so young journeys report fewer customers at 180 days than at 30.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone

from tenure.core.models import Event
from tenure.journeys.facts import reply_kinds
from tenure.journeys.models import Enrollment, Journey, StepRun
from tenure.journeys.stats import Interval, newcombe_difference, wilson

HORIZONS = (30, 90, 180)
REPLY_WINDOW = dt.timedelta(days=14)


@dataclass(frozen=True)
class Arm:
    customers: int
    retained: int
    rate: Interval | None


@dataclass(frozen=True)
class Horizon:
    days: int
    treated: Arm
    holdout: Arm
    # Treated minus holdout retention, with a 95% interval; None when an arm is empty.
    difference: Interval | None


@dataclass
class JourneyReport:
    journey: str
    enrolled: int
    treated: int
    holdout: int
    messages_queued: int
    messages_sent: int
    # Treated enrollments followed by a reply (any two-way contact) within 14 days.
    replied: int
    horizons: list[Horizon] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """One customer's first enrollment: when, which arm, and when (if ever) they were lost."""

    enrolled_at: dt.datetime
    holdout: bool
    lost_at: dt.datetime | None


def _arm(outcomes: list[Outcome], days: int) -> Arm:
    retained = sum(
        1 for o in outcomes if o.lost_at is None or o.lost_at > o.enrolled_at + dt.timedelta(days=days)
    )
    return Arm(len(outcomes), retained, wilson(retained, len(outcomes)))


def horizons(
    outcomes: list[Outcome], now: dt.datetime, days_list: tuple[int, ...] = HORIZONS
) -> list[Horizon]:
    result = []
    for days in days_list:
        mature = [o for o in outcomes if o.enrolled_at + dt.timedelta(days=days) <= now]
        treated = _arm([o for o in mature if not o.holdout], days)
        holdout = _arm([o for o in mature if o.holdout], days)
        difference = newcombe_difference(
            treated.retained, treated.customers, holdout.retained, holdout.customers
        )
        result.append(Horizon(days, treated, holdout, difference))
    return result


def first_outcomes(journey: Journey) -> list[Outcome]:
    seen: set[int] = set()
    outcomes = []
    rows = (
        Enrollment.objects.filter(journey=journey)
        .order_by("enrolled_at", "id")
        .values_list("customer_id", "enrolled_at", "holdout", "customer__lost_at")
    )
    for customer_id, enrolled_at, holdout, lost_at in rows.iterator(chunk_size=5_000):
        if customer_id not in seen:
            seen.add(customer_id)
            outcomes.append(Outcome(enrolled_at, holdout, lost_at))
    return outcomes


def journey_report(journey: Journey, now: dt.datetime | None = None) -> JourneyReport:
    now = now or timezone.now()
    enrollments = Enrollment.objects.filter(journey=journey)
    replies = Event.objects.filter(
        customer_id=OuterRef("customer_id"),
        kind__in=reply_kinds(),
        occurred_at__gt=OuterRef("enrolled_at"),
        occurred_at__lte=OuterRef("enrolled_at") + REPLY_WINDOW,
    )
    replied = enrollments.filter(holdout=False).filter(Exists(replies)).count()
    runs = StepRun.objects.filter(enrollment__journey=journey, message__isnull=False)
    outcomes = first_outcomes(journey)
    return JourneyReport(
        journey=journey.key,
        enrolled=len(outcomes),
        treated=sum(1 for o in outcomes if not o.holdout),
        holdout=sum(1 for o in outcomes if o.holdout),
        messages_queued=runs.count(),
        messages_sent=runs.filter(message__status="sent").count(),
        replied=replied,
        horizons=horizons(outcomes, now),
    )
