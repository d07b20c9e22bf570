"""Drain tasks: when more is due than one sweep's batch, several workers deliver at once.

The sweep runs in one worker at a time, so on its own it delivers one batch per sweep interval. When a
batch comes back full, it starts up to `TENURE_OUTBOX_DRAINERS` drain tasks; any idle worker picks one up
and delivers batch after batch (claims never overlap: SKIP LOCKED) for up to `TENURE_OUTBOX_DRAIN_SECONDS`,
then hands over to a fresh drain if work remains, so sweeps and other tasks get their turn in between.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tenure.core.outbox.claim import DUE_STATUSES
from tenure.core.outbox.delivery import deliver_batch
from tenure.core.outbox.settings import OutboxSettings, current
from tenure.core.outbox_models import OutboundMessage
from tenure.core.scheduling import _lock as lock_scheduling

# Below the default 0: a waiting sweep runs before another drain.
DRAIN_PRIORITY = -10
# With nothing due, a drain waits for rows falling due this soon instead of exiting.
IDLE_WAIT_SECONDS = 1.0


def start_drains(config: OutboxSettings, *, replacing_self: bool = False) -> int:
    """Enqueue drain tasks until `config.drainers` are pending; returns how many it enqueued."""
    with transaction.atomic():
        pending = DBTaskResult.objects.filter(
            task_path=drain.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
        )
        lock_scheduling(pending.db, drain.module_path)
        missing = config.drainers - pending.count() + (1 if replacing_self else 0)
        for _ in range(max(missing, 0)):
            drain.enqueue()
    return max(missing, 0)


def _next_due_within(seconds: float) -> bool:
    soon = timezone.now() + dt.timedelta(seconds=seconds)
    return OutboundMessage.objects.filter(status__in=DUE_STATUSES, send_after__lte=soon).exists()


@task(priority=DRAIN_PRIORITY)
def drain() -> int:
    """Deliver batches until nothing is due or the time is up; returns how many rows it handled."""
    config = current()
    stop_at = time.monotonic() + config.drain_seconds
    handled = 0
    while time.monotonic() < stop_at:
        count = deliver_batch(timezone.now(), config)
        handled += count
        if count:
            continue
        if not _next_due_within(IDLE_WAIT_SECONDS):
            return handled
        time.sleep(0.1)
    start_drains(config, replacing_self=True)
    return handled
