"""The timeline row: validated kinds, idempotency per source, and the same transaction as its cause."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.core.models import Event
from tenure.core.services import record_event, record_event_once
from tenure.customers.models import Customer
from tenure.customers.services import create_customer

pytestmark = pytest.mark.django_db


def test_same_key_from_same_source_is_recorded_once() -> None:
    customer = create_customer(name="Ada Lovelace")
    first, created = record_event_once(
        customer_id=customer.pk, kind="order.placed", source="shop", idempotency_key="o-1"
    )
    again, created_again = record_event_once(
        customer_id=customer.pk, kind="order.placed", source="shop", idempotency_key="o-1"
    )
    other_source = record_event(
        customer_id=customer.pk, kind="order.placed", source="erp", idempotency_key="o-1"
    )
    assert created and not created_again
    assert first.pk == again.pk != other_source.pk
    assert Event.objects.filter(kind="order.placed").count() == 2


def test_events_without_keys_never_collide() -> None:
    customer = create_customer(name="Ada Lovelace")
    record_event(customer_id=customer.pk, kind="note.added")
    record_event(customer_id=customer.pk, kind="note.added")
    assert Event.objects.filter(kind="note.added").count() == 2


@pytest.mark.parametrize(
    "kind", ["", "Order.Placed", "order placed", "order..placed", ".x", "x" * 65, "drop;table"]
)
def test_bad_kinds_are_refused_by_name(kind: str) -> None:
    customer = create_customer(name="Ada Lovelace")
    with pytest.raises(ValidationError) as error:
        record_event(customer_id=customer.pk, kind=kind)
    assert "kind" in error.value.message_dict


def test_event_rolls_back_with_the_row_that_caused_it() -> None:
    with pytest.raises(ValidationError):
        create_customer(
            name="Ada Lovelace", identities=[("email", "ada@example.com"), ("phone", "not a phone")]
        )
    assert not Customer.objects.exists()
    assert not Event.objects.exists()

    with pytest.raises(RuntimeError), transaction.atomic():
        create_customer(name="Grace Hopper")
        raise RuntimeError("the caller failed after the write")
    assert not Event.objects.exists()
