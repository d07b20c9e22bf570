"""CSV export: safe cells, the import's columns, and a round trip that changes nothing."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenure.core.models import Event
from tenure.customers.exporting import neutralize
from tenure.customers.importing import import_customers, import_events
from tenure.customers.models import Customer, Identity

from .import_helpers import csv_file


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("+14155550100", "+14155550100"),
        ("-12.50", "-12.50"),
        ("Jane", "Jane"),
        ("", ""),
    ],
)
def test_neutralize(value: str, expected: str) -> None:
    assert neutralize(value) == expected


@pytest.mark.django_db
def test_export_then_import_round_trips_unchanged(tmp_path: Path) -> None:
    source = """
        external_id,name,kind,email,phone,tags,lifecycle,lost_reason,language,time_zone
        c-1,Jane Doe,person,jane@example.com;j@example.com,+1 415 555 0100,vip;north,active,,en,Europe/Berlin
        c-2,Acme,company,office@acme.test,,,lost,too expensive,de,
        """
    assert import_customers(csv_file(source), name="in.csv").ok
    import_events(
        csv_file(
            'event_id,customer,kind,occurred_at,payload\ne-1,c-1,order.placed,2024-03-01T10:00:00Z,"{""a"": 1}"\n'
        ),
        name="events.csv",
    )
    customers_out = tmp_path / "customers.csv"
    events_out = tmp_path / "events.csv"

    call_command("export_data", "customers", "-o", str(customers_out))
    call_command("export_data", "events", "--customer", "c-1", "-o", str(events_out))

    with customers_out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["external_id"] for row in rows] == ["c-1", "c-2"]
    assert rows[0]["email"] == "jane@example.com;j@example.com"
    assert rows[0]["phone"] == "+14155550100"
    assert rows[0]["tags"] == "north;vip"
    assert rows[1]["lost_reason"] == "too expensive"
    with events_out.open(newline="") as handle:
        events = list(csv.DictReader(handle))
    assert {event["kind"] for event in events} >= {"order.placed", "customer.created"}
    assert all(event["customer"] == "c-1" for event in events)

    counts = (Customer.objects.count(), Identity.objects.count(), Event.objects.count())
    with customers_out.open("rb") as handle:
        again = import_customers(handle, name="customers.csv")
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert (Customer.objects.count(), Identity.objects.count(), Event.objects.count()) == counts

    # Keyed events come back as "already stored". Events Tenure recorded without a key (customer.created)
    # get a content key on their first re-import, so they are copied once, and never again.
    keyless = sum(1 for event in events if not event["event_id"])
    with events_out.open("rb") as handle:
        events_again = import_events(handle, name="events.csv")
    assert events_again.ok and (events_again.created, events_again.unchanged) == (
        keyless,
        len(events) - keyless,
    )
    with events_out.open("rb") as handle:
        assert import_events(handle, name="events.csv").created == 0


@pytest.mark.django_db
def test_export_to_stdout_and_bad_customer(capsys: pytest.CaptureFixture[str]) -> None:
    Customer.objects.create(name="=1+1", external_ref="c-1")

    call_command("export_data", "customers")

    out = capsys.readouterr().out
    assert "c-1,'=1+1,person" in out
    with pytest.raises(CommandError, match="no customer 'nobody'"):
        call_command("export_data", "events", "--customer", "nobody")
