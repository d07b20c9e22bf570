"""Helpers for tests that run real `tenure worker` processes against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# A guard against hangs, not a speed assertion: generous enough for a loaded two-core machine.
DEADLINE_SECONDS = 120.0


def wait_until(check: Callable[[], T | None], what: str, deadline: float = DEADLINE_SECONDS) -> T:
    """Poll `check` until it returns something truthy and return that."""
    give_up = time.monotonic() + deadline
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > give_up:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_database_url() -> str:
    """A DATABASE_URL that points a subprocess at the database this test is using."""
    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    assert connection.vendor == "postgresql", connection.vendor
    user = quote(config["USER"] or "", safe="")
    password = f":{quote(config['PASSWORD'], safe='')}" if config["PASSWORD"] else ""
    host = config["HOST"] or "localhost"
    port = f":{config['PORT']}" if config["PORT"] else ""
    return f"postgres://{user}{password}@{host}{port}/{config['NAME']}"


test_database_url.__test__ = False  # type: ignore[attr-defined]


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log = log

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_exit(self) -> int:
        give_up = time.monotonic() + DEADLINE_SECONDS
        while (code := self.process.poll()) is None:
            if time.monotonic() > give_up:
                raise AssertionError(f"worker {self.pid} did not exit; its output:\n{self.output()}")
            time.sleep(0.05)
        return code


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `python -m tenure worker ARGS` against the test database; leftovers are killed afterwards."""
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started)}.log"
        python_path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        child_env = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "TENURE_DATA_DIR": str(settings.DATA_DIR),
            "PYTHONPATH": python_path,
            "TENURE_WORKER_HEARTBEAT_SECONDS": "0.2",
            **(env or {}),
        }
        with log.open("wb") as handle:
            process = subprocess.Popen(
                [sys.executable, "-m", "tenure", "worker", "--interval", "0.1", "--no-startup-delay", *args],
                env=child_env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )
        worker = WorkerProcess(process, log)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.process.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
            worker.process.wait()
