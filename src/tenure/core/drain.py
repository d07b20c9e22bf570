"""Drain tasks: when more is due than one sweep takes, every idle worker helps, with whatever is due.

The sweep runs in one worker at a time and takes one batch of each kind of work per interval. When a
batch comes back full, its sweeper calls `start_drains`: up to `TENURE_DRAINERS` drain tasks wait in the
queue. A worker that takes one runs every registered batch in turn (journey steps, outbox deliveries)
until nothing is due or `TENURE_DRAIN_SECONDS` are up, then hands over to a fresh drain if work remains,
so sweeps and other tasks get their turn in between. Each stage of a pipeline therefore runs on every
busy worker: a journey step that queues a message never waits for a worker held by a delivery drain.
Claims never overlap (SKIP LOCKED on PostgreSQL, one writer at a time on SQLite).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tenure.core.scheduling import lock_scheduling

BatchRunner = Callable[[dt.datetime], int]

# Below the default 0: a waiting sweep runs before another drain.
DRAIN_PRIORITY = -10
# With nothing due, a drain looks again this often, for up to IDLE_WAIT_SECONDS, before it exits.
IDLE_POLL_SECONDS = 0.1
IDLE_WAIT_SECONDS = 1.0

_BATCHES: dict[str, BatchRunner] = {}


def register_batch(name: str, runner: BatchRunner) -> None:
    """`runner(now)` claims and handles one batch of due work and returns how many rows it handled."""
    _BATCHES[name] = runner


def registered_batches() -> dict[str, BatchRunner]:
    return dict(_BATCHES)


def start_drains(*, replacing_self: bool = False) -> int:
    """Enqueue drain tasks until `TENURE_DRAINERS` are pending; returns how many it enqueued."""
    with transaction.atomic():
        pending = DBTaskResult.objects.filter(
            task_path=drain.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        )
        lock_scheduling(pending.db, drain.module_path)
        missing = settings.TENURE_DRAINERS - pending.count() + (1 if replacing_self else 0)
        for _ in range(max(missing, 0)):
            drain.enqueue()
    return max(missing, 0)


def run_each_batch() -> int:
    """One batch of every registered kind of work, in registration order; how many rows they handled."""
    return sum(runner(timezone.now()) for runner in registered_batches().values())


@task(priority=DRAIN_PRIORITY)
def drain() -> int:
    """Run batches until nothing has been due for a second or the time is up; returns the rows handled."""
    stop_at = time.monotonic() + settings.TENURE_DRAIN_SECONDS
    idle_since: float | None = None
    handled = 0
    while time.monotonic() < stop_at:
        count = run_each_batch()
        handled += count
        if count:
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= IDLE_WAIT_SECONDS:
            return handled
        time.sleep(IDLE_POLL_SECONDS)
    start_drains(replacing_self=True)
    return handled
