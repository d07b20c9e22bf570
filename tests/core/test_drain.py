"""The drain task: it stays while work is due or about to be, and leaves at once when nothing waits; the sweep
has drains start when work falls due before the next sweep."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tenure.core import drain as drains
from tenure.core.tasks import sweep


@dataclass
class CountingStage:
    """A stage holding rows due at the given times; each batch handles the ones due by then."""

    due: list[dt.datetime] = field(default_factory=list)
    batches: int = 0

    def run_batch(self, now: dt.datetime) -> int:
        self.batches += 1
        ready = [at for at in self.due if at <= now]
        self.due = [at for at in self.due if at > now]
        return len(ready)

    def next_due(self) -> dt.datetime | None:
        return min(self.due, default=None)


@pytest.fixture
def stage() -> Iterator[CountingStage]:
    counting = CountingStage()
    drains.register_batch("tests.counting", counting.run_batch, counting.next_due)
    yield counting
    drains._STAGES.pop("tests.counting")


@pytest.mark.django_db
def test_with_nothing_waiting_a_drain_leaves_after_one_look(stage: CountingStage) -> None:
    assert drains.soonest_due() is None
    assert drains.drain.call() == 0
    assert stage.batches == 1


@pytest.mark.django_db
def test_a_drain_waits_for_work_due_within_a_second_and_handles_it(stage: CountingStage) -> None:
    stage.due = [timezone.now() - dt.timedelta(seconds=1), timezone.now() + dt.timedelta(seconds=0.3)]
    assert drains.drain.call() == 2
    assert stage.batches > 2  # it looked again while the second row was not yet due
    assert stage.due == []


def test_an_idle_drain_sleeps_until_the_next_row_falls_due_but_never_longer_than_a_poll() -> None:
    poll = drains.IDLE_POLL_SECONDS
    assert drains.idle_pause(poll / 4) == poll / 4  # wakes as the row falls due, not up to a poll late
    assert drains.idle_pause(poll * 5) == poll  # something due sooner may be queued meanwhile
    assert drains.idle_pause(0.0) == poll  # due already: another worker holds it; look again in a while
    assert drains.idle_pause(-3.0) == poll


@pytest.mark.django_db
def test_work_due_later_than_a_second_is_left_for_the_sweep(stage: CountingStage) -> None:
    later = timezone.now() + dt.timedelta(minutes=5)
    stage.due = [later]
    assert drains.soonest_due() == later
    assert drains.drain.call() == 0
    assert stage.batches == 1
    assert stage.due == [later]


def pending_drains() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=drains.drain.module_path, status=TaskResultStatus.READY)
    )


@pytest.mark.django_db
def test_work_due_before_the_next_sweep_gets_drains_that_start_when_it_falls_due(
    stage: CountingStage,
) -> None:
    now = timezone.now()
    soon = now + dt.timedelta(seconds=2)
    stage.due = [soon]

    assert drains.drain_when_due(now + dt.timedelta(seconds=5)) == settings.TENURE_DRAINERS
    assert [task.run_after for task in pending_drains()] == [soon] * settings.TENURE_DRAINERS
    assert drains.drain_when_due(now + dt.timedelta(seconds=5)) == 0  # already pending


@pytest.mark.django_db
def test_the_sweep_leaves_work_due_after_the_next_sweep_to_that_sweep(stage: CountingStage) -> None:
    stage.due = [timezone.now() + dt.timedelta(minutes=5)]
    sweep.call()
    assert pending_drains() == []

    stage.due = [timezone.now() + dt.timedelta(seconds=1)]
    sweep.call()
    assert len(pending_drains()) == settings.TENURE_DRAINERS
