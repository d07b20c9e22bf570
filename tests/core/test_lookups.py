"""`__any_of` finds what `__in` finds, on both databases, including the edge cases `__in` handles."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenure.core.models import WorkerHeartbeat
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


def test_on_postgresql_a_batch_of_keys_is_looked_up_by_index_on_a_table_grown_since_its_last_analyse() -> (
    None
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite gets IN as Django writes it")
    table = WorkerHeartbeat._meta.db_table
    with connection.cursor() as cursor:
        # Analysed while empty, then filled: no statistics describe the rows, as for the outbox in its first
        # busy hour or any table on a server without autovacuum.
        cursor.execute(f"ANALYZE {table}")
        cursor.execute(
            f"INSERT INTO {table} (worker_id, hostname, pid, started_at, last_seen_at)"  # noqa: S608
            " SELECT 'w' || n, 'host', n, now(), now() FROM generate_series(1, 50000) AS n"
        )
    keys = list(WorkerHeartbeat.objects.order_by("pk").values_list("pk", flat=True)[:500])

    by_any_of = WorkerHeartbeat.objects.filter(pk__any_of=keys)
    assert "Seq Scan" not in by_any_of.explain()
    assert by_any_of.count() == 500
    # What `= ANY` of the visible array got: the planner guessed most of the table matched.
    assert "Seq Scan" in WorkerHeartbeat.objects.filter(pk__in=keys).explain()
