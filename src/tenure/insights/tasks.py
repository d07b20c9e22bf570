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
import zlib
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

SCORING_HOUR = 2  # 02:00 business time: after the day's events, before anyone opens the at-risk list
_SCHEDULE_LOCK = zlib.crc32(b"tenure.insights.tasks.nightly_scoring")


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
    """Score every customer, then schedule tomorrow's run (also when this one could not score)."""
    # Imported here so registering the sweeper at start-up does not load LightGBM and scikit-learn.
    from tenure.insights.churn import ChurnDataError
    from tenure.insights.scoring import score_customers

    try:
        return score_customers().as_dict()
    except ChurnDataError as error:
        # Too little history is an expected state for a young install: say so, make up nothing.
        logger.info("Nightly scoring skipped: %s", error)
        return {"skipped": str(error)}
    finally:
        schedule_nightly_scoring(waiting_only=True)


def _lock_schedule(using: str) -> None:
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEDULE_LOCK])
    # SQLite: transactions are IMMEDIATE (see settings), so holding one already excludes other writers.


def schedule_nightly_scoring(*, now: dt.datetime | None = None, waiting_only: bool = False) -> bool:
    """Enqueue the next night's run unless one is pending (READY, or RUNNING unless `waiting_only`)."""
    statuses = (
        [TaskResultStatus.READY] if waiting_only else [TaskResultStatus.READY, TaskResultStatus.RUNNING]
    )
    with transaction.atomic():
        pending = DBTaskResult.objects.filter(task_path=nightly_scoring.module_path, status__in=statuses)
        _lock_schedule(pending.db)
        if pending.exists():
            return False
        nightly_scoring.using(run_after=next_run(now or timezone.now())).enqueue()
    return True


def ensure_nightly_scoring(now: dt.datetime) -> int:
    """Sweeper handler: 1 when it had to (re)start the nightly chain, else 0."""
    return int(schedule_nightly_scoring(now=now))
