"""Nightly scoring: a chained task whose next run is a row in the task table, kept alive by a sweeper.

Each run scores every customer and enqueues the next one for the following night (SCORING_HOUR in the
business time zone) with `run_after`, so the schedule is data and survives restarts. The sweeper
`ensure_nightly_scoring` (registered by the insights app) re-creates the chain if no run is waiting,
for example on a fresh install or after a run was deleted. A lock around "is one waiting? if not,
enqueue" keeps two workers from forking the chain.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone
from django_tasks import task

from tenure.core.scheduling import enqueue_once

logger = logging.getLogger(__name__)

SCORING_HOUR = 2  # 02:00 business time: after the day's events, before anyone opens the at-risk list


def next_run(after: dt.datetime) -> dt.datetime:
    """The first SCORING_HOUR o'clock (business time zone) strictly after `after`."""
    local = timezone.localtime(after)
    candidate = local.replace(hour=SCORING_HOUR, minute=0, second=0, microsecond=0)
    if candidate <= local:
        candidate = timezone.make_aware(
            dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(SCORING_HOUR)), local.tzinfo
        )
    return candidate.astimezone(dt.UTC)


@task()
def nightly_scoring() -> dict[str, Any]:
    """Score every customer and refresh the reports, then schedule tomorrow's run (whatever happened)."""
    # Imported here so registering the sweeper at start-up does not load LightGBM and scikit-learn.
    from tenure.insights.services import run_insights

    try:
        outcome = run_insights()
        if outcome.scoring_skipped:
            logger.info("Nightly scoring skipped: %s", outcome.scoring_skipped)
        return outcome.as_dict()
    finally:
        schedule_nightly_scoring(waiting_only=True)


def schedule_nightly_scoring(*, now: dt.datetime | None = None, waiting_only: bool = False) -> bool:
    """Enqueue the next night's run unless one is pending (READY, or RUNNING unless `waiting_only`)."""
    return enqueue_once(nightly_scoring, run_after=next_run(now or timezone.now()), waiting_only=waiting_only)


def ensure_nightly_scoring(now: dt.datetime) -> int:
    """Sweeper handler: 1 when it had to (re)start the nightly chain, else 0."""
    return int(schedule_nightly_scoring(now=now))
