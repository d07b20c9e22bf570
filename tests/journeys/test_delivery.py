"""End to end: timeline event -> enrollment -> step runner -> outbox -> a real SMTP server / Twilio-format gateway.

Also the crash test: workers killed with SIGKILL mid-run and restarted; every step ran once, every
message was queued once, and each reached the SMTP server (a copy after a crash carries the same Message-ID).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.email import message_id_for
from tenure.core.outbox_models import OutboundMessage
from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.journeys.models import Enrollment, Journey, MessageTemplate, StepRun
from tenure.journeys.runner import run_due
from tenure.journeys.services import enroll_many
from tests.core.conftest import WorkerProcess, wait_until
from tests.core.test_outbox import FROM, SmsGateway
from tests.loopback import ReceivedMail

DOMAIN = FROM.split("@")[1]


@pytest.mark.django_db
def test_an_order_reaches_the_smtp_server_and_a_reminder_goes_by_sms(
    mailbox: ReceivedMail, sms_gateway: SmsGateway, customer: Customer
) -> None:
    Journey.objects.update(holdout_percent=0)
    record_event(customer_id=customer.pk, kind="order.placed", payload={"order": "A-7"})
    run_due(timezone.now())
    deliver_due(timezone.now())
    Customer.objects.filter(pk=customer.pk).update(preferred_channel="phone")
    due = timezone.now() + dt.timedelta(days=3)
    record_event(
        customer_id=customer.pk, kind="payment.due", payload={"invoice": "I-1", "due_at": due.isoformat()}
    )
    run_due(timezone.now())
    deliver_due(timezone.now())  # messages are due from the moment they were queued
    [mail] = mailbox.messages
    ack = Enrollment.objects.get(journey__key="order-acknowledgement", customer=customer)
    assert mail["Subject"] == "We have your order A-7"
    assert mail["Message-ID"] == message_id_for(f"journey:{ack.pk}:acknowledge", DOMAIN)
    [sms] = sms_gateway.requests
    assert sms["form"]["To"] == "+12025550100"
    assert sms["form"]["Body"].startswith("Hello Ada,\n\nA friendly reminder: payment I-1 is due on")
    assert OutboundMessage.objects.filter(status="sent").count() == 2
    # A second sweep finds nothing to do and sends nothing.
    later = timezone.now() + dt.timedelta(minutes=1)
    run_due(later)
    deliver_due(later)
    assert len(mailbox.messages) == 1 and len(sms_gateway.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_runners_at_once_run_each_step_once(
    hello_template: MessageTemplate, make_journey: Callable[..., Journey], settings: SettingsWrapper
) -> None:
    settings.TENURE_JOURNEY_BATCH_SIZE = 5
    journey = make_journey(
        steps=[{"id": "a", "type": "send", "template": "hello"}, {"id": "t", "type": "task", "title": "Call"}]
    )
    ids = [create_customer(name=f"T{i}", identities=[("email", f"t{i}@example.com")]).pk for i in range(60)]
    enroll_many(journey=journey, customer_ids=ids, trigger_key="b")
    now = timezone.now()
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            while run_due(now):
                pass
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert StepRun.objects.filter(enrollment__journey=journey).count() == 120
    assert OutboundMessage.objects.filter(template="hello:en").count() == 60
    assert Enrollment.objects.filter(journey=journey, state="completed").count() == 60


@pytest.mark.django_db(transaction=True)
def test_workers_killed_mid_run_lose_nothing_and_run_nothing_twice(
    mailbox: ReceivedMail,
    start_worker: Callable[..., WorkerProcess],
    hello_template: MessageTemplate,
    make_journey: Callable[..., Journey],
    settings: SettingsWrapper,
) -> None:
    total = 200
    journey = make_journey(steps=[{"id": "a", "type": "send", "template": "hello"}])
    ids = [
        create_customer(name=f"K{i}", identities=[("email", f"k{i}@example.com")]).pk for i in range(total)
    ]
    enroll_many(journey=journey, customer_ids=ids, trigger_key="crash")
    env = {
        "TENURE_EMAIL_HOST": "127.0.0.1",
        "TENURE_EMAIL_PORT": str(settings.TENURE_EMAIL_PORT),
        "TENURE_EMAIL_FROM": FROM,
        "TENURE_JOURNEY_BATCH_SIZE": "20",
        "TENURE_OUTBOX_BATCH_SIZE": "20",
        # Short claims so rows a killed worker left `sending` come back within the test; a claim must
        # outlast the adapter's timeout, or the outbox hands the rows back unsent.
        "TENURE_EMAIL_TIMEOUT_SECONDS": "2",
        "TENURE_SMS_TIMEOUT_SECONDS": "2",
        "TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS": "5",
        "TENURE_SWEEP_INTERVAL_SECONDS": "0.2",
        "TENURE_WORKER_STALE_SECONDS": "10",
    }
    workers = 2 if connection.vendor == "postgresql" else 1
    for kill in range(3):
        running = [start_worker(env=env) for _ in range(workers)]
        done_before = StepRun.objects.filter(enrollment__journey=journey).count()

        def progressed(before: int = done_before) -> bool:
            done = StepRun.objects.filter(enrollment__journey=journey).count()
            sent = OutboundMessage.objects.filter(template="hello:en", status="sent").count()
            return done > before or (done == total and sent > 0)

        wait_until(progressed, f"progress before kill {kill + 1}")
        os.kill(running[0].pid, signal.SIGKILL)
        running[0].process.wait()
        for other in running[1:]:
            os.kill(other.pid, signal.SIGTERM)
            other.wait_exit()
    final = start_worker(env=env)

    def delivered() -> bool:
        return OutboundMessage.objects.filter(template="hello:en").exclude(status="sent").count() == 0 and (
            OutboundMessage.objects.filter(template="hello:en").count() == total
        )

    try:
        wait_until(delivered, "every message delivered after the kills")
    except AssertionError:
        from django.db.models import Count

        states = dict(
            OutboundMessage.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n")
        )
        runs = StepRun.objects.filter(enrollment__journey=journey).count()
        errors = list(OutboundMessage.objects.exclude(last_error="").values_list("last_error", flat=True)[:3])
        raise AssertionError(
            f"{errors} outbox {states}, step runs {runs}; last worker said:\n{final.output()[-3000:]}"
        ) from None
    os.kill(final.pid, signal.SIGTERM)
    final.wait_exit()
    assert StepRun.objects.filter(enrollment__journey=journey).count() == total
    assert Enrollment.objects.filter(journey=journey, state="completed").count() == total
    keys = list(OutboundMessage.objects.filter(template="hello:en").values_list("idempotency_key", flat=True))
    expected = {message_id_for(key, DOMAIN) for key in keys}
    received = [m["Message-ID"] for m in mailbox.messages]
    assert set(received) == expected  # nothing lost
    # A copy re-sent after a kill between "sent" and "marked" carries the same Message-ID (outbox contract).
    assert len(received) - len(expected) <= 3 * workers * 20
