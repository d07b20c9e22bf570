"""The `tenure worker` process: django-tasks-db's worker loop plus a heartbeat the reaper can trust.

Claiming and running tasks is django_tasks_db's `Worker`; this module adds a stable worker id, a
`WorkerHeartbeat` row kept fresh from a background thread, and the start-up chores (re-queue tasks
of dead workers, make sure the sweep is scheduled).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker

from tenure.core.models import WorkerHeartbeat
from tenure.core.reaper import reap_orphaned_tasks
from tenure.core.tasks import ensure_sweep_scheduled

logger = logging.getLogger(__name__)

WORKER_ID_MAX = 63  # django-tasks-db accepts ids shorter than 64 characters


def make_worker_id() -> str:
    """hostname-pid-random, unique across the pool and readable in the task table."""
    suffix = f"-{os.getpid()}-{secrets.token_hex(4)}"
    hostname = socket.gethostname() or "worker"
    return hostname[: WORKER_ID_MAX - len(suffix)] + suffix


class Heartbeat:
    """Keeps this worker's `WorkerHeartbeat` row fresh from a thread with its own DB connection."""

    def __init__(self, worker_id: str, interval: float, *, sweep: bool = True) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self.sweep = sweep
        # A worker killed while running the sweep leaves it RUNNING; the reaper that would re-queue it runs
        # inside the sweep, so without this the chain of sweeps stops for good. See `watch`.
        self.watch_every = max(interval, settings.TENURE_WORKER_STALE_SECONDS / 2)
        self._next_watch = time.monotonic() + self.watch_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{worker_id}", daemon=True)

    def beat(self) -> None:
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "last_seen_at": timezone.now(),
            },
        )

    def watch(self) -> None:
        """Now and then: re-queue tasks of dead workers and restart the sweep chain if it is gone."""
        if time.monotonic() < self._next_watch:
            return
        self._next_watch = time.monotonic() + self.watch_every
        reap_orphaned_tasks()
        if self.sweep:
            ensure_sweep_scheduled()

    def start(self) -> None:
        # The first beat lands before any task is claimed, so no reaper mistakes us for dead.
        self.beat()
        self._thread.start()

    def _run(self) -> None:
        # Django connections are per thread: `connection` here is this thread's own.
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                    self.watch()
                except DatabaseError:
                    # A busy or restarting database: try again next beat on a fresh connection.
                    logger.exception("Heartbeat of worker %s failed", self.worker_id)
                    connection.close()
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop beating and remove the row: a worker that leaves cleanly has nothing to reap."""
        self._stop.set()
        self._thread.join(timeout=max(self.interval, 1.0) + 30)
        WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()


def run_worker(worker: Worker, heartbeat_seconds: float, *, sweep: bool = True) -> None:
    """Run `worker` until it stops, with a heartbeat; start-up reaps orphans and schedules the sweep."""
    heartbeat = Heartbeat(worker.worker_id, heartbeat_seconds, sweep=sweep)
    heartbeat.start()
    try:
        requeued = reap_orphaned_tasks()
        if requeued:
            logger.warning("Re-queued %d task(s) left running by dead workers", requeued)
        if sweep and ensure_sweep_scheduled():
            logger.info("Scheduled the sweep")
        worker.configure_signals()
        worker.run()
    finally:
        heartbeat.stop()
        connection.close()
