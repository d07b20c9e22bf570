"""`__any_of` finds what `__in` finds, on both databases, including the edge cases `__in` handles."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenure.customers.models import Customer, Identity
from tenure.customers.services import create_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers() -> list[Customer]:
    return [
        create_customer(name=f"Customer {n}", identities=[("email", f"c{n}@example.com")]) for n in range(5)
    ]


def test_it_finds_what_in_finds(customers: list[Customer]) -> None:
    wanted = {customers[0].pk, customers[3].pk, customers[3].pk, 10**12}

    found = set(Customer.objects.filter(pk__any_of=wanted).values_list("pk", flat=True))

    assert found == set(Customer.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found == {customers[0].pk, customers[3].pk}


def test_a_foreign_key_and_text_values(customers: list[Customer]) -> None:
    by_customer = Identity.objects.filter(customer_id__any_of=[customers[1].pk, None])
    assert [identity.value for identity in by_customer] == ["c1@example.com"]
    quoted = ["c2@example.com", "o'brien@example.com", "{brace}", 'quote"d']
    assert [i.value for i in Identity.objects.filter(value__any_of=quoted)] == ["c2@example.com"]


def test_nothing_to_look_for_matches_nothing_without_a_query(customers: list[Customer]) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert list(Customer.objects.filter(pk__any_of=[])) == []
        assert list(Customer.objects.filter(pk__any_of=[None])) == []
    assert len(queries) == 0


def test_a_subquery_works_as_in_does(customers: list[Customer]) -> None:
    emails = Identity.objects.filter(value__in=["c4@example.com"]).values("customer_id")
    assert list(Customer.objects.filter(pk__any_of=emails)) == [customers[4]]


def test_on_postgresql_hundreds_of_ids_are_one_parameter(customers: list[Customer]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SQLite gets IN as Django writes it")
    ids = list(range(1, 501))
    with CaptureQueriesContext(connection) as queries:
        list(Customer.objects.filter(pk__any_of=ids))
    [query] = queries.captured_queries
    assert "= ANY(" in query["sql"] and " IN (" not in query["sql"]
