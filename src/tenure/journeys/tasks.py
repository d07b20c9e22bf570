"""Drain tasks: when more enrollments are due than one batch, every idle worker helps run them.

The sweep runs in one worker at a time. When its journeys batch comes back full it starts up to
`TENURE_JOURNEY_DRAINERS` drain tasks; each runs batch after batch (claims never overlap: SKIP LOCKED
on PostgreSQL) for up to `TENURE_JOURNEY_DRAIN_SECONDS`, then hands over to a fresh drain if work
remains, so sweeps and other tasks get their turn in between.
"""

from __future__ import annotations

import time

from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tenure.journeys.runner import batch_size, run_batch, setting

# Below the default 0: a waiting sweep runs before another drain.
DRAIN_PRIORITY = -10


def start_drains(*, replacing_self: bool = False) -> int:
    """Enqueue drains until the configured number are pending; returns how many it enqueued.

    Two sweeps racing here can leave one drain too many, which only means one more worker helps.
    """
    pending = DBTaskResult.objects.filter(
        task_path=drain.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
    ).count()
    missing = int(setting("TENURE_JOURNEY_DRAINERS", 2)) - pending + (1 if replacing_self else 0)
    for _ in range(max(missing, 0)):
        drain.enqueue()
    return max(missing, 0)


@task(priority=DRAIN_PRIORITY)
def drain() -> int:
    """Run batches until none is full or the time is up; returns how many enrollments it advanced."""
    stop_at = time.monotonic() + setting("TENURE_JOURNEY_DRAIN_SECONDS", 20)
    limit = batch_size()
    handled = 0
    while time.monotonic() < stop_at:
        count = run_batch(timezone.now(), limit)
        handled += count
        if count < limit:
            return handled
    start_drains(replacing_self=True)
    return handled
