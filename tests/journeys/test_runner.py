"""The step runner: due enrollments walk their steps once, timers move, failures are recorded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tenure.core.drain import drain, registered_batches
from tenure.core.models import Event
from tenure.core.outbox_models import OutboundMessage
from tenure.core.sweeper import registered_sweepers
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.journeys.models import Enrollment, Journey, MessageTemplate, StepRun, Task
from tenure.journeys.runner import next_due, run_due
from tenure.journeys.services import enroll, enroll_many
from tests.loopback import ReceivedMail

pytestmark = pytest.mark.django_db


def test_runner_is_registered_as_a_sweeper_and_for_drains() -> None:
    assert registered_sweepers()["journeys.steps"] is run_due
    assert list(registered_batches()) == ["core.outbox", "journeys.steps"]


def test_steps_run_once_and_the_timer_moves(
    customer: Customer, make_journey: Callable[..., Journey], hello_template: MessageTemplate
) -> None:
    journey = make_journey(
        steps=[
            {"id": "hello", "type": "send", "template": "hello"},
            {"id": "pause", "type": "wait", "duration": "2d"},
            {"id": "call", "type": "task", "title": "Call them", "due": "1d"},
            {"id": "again", "type": "send", "template": "hello", "channel": "sms"},
        ]
    )
    enrollment = enroll(journey=journey, customer=customer, trigger_key="manual:1")
    assert enrollment is not None
    assert (
        Event.objects.filter(
            customer=customer, kind="journey.enrolled", payload__journey_key=journey.key
        ).count()
        == 1
    )
    now = timezone.now()

    assert run_due(now) == 1
    enrollment.refresh_from_db()
    assert enrollment.position == 2 and enrollment.state == "active"
    assert enrollment.next_step_at == now + dt.timedelta(days=2)
    assert next_due() == enrollment.next_step_at
    first = OutboundMessage.objects.get()
    assert (first.channel, first.subject, first.body) == ("email", "Hello Ada", "Hi Ada!")
    assert first.idempotency_key == f"journey:{enrollment.pk}:hello"

    assert run_due(now + dt.timedelta(days=1)) == 0  # not due yet
    assert run_due(now + dt.timedelta(days=2)) == 1
    enrollment.refresh_from_db()
    assert enrollment.state == "completed" and enrollment.next_step_at is None
    assert list(StepRun.objects.filter(enrollment=enrollment).values_list("step_id", flat=True)) == [
        "hello", "pause", "call", "again"
    ]  # fmt: skip
    assert OutboundMessage.objects.filter(channel="sms").count() == 1
    task = Task.objects.get()
    assert task.title == "Call them" and task.customer == customer
    assert run_due(now + dt.timedelta(days=30)) == 0
    assert OutboundMessage.objects.count() == 2


def test_enrolling_twice_with_one_trigger_enrolls_once(
    customer: Customer, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(reentry="always")
    assert enroll(journey=journey, customer=customer, trigger_key="event:7") is not None
    assert enroll(journey=journey, customer=customer, trigger_key="event:7") is None
    assert enroll(journey=journey, customer=customer, trigger_key="event:8") is not None


def test_reentry_rules(
    customer: Customer, make_journey: Callable[..., Journey], hello_template: MessageTemplate
) -> None:
    never = make_journey("once", reentry="never")
    after = make_journey("after", reentry="after_finish")
    assert enroll(journey=never, customer=customer, trigger_key="a")
    assert enroll(journey=after, customer=customer, trigger_key="a")
    assert enroll(journey=after, customer=customer, trigger_key="b") is None  # still active
    run_due(timezone.now())
    assert enroll(journey=never, customer=customer, trigger_key="b") is None
    assert enroll(journey=after, customer=customer, trigger_key="b") is not None


def test_bulk_enrollment_runs_in_batches_each_sending_what_it_queued_and_a_drain_runs_the_rest(
    make_journey: Callable[..., Journey],
    hello_template: MessageTemplate,
    settings: object,
    smtp_server: ReceivedMail,
) -> None:
    settings.TENURE_JOURNEY_BATCH_SIZE = 7  # type: ignore[attr-defined]
    settings.TENURE_OUTBOX_BATCH_SIZE = 5  # type: ignore[attr-defined]
    customers = [
        create_customer(name=f"C{i}", identities=[("email", f"c{i}@example.com")]) for i in range(20)
    ]
    journey = make_journey()
    ids = [c.pk for c in customers]
    assert enroll_many(journey=journey, customer_ids=ids, trigger_key="broadcast:1") == 20
    assert enroll_many(journey=journey, customer_ids=ids, trigger_key="broadcast:1") == 0
    now = timezone.now()
    assert run_due(now) == 7
    # Each batch sends the messages it queued as soon as it commits, claimed as it queued them.
    assert len(smtp_server.messages) == 7
    assert OutboundMessage.objects.filter(status="sent").count() == 7
    # The batch was full: drains are queued so every worker can help; one runs the remaining 13 steps
    # here, and their batches send their messages; the outbox finds nothing left to claim.
    drains = DBTaskResult.objects.filter(task_path=drain.module_path, status="READY")
    assert drains.count() == 2
    assert drain.call() == 13
    assert Enrollment.objects.filter(journey=journey, state="completed").count() == 20
    assert OutboundMessage.objects.filter(status="sent").count() == 20
    assert sorted(str(message["To"]) for message in smtp_server.messages) == sorted(
        f"c{i}@example.com" for i in range(20)
    )


def test_a_step_that_cannot_run_fails_the_enrollment_with_the_reason(
    customer: Customer, make_journey: Callable[..., Journey], hello_template: MessageTemplate
) -> None:
    journey = make_journey(
        steps=[
            {"id": "hello", "type": "send", "template": "hello"},
            {"id": "zone", "type": "set_field", "field": "preferred_channel", "value": "pigeon"},
            {"id": "after", "type": "send", "template": "hello", "channel": "sms"},
        ]
    )
    enrollment = enroll(journey=journey, customer=customer, trigger_key="k")
    assert enrollment is not None
    assert run_due(timezone.now()) == 1
    enrollment.refresh_from_db()
    assert enrollment.state == "failed" and enrollment.next_step_at is None
    assert enrollment.reason.startswith("step zone: cannot set preferred_channel")
    assert OutboundMessage.objects.count() == 1  # the first step stands, nothing after the failure
    failed = Event.objects.get(customer=customer, kind="journey.step_failed")
    assert failed.payload["step"] == "zone"
    customer.refresh_from_db()
    assert customer.preferred_channel == ""


def test_the_customers_language_picks_the_template(
    make_journey: Callable[..., Journey], hello_template: MessageTemplate
) -> None:
    MessageTemplate.objects.create(
        key="hello", language="de", subject="Hallo", body="Hallo {{ customer.first_name }}!"
    )
    german = create_customer(name="Karl Weber", language="de-AT", identities=[("email", "karl@example.com")])
    french = create_customer(name="Marie Curie", language="fr", identities=[("email", "marie@example.com")])
    journey = make_journey()
    enroll_many(journey=journey, customer_ids=[german.pk, french.pk], trigger_key="lang")
    run_due(timezone.now())
    bodies = dict(
        OutboundMessage.objects.filter(template__startswith="hello:").values_list("customer_id", "body")
    )
    assert bodies == {german.pk: "Hallo Karl!", french.pk: "Hi Marie!"}


def test_only_an_active_enrollment_holds_a_timer(
    customer: Customer, make_journey: Callable[..., Journey], hello_template: MessageTemplate
) -> None:
    enrollment = enroll(journey=make_journey(), customer=customer, trigger_key="manual:1")
    assert enrollment is not None and enrollment.next_step_at is not None
    with pytest.raises(IntegrityError), transaction.atomic():
        Enrollment.objects.filter(pk=enrollment.pk).update(state="exited")
    enrollment.refresh_from_db()
    assert enrollment.state == "active"
