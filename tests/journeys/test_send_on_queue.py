"""A step-runner batch claims the messages it queues under the outbox's send-time rules and sends them once it
commits; the outbox never has to read them back. A worker that dies in between leaves them claimed, and
they go out once the claim expires."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox import settings as outbox_settings
from tenure.core.outbox.claim import lock_customers
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.services import Draft, queue_and_claim, queue_message
from tenure.core.outbox_models import OutboundMessage
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.journeys.models import Journey, MessageTemplate, StepRun
from tenure.journeys.runner import run_due
from tenure.journeys.services import enroll
from tests.loopback import ReceivedMail, free_port

pytestmark = pytest.mark.django_db


def kinds(customer: Customer) -> list[str]:
    return list(Event.objects.filter(customer=customer).order_by("id").values_list("kind", flat=True))


def enrolled(make_journey: Callable[..., Journey], customer: Customer, **journey: object) -> Journey:
    made = make_journey(**journey)
    assert enroll(journey=made, customer=customer, trigger_key="k") is not None
    return made


def test_the_batch_sends_what_it_queued_and_leaves_the_outbox_nothing_to_claim(
    customer: Customer,
    make_journey: Callable[..., Journey],
    hello_template: MessageTemplate,
    smtp_server: ReceivedMail,
) -> None:
    enrolled(make_journey, customer)

    assert run_due(timezone.now()) == 1

    [mail] = smtp_server.messages
    assert mail["To"] == "ada@example.com" and mail["Subject"] == "Hello Ada"
    message = OutboundMessage.objects.get()
    assert (message.status, message.attempts, message.send_after) == ("sent", 1, None)
    assert StepRun.objects.get().message_id == message.pk
    # It never waited in the queue: the timeline says it was sent, not that it was queued first.
    assert kinds(customer)[-1] == "message.sent" and "message.queued" not in kinds(customer)
    assert deliver_due(timezone.now() + dt.timedelta(hours=1)) == 0
    assert len(smtp_server.messages) == 1


def test_an_opted_out_customer_is_suppressed_as_the_batch_queues(
    make_journey: Callable[..., Journey], hello_template: MessageTemplate, smtp_server: ReceivedMail
) -> None:
    customer = create_customer(
        name="Ada Lovelace", identities=[("email", "ada@example.com")], opted_out_purposes=["reminders"]
    )
    enrolled(make_journey, customer, purpose="reminders")

    run_due(timezone.now())

    message = OutboundMessage.objects.get()
    assert (message.status, message.last_error, message.send_after) == (
        "suppressed",
        "customer opted out of reminders",
        None,
    )
    assert kinds(customer)[-1] == "message.suppressed" and "message.queued" not in kinds(customer)
    assert smtp_server.messages == []


def test_quiet_hours_defer_what_the_batch_queues(
    make_journey: Callable[..., Journey], hello_template: MessageTemplate, smtp_server: ReceivedMail
) -> None:
    now = timezone.now().astimezone(dt.UTC)
    customer = create_customer(
        name="Ada Lovelace",
        identities=[("email", "ada@example.com")],
        time_zone="UTC",
        quiet_hours_start=(now - dt.timedelta(hours=1)).time().replace(microsecond=0),
        quiet_hours_end=(now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0),
    )
    enrolled(make_journey, customer)

    run_due(timezone.now())

    message = OutboundMessage.objects.get()
    assert (message.status, message.attempts, message.last_error) == ("deferred", 0, "quiet hours")
    assert message.send_after is not None and message.send_after > now + dt.timedelta(minutes=58)
    assert smtp_server.messages == []
    assert kinds(customer)[-1] == "message.queued"  # it waits, and the timeline says so


def test_a_message_that_could_not_go_out_at_once_goes_back_to_the_queue_and_says_so(
    customer: Customer,
    make_journey: Callable[..., Journey],
    hello_template: MessageTemplate,
    settings: SettingsWrapper,
) -> None:
    settings.TENURE_EMAIL_HOST = "127.0.0.1"
    settings.TENURE_EMAIL_PORT = free_port()  # nothing listens there
    enrolled(make_journey, customer)

    run_due(timezone.now())

    message = OutboundMessage.objects.get()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.last_error.startswith("SMTP 127.0.0.1:")
    queued = Event.objects.get(kind="message.queued")
    assert queued.payload["message_id"] == message.pk and queued.customer_id == customer.pk


def test_the_weekly_cap_counts_messages_claimed_earlier_in_the_same_batch(
    customer: Customer,
    make_journey: Callable[..., Journey],
    hello_template: MessageTemplate,
    smtp_server: ReceivedMail,
    settings: SettingsWrapper,
) -> None:
    settings.TENURE_PROACTIVE_CAP_PER_WEEK = 1
    steps = [
        {"id": "one", "type": "send", "template": "hello"},
        {"id": "two", "type": "send", "template": "hello"},
    ]
    enrolled(make_journey, customer, steps=steps)

    run_due(timezone.now())

    first, second = OutboundMessage.objects.order_by("id")
    assert first.status == "sent"
    assert (second.status, second.attempts) == ("deferred", 0)
    assert second.last_error == "at most 1 proactive messages per 7 days"
    assert len(smtp_server.messages) == 1


def test_messages_of_a_worker_that_died_before_sending_go_out_once_the_claim_expires(
    customer: Customer,
    make_journey: Callable[..., Journey],
    hello_template: MessageTemplate,
    smtp_server: ReceivedMail,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    enrolled(make_journey, customer)
    # The batch commits; the worker dies before it sends anything.
    monkeypatch.setattr("tenure.journeys.runner.send_claimed", lambda claim, config: None)
    now = timezone.now()
    run_due(now)
    message = OutboundMessage.objects.get()
    assert (message.status, message.attempts) == ("sending", 1)

    assert deliver_due(now) == 0  # still claimed: no second sender while the first might be sending

    expired = now + dt.timedelta(seconds=outbox_settings.current().sending_timeout_seconds + 1)
    assert deliver_due(expired) == 1
    [mail] = smtp_server.messages
    assert mail["To"] == "ada@example.com"
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)


def test_a_key_queued_before_is_returned_but_not_claimed_again(customer: Customer) -> None:
    earlier = queue_message(
        customer=customer, channel="email", purpose="reminders", body="First", idempotency_key="k1"
    )
    drafts = [
        Draft(customer_id=customer.pk, channel="email", purpose="reminders", body=body, idempotency_key=key)
        for key, body in (("k1", "Again"), ("k2", "Second"))
    ]

    with transaction.atomic():
        customers = lock_customers([customer.pk])
        queued, claim = queue_and_claim(drafts, customers, outbox_settings.current())

    assert queued["k1"].pk == earlier.pk and queued["k1"].body == "First"
    assert [message.idempotency_key for message in claim.to_send] == ["k2"]
    stored = {m.idempotency_key: (m.status, m.attempts) for m in OutboundMessage.objects.all()}
    assert stored == {"k1": ("queued", 0), "k2": ("sending", 1)}
    # k1 waited in the queue when it was first queued; k2 is claimed to go out at once.
    queued_events = Event.objects.filter(kind="message.queued").values_list("payload__message_id", flat=True)
    assert list(queued_events) == [earlier.pk]


@pytest.mark.django_db(transaction=True)
def test_a_customer_locked_elsewhere_is_not_waited_for_their_message_goes_through_the_outbox(
    customer: Customer,
    make_journey: Callable[..., Journey],
    hello_template: MessageTemplate,
    smtp_server: ReceivedMail,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite locks the whole database for each writer")
    enrolled(make_journey, customer)
    holding, release = threading.Event(), threading.Event()

    def hold_the_customer() -> None:
        # Another transaction holding the customer, as one about to end their enrollments would.
        try:
            with transaction.atomic():
                Customer.objects.select_for_update().get(pk=customer.pk)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_customer)
    holder.start()
    try:
        assert holding.wait(30)
        assert run_due(timezone.now()) == 1  # returns at once instead of waiting for the lock
        message = OutboundMessage.objects.get()
        assert (message.status, message.attempts) == ("queued", 0)
        assert smtp_server.messages == []
    finally:
        release.set()
        holder.join()

    assert deliver_due(timezone.now()) == 1
    [mail] = smtp_server.messages
    assert mail["To"] == "ada@example.com"
