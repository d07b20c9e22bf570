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
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tenure.core.scheduling import lock_scheduling

BatchRunner = Callable[[dt.datetime], int]
NextDue = Callable[[], dt.datetime | None]

# Below the default 0: a waiting sweep runs before another drain.
DRAIN_PRIORITY = -10
# With nothing due, a drain stays only if something falls due within IDLE_WAIT_SECONDS (or is due but
# held by another worker's claim), looking again this often at most (see `idle_pause`).
IDLE_POLL_SECONDS = 0.1
IDLE_WAIT_SECONDS = 1.0


@dataclass(frozen=True)
class Stage:
    run_batch: BatchRunner
    next_due: NextDue


_STAGES: dict[str, Stage] = {}


def register_batch(name: str, runner: BatchRunner, next_due: NextDue) -> None:
    """`runner(now)` claims and handles one batch of due work and returns how many rows it handled;
    `next_due()` is when the stage's next row falls due (None when nothing waits), one indexed read."""
    _STAGES[name] = Stage(runner, next_due)


def registered_batches() -> dict[str, BatchRunner]:
    return {name: stage.run_batch for name, stage in _STAGES.items()}


def soonest_due() -> dt.datetime | None:
    """When the next row of any stage falls due; None when no stage has anything waiting."""
    return min(filter(None, (stage.next_due() for stage in _STAGES.values())), default=None)


def start_drains(*, replacing_self: bool = False, at: dt.datetime | None = None) -> int:
    """Enqueue drain tasks, to run at `at` (default now), until `TENURE_DRAINERS` are pending; returns
    how many it enqueued."""
    with transaction.atomic():
        pending = DBTaskResult.objects.filter(
            task_path=drain.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        )
        lock_scheduling(pending.db, drain.module_path)
        missing = settings.TENURE_DRAINERS - pending.count() + (1 if replacing_self else 0)
        for _ in range(max(missing, 0)):
            drain.using(run_after=at or timezone.now()).enqueue()
    return max(missing, 0)


def drain_when_due(next_sweep_at: dt.datetime) -> int:
    """If something falls due before the next sweep, have drains start when it does, so a timer fires
    on time rather than up to a sweep interval late. Returns how many drains it enqueued."""
    soonest = soonest_due()
    if soonest is None or soonest >= next_sweep_at:
        return 0
    return start_drains(at=max(soonest, timezone.now()))


def idle_pause(until_due: float) -> float:
    """How long an idle drain sleeps when the next row falls due in `until_due` seconds: until then, so the
    timer fires on time rather than up to a poll late, but never longer than a poll (something may be
    queued due sooner meanwhile); a poll when the row is due already (another worker holds it)."""
    if until_due <= 0:
        return IDLE_POLL_SECONDS
    return min(until_due, IDLE_POLL_SECONDS)


def run_each_batch() -> int:
    """One batch of every registered kind of work, in registration order; how many rows they handled."""
    return sum(stage.run_batch(timezone.now()) for stage in _STAGES.values())


@task(priority=DRAIN_PRIORITY)
def drain() -> int:
    """Run batches until nothing is due nor about to be, or the time is up; returns the rows handled."""
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
        soonest = soonest_due()
        until_due = (soonest - timezone.now()).total_seconds() if soonest is not None else None
        if (
            until_due is None
            or until_due > IDLE_WAIT_SECONDS
            or time.monotonic() - idle_since >= IDLE_WAIT_SECONDS
        ):
            return handled
        time.sleep(idle_pause(until_due))
    start_drains(replacing_self=True)
    return handled
