"""The outbox keeps delivering after a worker is SIGKILLed in the middle of the sweep."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import WorkerHeartbeat
from tenure.core.outbox_models import OutboundMessage
from tenure.core.tasks import sweep
from tests.loopback import ReceivedMail

from .conftest import WorkerProcess, wait_until
from .test_outbox import FROM, customer_with, mailbox, queue

__all__ = ["mailbox"]


@pytest.mark.django_db(transaction=True)
def test_a_sweep_left_running_by_a_worker_killed_a_moment_ago_is_taken_up_by_the_next_worker(
    mailbox: ReceivedMail, start_worker: Callable[..., WorkerProcess], settings: SettingsWrapper
) -> None:
    # The dead worker's sweep is still RUNNING and its heartbeat still fresh, as right after a SIGKILL: the
    # next worker's start-up neither re-queues it nor schedules another sweep.
    now = timezone.now()
    orphan = sweep.enqueue().id
    DBTaskResult.objects.filter(id=orphan).update(
        status=TaskResultStatus.RUNNING, worker_ids=["killed-worker"], started_at=now
    )
    WorkerHeartbeat.objects.create(worker_id="killed-worker", hostname="gone", pid=1, last_seen_at=now)
    message = queue(customer_with(("email", "ada@customer.example")), "after-the-crash")

    worker = start_worker(
        env={
            "TENURE_WORKER_STALE_SECONDS": "2",
            "TENURE_EMAIL_HOST": "127.0.0.1",
            "TENURE_EMAIL_PORT": str(settings.TENURE_EMAIL_PORT),
            "TENURE_EMAIL_FROM": FROM,
        }
    )

    def sent() -> bool:
        return OutboundMessage.objects.get(pk=message.pk).status == "sent"

    wait_until(sent, f"the message to be sent; worker output:\n{worker.output()}")
    assert [m["To"] for m in mailbox.messages] == ["ada@customer.example"]
    # The orphaned sweep itself was re-queued and run by the new worker.
    runs = DBTaskResult.objects.get(id=orphan).worker_ids
    assert runs[0] == "killed-worker" and len(runs) == 2
