"""The sweep task: runs every registered sweeper, survives broken ones, and keeps one sweep queued."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core import sweeper
from tenure.core.drain import drain
from tenure.core.models import Event
from tenure.core.tasks import KEEP_FINISHED_SWEEPS, ensure_sweep_scheduled, sweep
from tenure.customers.models import Customer, Lifecycle
from tenure.customers.services import create_customer, note_activity

from .conftest import WorkerProcess

SWEEP_PATH = "tenure.core.tasks.sweep"


def sweeps(status: str) -> int:
    return DBTaskResult.objects.filter(task_path=SWEEP_PATH, status=status).count()


def silent_customer(name: str, days_silent: int) -> Customer:
    customer = create_customer(name=name, lifecycle=Lifecycle.ACTIVE)
    note_activity([customer.pk], timezone.now() - dt.timedelta(days=days_silent))
    customer.refresh_from_db()
    return customer


@pytest.mark.django_db
def test_customers_app_registers_its_lapse_sweeper() -> None:
    assert "customers.lapse" in sweeper.registered_sweepers()


@pytest.mark.django_db
def test_sweep_marks_silent_customers_lapsed_once(settings: SettingsWrapper) -> None:
    settings.TENURE_LAPSE_AFTER_DAYS = 180
    gone = silent_customer("Gone Quiet", days_silent=200)
    recent = silent_customer("Still Here", days_silent=10)
    assert gone.lapse_due_at is not None and gone.lapse_due_at < timezone.now()

    first = sweep.call()
    second = sweep.call()

    assert first["customers.lapse"] == 1
    assert second["customers.lapse"] == 0
    assert first["failed"] == []
    gone.refresh_from_db()
    recent.refresh_from_db()
    assert gone.lifecycle == Lifecycle.LAPSED
    assert gone.lapse_due_at is None
    assert recent.lifecycle == Lifecycle.ACTIVE
    assert Event.objects.filter(customer=gone, kind="customer.lapsed").count() == 1
    assert not Event.objects.filter(customer=recent, kind="customer.lapsed").exists()


@pytest.mark.django_db
def test_sweep_schedules_exactly_one_successor(settings: SettingsWrapper) -> None:
    settings.TENURE_SWEEP_INTERVAL_SECONDS = 30
    before = timezone.now()
    sweep.call()
    sweep.call()
    waiting = DBTaskResult.objects.get(task_path=SWEEP_PATH, status=TaskResultStatus.READY)
    assert before + dt.timedelta(seconds=30) <= waiting.run_after <= timezone.now() + dt.timedelta(seconds=30)


@pytest.mark.django_db
def test_sweep_prunes_its_old_successful_runs_but_keeps_failures() -> None:
    assert ensure_sweep_scheduled()
    old = DBTaskResult.objects.get(task_path=SWEEP_PATH)
    old.claim("w")
    old.set_successful({})
    assert ensure_sweep_scheduled()
    recent = DBTaskResult.objects.get(task_path=SWEEP_PATH, status=TaskResultStatus.READY)
    recent.claim("w")
    recent.set_successful({})
    assert ensure_sweep_scheduled()
    failed = DBTaskResult.objects.get(task_path=SWEEP_PATH, status=TaskResultStatus.READY)
    failed.claim("w")
    failed.set_failed(RuntimeError("boom"))
    long_ago = timezone.now() - KEEP_FINISHED_SWEEPS - dt.timedelta(minutes=1)
    DBTaskResult.objects.filter(id__in=[old.id, failed.id]).update(finished_at=long_ago)

    sweep.call()

    assert not DBTaskResult.objects.filter(id=old.id).exists()
    assert DBTaskResult.objects.filter(id=recent.id).exists()
    assert DBTaskResult.objects.filter(id=failed.id).exists()


@pytest.mark.django_db
def test_sweep_prunes_old_finished_drains_too() -> None:
    old, recent = drain.enqueue(), drain.enqueue()
    for result in DBTaskResult.objects.filter(id__in=[old.id, recent.id]):
        result.claim("w")
        result.set_successful(0)
    long_ago = timezone.now() - KEEP_FINISHED_SWEEPS - dt.timedelta(minutes=1)
    DBTaskResult.objects.filter(id=old.id).update(finished_at=long_ago)

    sweep.call()

    assert not DBTaskResult.objects.filter(id=old.id).exists()
    assert DBTaskResult.objects.filter(id=recent.id).exists()


@pytest.mark.django_db
def test_a_failing_sweeper_is_logged_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[dt.datetime] = []

    def broken(now: dt.datetime) -> int:
        raise RuntimeError("sweeper exploded")

    def counting(now: dt.datetime) -> int:
        calls.append(now)
        return 7

    # Registered around the real ones; the first runs before and the second after the broken one.
    monkeypatch.setitem(sweeper._SWEEPERS, "test.broken", broken)
    monkeypatch.setitem(sweeper._SWEEPERS, "test.counting", counting)
    with caplog.at_level(logging.ERROR, logger="tenure.core.tasks"):
        result = sweep.call()

    assert result["failed"] == ["test.broken"]
    assert result["test.counting"] == 7
    assert "customers.lapse" in result
    assert len(calls) == 1
    assert "Sweeper test.broken failed" in caplog.text
    assert "sweeper exploded" in caplog.text
    # The chain goes on.
    assert sweeps(TaskResultStatus.READY) == 1


@pytest.mark.django_db
def test_ensure_sweep_scheduled_only_when_none_is_pending() -> None:
    assert ensure_sweep_scheduled() is True
    assert ensure_sweep_scheduled() is False
    pending = DBTaskResult.objects.get(task_path=SWEEP_PATH)
    pending.claim("some-worker")
    assert ensure_sweep_scheduled() is False  # a running sweep will schedule its own successor
    pending.set_successful({})
    assert ensure_sweep_scheduled() is True
    assert sweeps(TaskResultStatus.READY) == 1


@pytest.mark.django_db
def test_sweep_enqueued_in_a_rolled_back_transaction_vanishes() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        assert ensure_sweep_scheduled() is True
        assert sweeps(TaskResultStatus.READY) == 1
        raise RuntimeError("the caller's work failed")
    assert sweeps(TaskResultStatus.READY) == 0
    assert ensure_sweep_scheduled() is True


@pytest.mark.django_db(transaction=True)
def test_workers_starting_together_schedule_one_sweep() -> None:
    starters = 4
    barrier = threading.Barrier(starters)
    results: list[bool] = []
    errors: list[BaseException] = []

    def start_up() -> None:
        try:
            barrier.wait()
            results.append(ensure_sweep_scheduled())
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start_up) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(results) == [False] * (starters - 1) + [True]
    assert sweeps(TaskResultStatus.READY) == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_sweep_end_to_end(
    start_worker: Callable[..., WorkerProcess], settings: SettingsWrapper
) -> None:
    gone = silent_customer("Gone Quiet", days_silent=settings.TENURE_LAPSE_AFTER_DAYS + 20)
    worker = start_worker("--batch", env={"TENURE_SWEEP_INTERVAL_SECONDS": "600"})
    assert worker.wait_exit() == 0, worker.output()

    gone.refresh_from_db()
    assert gone.lifecycle == Lifecycle.LAPSED
    assert Event.objects.filter(customer=gone, kind="customer.lapsed").count() == 1
    finished = DBTaskResult.objects.get(task_path=SWEEP_PATH, status=TaskResultStatus.SUCCESSFUL)
    result = finished.return_value
    assert isinstance(result, dict)
    assert result["customers.lapse"] == 1
    assert result["failed"] == []
    assert sweeps(TaskResultStatus.READY) == 1
