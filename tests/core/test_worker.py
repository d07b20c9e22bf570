"""`tenure worker` and the reaper, with real worker processes and a real kill -9."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import AuditLog, WorkerHeartbeat
from tenure.core.reaper import MAX_ATTEMPTS, reap_orphaned_tasks
from tenure.core.worker import make_worker_id

from .conftest import REPO_ROOT, WorkerProcess, wait_until
from .worker_tasks import noop, wait_for_file

StartWorker = Callable[..., WorkerProcess]


def running_row(task_id: str) -> DBTaskResult | None:
    return DBTaskResult.objects.filter(id=task_id, status=TaskResultStatus.RUNNING).first()


# -- worker ids ------------------------------------------------------------------------------------


def test_worker_id_is_hostname_pid_random_and_short(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = make_worker_id(), make_worker_id()
    assert first != second
    assert first.startswith(f"{socket.gethostname()}-{os.getpid()}-")
    monkeypatch.setattr(socket, "gethostname", lambda: "h" * 300)
    long_host = make_worker_id()
    assert len(long_host) < 64
    assert long_host.endswith(f"-{os.getpid()}-{long_host.rsplit('-', 1)[1]}")


# -- the reaper, in process ------------------------------------------------------------------------


def claimed(worker_ids: list[str]) -> DBTaskResult:
    row = DBTaskResult.objects.get(id=noop.enqueue().id)
    for worker_id in worker_ids:
        row.claim(worker_id)
    return row


def beat(worker_id: str, seconds_ago: float) -> None:
    WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        hostname="test",
        pid=1,
        last_seen_at=timezone.now() - dt.timedelta(seconds=seconds_ago),
    )


@pytest.mark.django_db
def test_reaper_requeues_tasks_of_silent_workers_only(settings: SettingsWrapper) -> None:
    settings.TENURE_WORKER_STALE_SECONDS = 60
    beat("alive", seconds_ago=5)
    beat("stale", seconds_ago=120)
    healthy = claimed(["alive"])
    orphan_stale = claimed(["stale"])
    orphan_ghost = claimed(["earlier", "ghost"])  # never had a heartbeat row at all

    assert reap_orphaned_tasks() == 2

    healthy.refresh_from_db()
    assert healthy.status == TaskResultStatus.RUNNING
    for row, history in ((orphan_stale, ["stale"]), (orphan_ghost, ["earlier", "ghost"])):
        row.refresh_from_db()
        assert row.status == TaskResultStatus.READY
        assert row.started_at is None
        assert row.worker_ids == history
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["alive"]
    audits = AuditLog.objects.filter(action="task.requeued").order_by("object_id")
    assert sorted(a.object_id for a in audits) == sorted([str(orphan_stale.id), str(orphan_ghost.id)])
    assert all(a.actor_id is None for a in audits)
    ghost_audit = AuditLog.objects.get(object_id=str(orphan_ghost.id))
    assert ghost_audit.details["worker_id"] == "ghost"
    assert ghost_audit.details["task_path"] == noop.module_path
    # Nothing left to do: a second run changes nothing.
    assert reap_orphaned_tasks() == 0


@pytest.mark.django_db
def test_reaper_fails_a_task_that_keeps_killing_workers() -> None:
    row = claimed([f"dead-{n}" for n in range(MAX_ATTEMPTS)])
    assert reap_orphaned_tasks() == 1
    row.refresh_from_db()
    assert row.status == TaskResultStatus.FAILED
    assert row.exception_class_path == "tenure.core.reaper.WorkerDied"
    assert AuditLog.objects.filter(action="task.failed_worker_died", object_id=str(row.id)).exists()


@pytest.mark.django_db
def test_reaper_leaves_ready_and_finished_tasks_alone() -> None:
    ready = noop.enqueue()
    done = claimed(["gone"])
    done.set_successful(None)
    assert reap_orphaned_tasks() == 0
    assert DBTaskResult.objects.get(id=ready.id).status == TaskResultStatus.READY
    assert DBTaskResult.objects.get(id=done.id).status == TaskResultStatus.SUCCESSFUL


# -- real worker processes -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_task_of_a_killed_worker_is_requeued_and_finished_by_the_next(
    start_worker: StartWorker, tmp_path: Path, settings: SettingsWrapper
) -> None:
    release = tmp_path / "release"
    task_id = wait_for_file.enqueue(str(release)).id
    first = start_worker()

    row = wait_until(lambda: running_row(task_id), "the first worker to start the task")
    dead_worker = row.worker_ids[-1]
    assert WorkerHeartbeat.objects.filter(worker_id=dead_worker, pid=first.pid).exists()

    os.kill(first.pid, signal.SIGKILL)
    assert first.wait_exit() == -signal.SIGKILL
    # Killed workers leave their heartbeat behind; it only goes stale.
    assert WorkerHeartbeat.objects.filter(worker_id=dead_worker).exists()

    settings.TENURE_WORKER_STALE_SECONDS = 1.0

    def reaped() -> bool:
        reap_orphaned_tasks()
        return DBTaskResult.objects.get(id=task_id).status == TaskResultStatus.READY

    wait_until(reaped, "the reaper to re-queue the task once the heartbeat is stale")
    row.refresh_from_db()
    assert row.started_at is None
    assert row.worker_ids == [dead_worker]
    assert not WorkerHeartbeat.objects.filter(worker_id=dead_worker).exists()
    assert AuditLog.objects.filter(action="task.requeued", object_id=str(task_id), actor=None).count() == 1

    release.touch()
    second = start_worker("--batch")
    assert second.wait_exit() == 0, second.output()

    row.refresh_from_db()
    assert row.status == TaskResultStatus.SUCCESSFUL, second.output()
    assert row.return_value == "released"
    assert len(row.worker_ids) == 2
    assert row.worker_ids[0] == dead_worker != row.worker_ids[1]
    # The second worker left cleanly, so it removed its own heartbeat.
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_running_task_of_a_healthy_worker_is_not_reaped(
    start_worker: StartWorker, tmp_path: Path, settings: SettingsWrapper
) -> None:
    settings.TENURE_WORKER_STALE_SECONDS = 1.5
    release = tmp_path / "release"
    task_id = wait_for_file.enqueue(str(release)).id
    worker = start_worker()
    row = wait_until(lambda: running_row(task_id), "the worker to start the task")
    assert row.started_at is not None
    started_at = row.started_at

    def outlived_stale_window() -> WorkerHeartbeat | None:
        heartbeat = WorkerHeartbeat.objects.filter(worker_id=row.worker_ids[-1]).first()
        window = dt.timedelta(seconds=settings.TENURE_WORKER_STALE_SECONDS + 0.5)
        return heartbeat if heartbeat and heartbeat.last_seen_at > started_at + window else None

    # The heartbeat keeps moving while the task blocks, so the task outlives the stale window...
    wait_until(outlived_stale_window, "the heartbeat to outlive the stale window")
    # ...and the reaper leaves it alone.
    assert reap_orphaned_tasks() == 0
    assert DBTaskResult.objects.get(id=task_id).status == TaskResultStatus.RUNNING

    # SIGTERM: the worker finishes the task in hand, then leaves and removes its heartbeat.
    os.kill(worker.pid, signal.SIGTERM)
    release.touch()
    assert worker.wait_exit() == 0, worker.output()
    assert DBTaskResult.objects.get(id=task_id).status == TaskResultStatus.SUCCESSFUL
    assert not WorkerHeartbeat.objects.exists()
    assert not AuditLog.objects.filter(action="task.requeued").exists()


@pytest.mark.django_db(transaction=True)
def test_worker_start_up_requeues_orphans_and_schedules_the_sweep(start_worker: StartWorker) -> None:
    orphan = claimed(["long-gone"])
    worker = start_worker("--batch", env={"TENURE_SWEEP_INTERVAL_SECONDS": "3600"})
    assert worker.wait_exit() == 0, worker.output()
    # The orphan was re-queued at start-up and then run by the same batch.
    orphan.refresh_from_db()
    assert orphan.status == TaskResultStatus.SUCCESSFUL
    assert orphan.worker_ids[0] == "long-gone"
    # The sweep ran once and scheduled exactly one successor an hour out.
    sweeps = DBTaskResult.objects.filter(task_path="tenure.core.tasks.sweep")
    assert sweeps.filter(status=TaskResultStatus.SUCCESSFUL).count() == 1
    waiting = sweeps.get(status=TaskResultStatus.READY)
    assert waiting.run_after > timezone.now() + dt.timedelta(minutes=59)
    assert "Worker " in worker.output()


def test_worker_rejects_bad_options(start_worker: StartWorker) -> None:
    worker = start_worker("--interval", "-1")
    assert worker.wait_exit() != 0
    assert "--interval" in worker.output()


def test_a_worker_starting_up_does_not_import_scikit_learn(tmp_path: Path) -> None:
    """A killed worker is replaced by a fresh process: what loading the apps imports is how long delivery
    stops. scikit-learn alone took about a second, and only training a classifier needs it."""
    script = (
        "import sys, django; django.setup(); import tenure.core.worker; "
        "print(sorted(name for name in sys.modules if name.split('.')[0] in {'sklearn', 'torch', 'pandas'}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tenure.settings",
        "TENURE_DATA_DIR": str(tmp_path),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]"
