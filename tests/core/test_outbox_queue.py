"""Queueing many messages at once (step runners, broadcasts): one insert, same guarantees as one at a time."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.services import Draft, queue_messages
from tenure.core.outbox_models import OutboundMessage
from tests.loopback import ReceivedMail

from .test_outbox import customer_with, mailbox

__all__ = ["mailbox"]


def drafts(customer_id: int, keys: list[str]) -> list[Draft]:
    return [
        Draft(
            customer_id=customer_id,
            channel="email",
            purpose="transactional",
            subject=f"Update {key}",
            body="Your order moved on.",
            idempotency_key=key,
        )
        for key in keys
    ]


@pytest.mark.django_db
def test_many_at_once_are_rows_with_their_events_and_each_key_once(mailbox: ReceivedMail) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    first = queue_messages(drafts(customer.pk, ["a", "b", "c"]))
    again = queue_messages(drafts(customer.pk, ["b", "c", "d"]))

    assert sorted(first) == ["a", "b", "c"] and sorted(again) == ["b", "c", "d"]
    assert again["b"].pk == first["b"].pk
    assert OutboundMessage.objects.count() == 4
    queued = Event.objects.filter(kind="message.queued").values_list("payload__message_id", flat=True)
    assert sorted(queued) == sorted(message.pk for message in {**first, **again}.values())

    deliver_due(timezone.now())
    assert sorted(m["Subject"] for m in mailbox.messages) == ["Update a", "Update b", "Update c", "Update d"]


@pytest.mark.django_db
def test_one_bad_draft_names_its_position_and_queues_nothing() -> None:
    customer = customer_with(("email", "ada@customer.example"))
    batch = drafts(customer.pk, ["ok-1", "ok-2"])
    batch.append(
        Draft(customer_id=customer.pk, channel="pigeon", purpose="reminders", body="x", idempotency_key="bad")
    )

    with pytest.raises(ValidationError) as error:
        queue_messages(batch)

    assert "2.channel" in error.value.message_dict
    assert not OutboundMessage.objects.exists()
    assert not Event.objects.filter(kind="message.queued").exists()


@pytest.mark.django_db
def test_a_recipient_with_a_line_break_is_refused_not_turned_into_a_header(mailbox: ReceivedMail) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    queue_messages(
        [
            Draft(
                customer_id=customer.pk,
                channel="email",
                purpose="transactional",
                body="Hello",
                idempotency_key="inject",
                recipient="eve@evil.example\r\nBcc: victim@customer.example",
            )
        ]
    )

    deliver_due(timezone.now())
    deliver_due(timezone.now())

    # The bad address is marked invalid; the message goes to the customer's own address instead.
    assert [m["To"] for m in mailbox.messages] == ["ada@customer.example"]
    assert "Bcc" not in mailbox.messages[0]
    assert "not an e-mail address" in Event.objects.get(kind="identity.invalid").payload["reason"]
