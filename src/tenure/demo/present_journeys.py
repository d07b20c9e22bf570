"""A handful of live journey enrollments for the demo, beside those the seeded present starts itself
(booking a visit starts its reminder, a finished job its check-in)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

from tenure.customers.models import Customer
from tenure.journeys import services as journeys
from tenure.journeys.models import Enrollment, EnrollmentState, Journey

WIN_BACK = "win-back"
WIN_BACKS = 6


def seed_enrollments(*, seed: int, lapsed: Sequence[Customer], now: dt.datetime) -> int:
    """Enroll a few lapsed customers in win-back, their first step due over the next day; returns how many."""
    journey = Journey.objects.filter(key=WIN_BACK, is_active=True).first()
    if journey is None:
        return 0
    rng = random.Random(f"journeys:{seed}")
    enrolled = 0
    for customer in rng.sample(list(lapsed), min(WIN_BACKS, len(lapsed))):
        start = now + dt.timedelta(hours=rng.uniform(2, 26))
        if journeys.enroll(
            journey=journey, customer=customer, trigger_key=f"demo:{seed}", start_at=start, actor="system"
        ):
            enrolled += 1
    return enrolled


def active_enrollments() -> int:
    return Enrollment.objects.filter(state=EnrollmentState.ACTIVE, next_step_at__isnull=False).count()
