"""The reaper: tasks left RUNNING by a worker that died go back to the queue.

A worker proves it is alive through its `WorkerHeartbeat` row. A RUNNING task whose last worker has
not been seen for `TENURE_WORKER_STALE_SECONDS` was orphaned (kill -9, power cut, OOM): it becomes
READY again, keeping its `worker_ids` history so the attempts stay visible. A task that has already
taken down `MAX_ATTEMPTS` workers is marked FAILED instead, so one poisonous task cannot crash the
pool forever.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tenure.core.models import WorkerHeartbeat
from tenure.core.services import audit

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def stale_before(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=settings.TENURE_WORKER_STALE_SECONDS)


def reap_orphaned_tasks(now: dt.datetime | None = None) -> int:
    """Re-queue (or fail) tasks whose worker is gone; return how many were re-queued or failed."""
    now = now or timezone.now()
    cutoff = stale_before(now)
    # IMMEDIATE transactions on SQLite (see settings) make this the only writer while it runs.
    with transaction.atomic():
        alive = set(
            WorkerHeartbeat.objects.filter(last_seen_at__gte=cutoff).values_list("worker_id", flat=True)
        )
        running = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).order_by("started_at")
        if connections[running.db].features.has_select_for_update_skip_locked:
            # Another reaper (or the worker finishing the task) holds the row: leave it to them.
            running = running.select_for_update(skip_locked=True)
        handled = 0
        for result in running:
            worker_id = result.worker_ids[-1] if result.worker_ids else None
            if worker_id in alive:
                continue
            _release(result, worker_id, now)
            handled += 1
        WorkerHeartbeat.objects.filter(last_seen_at__lt=cutoff).delete()
    return handled


def _release(result: DBTaskResult, worker_id: str | None, now: dt.datetime) -> None:
    details = {
        "task_path": result.task_path,
        "worker_id": worker_id,
        "started_at": result.started_at.isoformat() if result.started_at else None,
        "attempts": len(result.worker_ids),
    }
    if len(result.worker_ids) >= MAX_ATTEMPTS:
        result.status = TaskResultStatus.FAILED
        result.finished_at = now
        result.exception_class_path = "tenure.core.reaper.WorkerDied"
        result.traceback = (
            f"The worker running this task died {len(result.worker_ids)} times; not retrying.\n"
        )
        result.save(update_fields=["status", "finished_at", "exception_class_path", "traceback"])
        action = "task.failed_worker_died"
        logger.error(
            "Task %s (%s) failed: its workers died %d times", result.id, result.task_path, MAX_ATTEMPTS
        )
    else:
        result.status = TaskResultStatus.READY
        result.started_at = None
        result.save(update_fields=["status", "started_at"])
        action = "task.requeued"
        logger.warning("Re-queued task %s (%s): worker %s is gone", result.id, result.task_path, worker_id)
    audit(actor=None, action=action, object_type="task", object_id=result.id, details=details)
