"""Chained tasks: at most one waiting run of a task, so a schedule kept in the task table never forks.

A chained task re-enqueues itself for its next run; start-up code and sweepers (re)start the chain.
Both go through `enqueue_once`, which checks for a pending run under a lock: two workers starting
together, or a run re-queued by the reaper, never leave two runs waiting.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from django.db import connections, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult


def lock_scheduling(using: str, task_path: str) -> None:
    """Serialise scheduling of one task for the rest of the transaction."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(task_path.encode())])
    # SQLite: our transactions are IMMEDIATE (see settings), so holding one already excludes other writers.


def enqueue_once(task: Any, *, run_after: dt.datetime | None = None, waiting_only: bool = False) -> bool:
    """Enqueue `task` to run at `run_after` (default now) unless a run is pending; True if it did.

    Pending means READY, or also RUNNING unless `waiting_only` (a running chained task asks with
    `waiting_only`, since it is about to finish). The enqueue joins the caller's transaction.
    """
    statuses = (
        [TaskResultStatus.READY] if waiting_only else [TaskResultStatus.READY, TaskResultStatus.RUNNING]
    )
    with transaction.atomic():
        pending = DBTaskResult.objects.filter(task_path=task.module_path, status__in=statuses)
        lock_scheduling(pending.db, task.module_path)
        if pending.exists():
            return False
        task.using(run_after=run_after or timezone.now()).enqueue()
    return True
