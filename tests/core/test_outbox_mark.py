"""The `sent` mark applies only while the claim is ours; bulk queueing keeps the first draft of a key; only rows
in play hold a timer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox import rows
from tenure.core.outbox.delivery import next_due
from tenure.core.outbox.services import Draft, queue_messages
from tenure.core.outbox_models import MessageStatus, OutboundMessage

from .test_outbox import customer_with, queue

pytestmark = pytest.mark.django_db


def mark_sent(
    message: OutboundMessage, provider_id: str, sent_at: dt.datetime, event_due: dt.datetime
) -> bool:
    with rows.sent_marks() as mark:
        return mark(message, provider_id, sent_at, event_due)


def claimed(attempts: int = 1, key: str = "mark-1") -> OutboundMessage:
    address = f"{key}@customer.example"
    message = queue(customer_with(("email", address)), key)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING, attempts=attempts, recipient=address
    )
    message.refresh_from_db()
    return message


def test_the_mark_keeps_the_row_due_until_its_event_is_written() -> None:
    message = claimed()
    sent_at = timezone.now()
    event_due = sent_at + dt.timedelta(seconds=30)

    assert mark_sent(message, "<id-1@example>", sent_at, event_due) is True

    message.refresh_from_db()
    assert (message.status, message.provider_id, message.sent_at, message.send_after) == (
        MessageStatus.SENT,
        "<id-1@example>",
        sent_at,
        event_due,
    )


def test_the_mark_is_parsed_and_planned_once_per_connection_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    first, second = claimed(), claimed(key="mark-2")
    now = timezone.now()

    assert mark_sent(first, "<id-1@example>", now, now)
    assert mark_sent(second, "<id-2@example>", now, now)

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert [statement for statement in prepared if "synchronous_commit" in statement] != []
    assert len(prepared) == 1  # the one statement asked for; nothing else is prepared behind Django's back


def test_a_row_another_worker_took_over_is_not_marked() -> None:
    message = claimed(attempts=1)
    # Our claim expired and another worker claimed the row again (attempt 2).
    OutboundMessage.objects.filter(pk=message.pk).update(attempts=2)

    assert mark_sent(message, "<id-1@example>", timezone.now(), timezone.now()) is False

    message.refresh_from_db()
    assert (message.status, message.provider_id) == (MessageStatus.SENDING, "")


def test_a_key_twice_in_one_call_queues_the_first_draft_once() -> None:
    customer = customer_with(("email", "ada@customer.example"))
    drafts = [
        Draft(
            customer_id=customer.pk, channel="email", purpose="transactional", body=body, idempotency_key="k"
        )
        for body in ("first", "second")
    ]

    queued = queue_messages(drafts)

    assert list(queued) == ["k"]
    assert queued["k"].pk == OutboundMessage.objects.get().pk
    assert OutboundMessage.objects.get().body == "first"
    assert Event.objects.filter(kind="message.queued").count() == 1


def test_a_final_row_cannot_hold_a_timer_so_the_claim_needs_no_status_filter() -> None:
    message = queue(customer_with(("email", "ada@customer.example")), "final-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED)
    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SUPPRESSED, send_after=None)

    message.refresh_from_db()
    assert (message.status, message.send_after) == (MessageStatus.SUPPRESSED, None)
    assert next_due() is None


def test_one_queue_call_stamps_all_its_rows_with_one_time() -> None:
    customer = customer_with(("email", "ada@customer.example"))
    drafts = [
        Draft(
            customer_id=customer.pk, channel="email", purpose="transactional", body="Hi", idempotency_key=key
        )
        for key in ("stamp-1", "stamp-2", "stamp-3")
    ]

    queued = queue_messages(drafts)

    stored = set(
        OutboundMessage.objects.filter(idempotency_key__in=queued).values_list("created_at", flat=True)
    )
    assert len(stored) == 1
    assert {message.created_at for message in queued.values()} == stored
