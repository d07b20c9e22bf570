"""`tenure worker`: run background tasks, the sweeper and the reaper until stopped."""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_tasks_db.compat import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import (
    Worker,
    valid_backend_name,
    valid_interval,
    valid_max_tasks,
    validate_worker_id,
)

from tenure.core.worker import make_worker_id, run_worker

LOGGERS = ("tenure", "django_tasks_db", "django_tasks", "django.tasks")


class Command(BaseCommand):
    help = (
        "Run a background worker: claims queued tasks, keeps a heartbeat, re-queues tasks of dead "
        "workers and keeps the periodic sweep scheduled. Never auto-reloads. Stop with Ctrl+C or "
        "SIGTERM; the task in hand is finished first."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--interval",
            type=valid_interval,
            default=1.0,
            help="Seconds to wait when the queue is empty before looking again (default: %(default)s)",
        )
        parser.add_argument("--batch", action="store_true", help="Run every task that is due now, then exit.")
        parser.add_argument(
            "--max-tasks", type=valid_max_tasks, default=None, help="Exit after running this many tasks."
        )
        parser.add_argument(
            "--queue-name",
            default=DEFAULT_TASK_QUEUE_NAME,
            help="Queues to process, comma separated; '*' for all (default: %(default)s)",
        )
        parser.add_argument(
            "--backend",
            type=valid_backend_name,
            default=DEFAULT_TASK_BACKEND_ALIAS,
            dest="backend_name",
            help="Task backend to work for (default: %(default)s)",
        )
        parser.add_argument(
            "--worker-id",
            type=validate_worker_id,
            default=None,
            help="Unique id of this worker (default: hostname-pid-random)",
        )
        parser.add_argument(
            "--no-startup-delay",
            action="store_false",
            dest="startup_delay",
            help="Start claiming at once instead of after a random delay of up to a second.",
        )
        parser.add_argument(
            "--no-sweep",
            action="store_false",
            dest="sweep",
            help="Do not schedule the periodic sweep at start-up (another worker does).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._configure_logging(options["verbosity"])
        queue_names = [name.strip() for name in options["queue_name"].split(",") if name.strip()]
        if not queue_names:
            raise CommandError("--queue-name: give at least one queue, or '*' for all")
        worker = Worker(
            queue_names=queue_names,
            interval=options["interval"],
            batch=options["batch"],
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"] or make_worker_id(),
            excluded_queue_names=[],
        )
        self.stdout.write(f"Worker {worker.worker_id} started (queues: {', '.join(queue_names)})")
        run_worker(worker, settings.TENURE_WORKER_HEARTBEAT_SECONDS, sweep=options["sweep"])

    def _configure_logging(self, verbosity: int) -> None:
        # Every task start and finish is logged at INFO; by default show only what needs attention.
        level = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(verbosity, logging.DEBUG)
        for name in LOGGERS:
            logging.getLogger(name).setLevel(level)
