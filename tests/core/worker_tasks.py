"""Tasks the worker tests enqueue; importable by a worker subprocess with the repo root on PYTHONPATH."""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task


@task()
def wait_for_file(path: str) -> str:
    """Block until `path` exists: a task that is reliably RUNNING when the test kills its worker."""
    target = Path(path)
    while not target.exists():
        time.sleep(0.05)
    return "released"


@task()
def noop() -> None:
    return None
