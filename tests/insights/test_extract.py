"""The Arrow extract of the timeline, read from a real database (SQLite or PostgreSQL per DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

from tenure.core.models import Event
from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer, merge_customers
from tenure.demo.generator import build_company
from tenure.insights.extract import (
    CUSTOMERS_SCHEMA,
    EVENTS_SCHEMA,
    ExtractError,
    TimelineExtract,
    extract_from_database,
    load_extract,
    save_extract,
)

pytestmark = pytest.mark.django_db
END = dt.datetime(2026, 11, 1, 15, tzinfo=dt.UTC)


def test_demo_company_round_trips_through_the_extract(tmp_path: Path) -> None:
    build_company(seed=5, customers=150, months=6, end=END, present=False)
    extract = extract_from_database(chunk_rows=997)  # an odd chunk size: batches must join up exactly

    assert extract.events.schema == EVENTS_SCHEMA
    assert extract.customers.schema == CUSTOMERS_SCHEMA
    assert extract.events.num_rows == Event.objects.count()
    assert Counter(extract.events["kind"].to_pylist()) == Counter(
        Event.objects.values_list("kind", flat=True)
    )
    assert extract.customers.num_rows == Customer.objects.count() == 150

    rows = {row["customer_id"]: row for row in extract.customers.to_pylist()}
    for customer in Customer.objects.all():
        row = rows[customer.pk]
        created = customer.events.get(kind="customer.created")
        assert row["joined_at"] == created.occurred_at
        assert (row["lifecycle"], row["lost_at"], row["kind"]) == (
            customer.lifecycle,
            customer.lost_at,
            customer.kind,
        )
        assert row["lost_reason"] == (customer.lost_reason or None)

    # Payload numbers and keys land in their columns, exactly.
    events = extract.events.to_pylist()
    payment = Event.objects.filter(kind="payment.received").order_by("id").first()
    assert payment is not None
    found = [
        e
        for e in events
        if e["kind"] == "payment.received"
        and e["customer_id"] == payment.customer_id
        and e["occurred_at"] == payment.occurred_at
    ]
    assert found[0]["amount"] == pytest.approx(payment.payload["amount"])
    assert found[0]["ref"] == payment.payload["invoice"]
    survey = Event.objects.filter(kind="survey.answered").first()
    assert survey is not None
    surveys = [e for e in events if e["kind"] == "survey.answered" and e["occurred_at"] == survey.occurred_at]
    assert (surveys[0]["nps"], surveys[0]["csat"]) == (survey.payload["nps"], survey.payload["csat"])
    received = [e for e in events if e["kind"] == "request.received"]
    assert all(e["department"] and e["channel"] and e["ref"] for e in received)
    assert all(e["nps"] is None for e in received)
    late = [e for e in events if e["kind"] == "job.late"]
    assert late and all(e["minutes_late"] and e["minutes_late"] > 0 for e in late)

    saved = save_extract(extract, tmp_path / "x")
    again = load_extract(saved)
    assert again.events.equals(extract.events)
    assert again.customers.equals(extract.customers)


def test_imported_customer_without_a_created_event_joins_at_its_first_event() -> None:
    customer = create_customer(name="Old Client")
    Event.objects.filter(customer=customer).delete()
    long_ago = dt.datetime(2019, 3, 4, 5, 6, tzinfo=dt.UTC)
    record_event(
        customer_id=customer.pk,
        kind="order.placed",
        occurred_at=long_ago,
        payload={"amount": "120.50", "order": 7},
    )
    record_event(
        customer_id=customer.pk,
        kind="appointment.window_missed",
        occurred_at=long_ago,
        payload={"minutes": 45},
    )
    record_event(
        customer_id=customer.pk, kind="survey.answered", occurred_at=long_ago, payload={"nps": "not a number"}
    )

    extract = extract_from_database()
    (row,) = extract.customers.to_pylist()
    assert row["joined_at"] == long_ago
    by_kind = {e["kind"]: e for e in extract.events.to_pylist()}
    assert by_kind["order.placed"]["amount"] == 120.5  # numbers sent as text still count
    assert by_kind["order.placed"]["ref"] == "7"
    assert by_kind["appointment.window_missed"]["minutes_late"] == 45
    assert by_kind["survey.answered"]["nps"] is None  # junk is absent, not an error


def test_merged_customers_are_left_out() -> None:
    keep = create_customer(name="Keep")
    gone = create_customer(name="Gone")
    merge_customers(keep=keep, merge=gone)
    extract = extract_from_database()
    assert extract.customers["customer_id"].to_pylist() == [keep.pk]
    assert set(extract.events["customer_id"].to_pylist()) == {keep.pk}


def test_empty_database_gives_empty_tables() -> None:
    extract = extract_from_database()
    assert extract.events.num_rows == extract.customers.num_rows == 0


def test_missing_columns_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ExtractError, match="customers table lacks column"):
        TimelineExtract(events=EVENTS_SCHEMA.empty_table(), customers=pa.table({"customer_id": [1]}))
    with pytest.raises(ExtractError, match=r"no events\.parquet"):
        load_extract(tmp_path)
