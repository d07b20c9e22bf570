"""Putting customers into journeys: one at a time (with a timeline event) or in bulk (broadcasts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.journeys.holdout import is_holdout
from tenure.journeys.models import Enrollment, EnrollmentState, Journey, Reentry

EVENT_SOURCE = "journeys"
BULK_BATCH = 2_000


def _blocked_by_reentry(journey: Journey, customer_ids: Iterable[int]) -> set[int]:
    """Customers the journey's re-entry rule keeps out right now."""
    if journey.reentry == Reentry.ALWAYS:
        return set()
    existing = Enrollment.objects.filter(journey=journey, customer_id__in=list(customer_ids))
    if journey.reentry == Reentry.AFTER_FINISH:
        existing = existing.filter(state=EnrollmentState.ACTIVE)
    return set(existing.values_list("customer_id", flat=True))


def enroll(
    *,
    journey: Journey,
    customer: Customer,
    trigger_key: str,
    context: Mapping[str, Any] | None = None,
    start_at: dt.datetime | None = None,
    actor: str = "",
) -> Enrollment | None:
    """Enroll one customer; None if the journey is off, re-entry forbids it, or this trigger already enrolled them.

    The first step runs at `start_at` (default now) by the step runner, never inline, so the caller's
    transaction stays short and a crash cannot run a step twice.
    """
    if not journey.is_active or customer.pk in _blocked_by_reentry(journey, [customer.pk]):
        return None
    now = timezone.now()
    holdout = is_holdout(customer.pk, journey.key, journey.holdout_percent)
    try:
        with transaction.atomic():
            enrollment, created = Enrollment.objects.get_or_create(
                journey=journey,
                customer=customer,
                trigger_key=trigger_key[:120],
                defaults={
                    "holdout": holdout,
                    "context": dict(context or {}),
                    "enrolled_at": now,
                    "next_step_at": start_at or now,
                },
            )
    except IntegrityError:
        return None
    if not created:
        return None
    record_event(
        customer_id=customer.pk,
        kind="journey.enrolled",
        channel="system",
        actor=actor,
        source=EVENT_SOURCE,
        idempotency_key=f"enrolled:{enrollment.pk}",
        payload={
            "journey": journey.name,
            "journey_key": journey.key,
            "holdout": holdout,
            "first_step_at": enrollment.next_step_at.isoformat() if enrollment.next_step_at else None,
        },
    )
    return enrollment


def enroll_many(
    *,
    journey: Journey,
    customer_ids: Iterable[int],
    trigger_key: str,
    context: Mapping[str, Any] | None = None,
    start_at: dt.datetime | None = None,
) -> int:
    """Enroll an audience in bulk (a broadcast, a benchmark); returns how many were enrolled.

    No timeline event per customer: the enrollment rows are the record, and the customer page reads
    them. Re-running with the same `trigger_key` enrolls nobody twice.
    """
    if not journey.is_active:
        return 0
    now = timezone.now()
    ids = list(dict.fromkeys(customer_ids))
    created = 0
    for offset in range(0, len(ids), BULK_BATCH):
        chunk = ids[offset : offset + BULK_BATCH]
        blocked = _blocked_by_reentry(journey, chunk)
        rows = [
            Enrollment(
                journey=journey,
                customer_id=customer_id,
                trigger_key=trigger_key[:120],
                holdout=is_holdout(customer_id, journey.key, journey.holdout_percent),
                context=dict(context or {}),
                enrolled_at=now,
                next_step_at=start_at or now,
            )
            for customer_id in chunk
            if customer_id not in blocked
        ]
        with transaction.atomic():
            before = Enrollment.objects.filter(journey=journey, trigger_key=trigger_key[:120]).count()
            Enrollment.objects.bulk_create(rows, ignore_conflicts=True)
            created += (
                Enrollment.objects.filter(journey=journey, trigger_key=trigger_key[:120]).count() - before
            )
    return created
