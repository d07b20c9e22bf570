"""The outbox's plain-SQL inserts store what Django's own `save` stores, on both databases, for values that
take the fast path (already the field's type) and for those converted the ORM's way."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import models
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox.rows import insert_rows, insert_values
from tenure.core.outbox_models import MessageStatus, OutboundMessage
from tenure.customers.services import create_customer

pytestmark = pytest.mark.django_db


def stored(model: type[models.Model], key: str, value: str, *skip: str) -> dict[str, Any]:
    row = model._default_manager.filter(**{key: value}).values().get()
    return {name: field for name, field in row.items() if name not in {"id", key, *skip}}


def test_an_event_stores_what_save_stores() -> None:
    customer = create_customer(name="Ada")
    when = timezone.now().replace(microsecond=123456)
    fields: dict[str, Any] = {
        "customer_id": customer.pk,
        "kind": "message.sent",
        "occurred_at": when,
        "channel": "email",
        "payload": {"message_id": 7, "subject": 'Ünïcode "quoted" \\ {braces}', "nested": [1, None, True]},
        "source": "outbox",
    }
    Event(idempotency_key="saved", **fields).save()
    insert_rows([Event(idempotency_key="inserted", **fields)])

    assert stored(Event, "idempotency_key", "inserted", "recorded_at") == stored(
        Event, "idempotency_key", "saved", "recorded_at"
    )


def test_values_of_another_type_are_converted_as_the_orm_converts_them() -> None:
    customer = create_customer(name="Ada")
    fields: dict[str, Any] = {
        "customer_id": str(customer.pk),  # a key given as text
        "channel": "email",
        "purpose": "reminders",
        "body": "Hello",
        "status": MessageStatus.SENDING,  # a TextChoices member
        "attempts": True,  # a bool in an integer column: 1
        "send_after": dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC),
    }
    OutboundMessage(idempotency_key="saved", **fields).save()
    insert_rows([OutboundMessage(idempotency_key="inserted", **fields)])

    inserted = stored(OutboundMessage, "idempotency_key", "inserted", "created_at")
    assert inserted == stored(OutboundMessage, "idempotency_key", "saved", "created_at")
    assert (inserted["attempts"], inserted["status"], inserted["customer_id"]) == (1, "sending", customer.pk)


def test_plain_rows_get_the_defaults_a_model_instance_would() -> None:
    customer = create_customer(name="Ada")
    when = timezone.now()
    fields: dict[str, Any] = {"customer_id": customer.pk, "kind": "message.queued", "occurred_at": when}
    Event(idempotency_key="saved", **fields).save()
    before = timezone.now()

    insert_values(Event, [{"idempotency_key": "inserted", **fields}])

    inserted = Event.objects.get(idempotency_key="inserted")
    assert stored(Event, "idempotency_key", "inserted", "recorded_at") == stored(
        Event, "idempotency_key", "saved", "recorded_at"
    )
    assert (inserted.actor, inserted.payload, inserted.source) == ("", {}, "tenure")
    assert inserted.recorded_at >= before


def test_a_repeated_key_is_skipped_and_the_first_row_kept() -> None:
    customer = create_customer(name="Ada")
    row: dict[str, Any] = {"customer_id": customer.pk, "kind": "message.sent", "occurred_at": timezone.now()}
    insert_values(Event, [{**row, "source": "outbox", "idempotency_key": "k", "payload": {"n": 1}}])

    insert_values(
        Event,
        [{**row, "source": "outbox", "idempotency_key": "k", "payload": {"n": 2}}],
        ignore_conflicts=True,
    )

    assert [event.payload for event in Event.objects.filter(idempotency_key="k")] == [{"n": 1}]
