"""Background tasks of the shared kernel: the periodic sweep.

The sweep is one chained task: each run re-enqueues the next with `run_after` one interval later, so
the schedule lives in the task table and survives restarts. At most one sweep waits in the queue:
scheduling checks for a waiting one under a lock, so two workers starting together, or a sweep that
was re-queued by the reaper, never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tenure.core.drain import drain, drain_when_due
from tenure.core.reaper import reap_orphaned_tasks
from tenure.core.scheduling import enqueue_once
from tenure.core.sweeper import registered_sweepers

logger = logging.getLogger(__name__)

# A sweep every few seconds, and the drains it starts when timers fall due between sweeps, are thousands of
# rows a day; finished ones are kept this long, failed ones always.
KEEP_FINISHED_SWEEPS = dt.timedelta(hours=1)


@task()
def sweep() -> dict[str, int | list[str]]:
    """Re-queue orphaned tasks, run every registered sweeper, prune old sweeps and drains, schedule the next.

    Returns the count each sweeper handled and the names of the ones that failed.
    """
    now = timezone.now()
    handled: dict[str, int] = {}
    failed: list[str] = []
    for name, handler in [("core.reaper", reap_orphaned_tasks), *registered_sweepers().items()]:
        try:
            handled[name] = handler(now)
        except Exception:
            # One broken sweeper must not stop the others or the chain of sweeps.
            logger.exception("Sweeper %s failed", name)
            failed.append(name)
    DBTaskResult.objects.filter(
        task_path__in=[sweep.module_path, drain.module_path],
        status=TaskResultStatus.SUCCESSFUL,
        finished_at__lt=now - KEEP_FINISHED_SWEEPS,
    ).delete()
    next_sweep_at = now + dt.timedelta(seconds=settings.TENURE_SWEEP_INTERVAL_SECONDS)
    drain_when_due(next_sweep_at)
    schedule_sweep(at=next_sweep_at, waiting_only=True)
    return {**handled, "failed": failed}


def schedule_sweep(*, at: dt.datetime | None = None, waiting_only: bool = False) -> bool:
    """Enqueue a sweep to run at `at` (default now) unless one is already pending; True if it did."""
    return enqueue_once(sweep, run_after=at, waiting_only=waiting_only)


def ensure_sweep_scheduled() -> bool:
    """Worker start-up: make sure the chain of sweeps is running; True if a sweep was enqueued."""
    return schedule_sweep()
