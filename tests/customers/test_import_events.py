"""Importing events from CSV: idempotency by key, line-numbered errors, activity, all-or-nothing."""

from __future__ import annotations

import datetime as dt
import json
from io import BytesIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.utils import timezone

from tenure.core.models import AuditLog, Event
from tenure.customers.importing import ImportRefused, import_events
from tenure.customers.models import Customer, Lifecycle
from tenure.customers.services import merge_customers

from .import_helpers import csv_file, customer, messages

pytestmark = pytest.mark.django_db

HEADER = "event_id,customer,kind,occurred_at,channel,actor,payload\n"


def _events(source: str = "import") -> list[tuple[str | None, str]]:
    return list(
        Event.objects.filter(source=source).order_by("idempotency_key").values_list("idempotency_key", "kind")
    )


def test_imports_events_and_re_running_creates_nothing() -> None:
    jane = customer("c-1")
    customer("c-2")
    text = HEADER + (
        'e-1,c-1,order.placed,2024-03-01T10:00:00Z,web,staff:anna,"{""amount"": 12.5, ""items"": [1, 2]}"\n'
        "e-2,c-2,call.inbound,2024-03-02T09:30:00+02:00,phone,,\n"
        "e-3,c-1,survey.answered,2024-03-03T08:00:00Z,email,,{}\n"
    )

    first = import_events(csv_file(text), name="events.csv")
    second = import_events(csv_file(text), name="events.csv")

    assert first.ok and (first.created, first.unchanged) == (3, 0)
    assert second.ok and (second.created, second.unchanged) == (0, 3)
    assert Event.objects.filter(source="import").count() == 3
    placed = Event.objects.get(idempotency_key="e-1")
    assert placed.customer == jane
    assert placed.payload == {"amount": 12.5, "items": [1, 2]}
    assert placed.occurred_at == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    assert (placed.channel, placed.actor) == ("web", "staff:anna")
    call = Event.objects.get(idempotency_key="e-2")
    assert call.occurred_at == dt.datetime(2024, 3, 2, 7, 30, tzinfo=dt.UTC)
    assert AuditLog.objects.filter(action="import.events").count() == 2


@override_settings(TIME_ZONE="Europe/Berlin")
def test_naive_times_are_business_local_time_across_dst() -> None:
    customer("c-1")
    text = HEADER + "w,c-1,job.done,2024-01-15 12:00,,,\ns,c-1,job.done,2024-07-15T12:00:00,,,\n"

    import_events(csv_file(text), name="events.csv")

    assert Event.objects.get(idempotency_key="w").occurred_at == dt.datetime(2024, 1, 15, 11, tzinfo=dt.UTC)
    assert Event.objects.get(idempotency_key="s").occurred_at == dt.datetime(2024, 7, 15, 10, tzinfo=dt.UTC)


def test_rows_without_a_key_get_a_content_key_and_stay_idempotent() -> None:
    customer("c-1")
    text = 'customer,kind,occurred_at,payload\nc-1,note.added,2024-03-01,"{""b"": 1, ""a"": 2}"\n'
    text += "c-1,note.added,2024-03-02,\n"

    import_events(csv_file(text), name="a.csv")
    again = import_events(csv_file(text), name="a.csv")

    assert again.created == 0 and again.unchanged == 2
    keys = [key for key, _ in _events()]
    assert len(keys) == 2 and all(key and key.startswith("row-") for key in keys)


def test_same_key_in_another_source_is_another_event() -> None:
    customer("c-1")
    text = HEADER + "e-1,c-1,order.placed,2024-03-01T10:00:00Z,,,\n"

    import_events(csv_file(text), name="a.csv", source="shop")
    import_events(csv_file(text), name="a.csv", source="crm")

    assert Event.objects.filter(idempotency_key="e-1").count() == 2


def test_customer_id_column_and_merged_customers() -> None:
    keep, gone = customer("c-1"), customer("c-2")
    merge_customers(keep=keep, merge=gone)
    text = f"event_id,customer_id,kind,occurred_at\ne-1,{gone.pk},order.placed,2024-03-01\ne-2,999999,x.y,2024-03-01\n"

    report = import_events(csv_file(text), name="ids.csv")

    assert Event.objects.get(idempotency_key="e-1").customer_id == keep.pk
    assert [(error.line, error.field) for error in report.errors] == [(3, "customer_id")]
    assert "no customer 999999" in report.errors[0].message


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ("e-9,nobody,order.placed,2024-03-01,,,", "customer", "no customer 'nobody'"),
        ("e-9,c-1,Order Placed,2024-03-01,,,", "kind", "is not an event kind"),
        ("e-9,c-1,,2024-03-01,,,", "kind", "kind is required"),
        ("e-9,c-1,order.placed,01/03/2024,,,", "occurred_at", "not an ISO 8601"),
        ("e-9,c-1,order.placed,,,,", "occurred_at", "is required"),
        ("e-9,c-1,order.placed,2024-03-01,pigeon,,", "channel", "not a channel"),
        ("e-9,c-1,order.placed,2024-03-01,,,[1]", "payload", "must be a JSON object"),
        ("e-9,c-1,order.placed,2024-03-01,,,{oops", "payload", "not valid JSON"),
        ('e-9,c-1,order.placed,2024-03-01,,,"{""x"": NaN}"', "payload", "not valid JSON"),
        ("e-9,c-1,order.placed,2024-03-01,," + "a" * 151 + ",", "actor", "at most 150"),
        ("e" * 201 + ",c-1,order.placed,2024-03-01,,,", "event_id", "at most 200"),
        ("e-9,c-1,order.placed,2024-03-01,,", "", "expected 7 fields"),
        ("e-1,c-1,order.placed,2024-03-05,,,", "event_id", "already appears on line 2"),
    ],
)
def test_bad_rows_are_reported_with_line_and_field(row: str, field: str, fragment: str) -> None:
    customer("c-1")
    text = HEADER + "e-1,c-1,order.placed,2024-03-01,,,\n" + row + "\ne-3,c-1,order.paid,2024-03-02,,,\n"

    report = import_events(csv_file(text), name="events.csv")

    assert report.error_count == 1, messages(report)
    error = report.errors[0]
    assert (error.line, error.field) == (3, field)
    assert fragment in error.message
    assert report.created == 2
    assert sorted(key for key, _ in _events()) == ["e-1", "e-3"]


def test_line_numbers_count_physical_lines_of_multi_line_cells() -> None:
    customer("c-1")
    text = HEADER + 'e-1,c-1,note.added,2024-03-01,,"Anna\nSmith",\ne-2,c-1,Bad,2024-03-01,,,\n'

    report = import_events(csv_file(text), name="events.csv")

    assert [(error.line, error.field) for error in report.errors] == [(4, "kind")]
    assert Event.objects.get(idempotency_key="e-1").actor == "Anna\nSmith"


def test_unknown_and_missing_columns_refuse_the_file() -> None:
    with pytest.raises(ImportRefused, match="unknown column 'when'"):
        import_events(csv_file("event_id,customer,kind,when\n"), name="x.csv")
    with pytest.raises(ImportRefused, match="missing required column 'occurred_at'"):
        import_events(csv_file("event_id,customer,kind\n"), name="x.csv")
    with pytest.raises(ImportRefused, match="'customer'"):
        import_events(csv_file("event_id,kind,occurred_at\n"), name="x.csv")
    with pytest.raises(ImportRefused, match="appears twice"):
        import_events(csv_file("kind,occurred_at,customer,Customer\n"), name="x.csv")


def test_hostile_values() -> None:
    customer("c-1")
    huge = "x" * 300_000  # beyond the csv module's field limit
    data = (
        HEADER
        + "e-1,c-1,order.placed,2024-03-01,,,\n"
        + f'e-2,c-1,order.placed,2024-03-01,,,"{huge}"\n'
        + "e-3,c-1,order.placed,2024-03-01,,staff:\x00bob,\n"
        + 'e-4,c-1,order.placed,2024-03-01,,,"{""a"": ""\\u0000""}"\n'
        + "e-5,c-1,order.placed,2024-03-01,,,\n"
    ).encode()
    data = data.replace(b"e-5,c-1", b"e-5,c-\xff1")
    data += b"e-6,c-1,order.placed,2024-03-01,,,\n"

    report = import_events(BytesIO(data), name="hostile.csv")

    lines = {error.line: error for error in report.errors}
    assert sorted(lines) == [3, 4, 5, 6]
    assert "field larger than field limit" in lines[3].message
    assert "NUL" in lines[4].message
    assert (lines[5].field, "NUL" in lines[5].message) == ("payload", True)
    assert "not UTF-8" in lines[6].message
    assert sorted(key for key, _ in _events()) == ["e-1", "e-6"]


def test_all_or_nothing_writes_nothing_on_any_error() -> None:
    customer("c-1")
    text = HEADER + "e-1,c-1,order.placed,2024-03-01,,,\n" * 1 + "e-2,c-1,order.placed,2024-03-01,,,\n"
    text += "e-3,nobody,order.placed,2024-03-01,,,\n"
    before = (Event.objects.count(), AuditLog.objects.count())
    activity_before = Customer.objects.get(external_ref="c-1").last_activity_at

    report = import_events(csv_file(text), name="e.csv", all_or_nothing=True, batch_size=1)

    assert not report.written and report.error_count == 1
    assert (Event.objects.count(), AuditLog.objects.count()) == before
    assert Customer.objects.get(external_ref="c-1").last_activity_at == activity_before

    fixed = import_events(csv_file(text.replace("nobody", "c-1")), name="e.csv", all_or_nothing=True)
    assert fixed.written and fixed.created == 3


def test_duplicates_are_found_across_batches() -> None:
    customer("c-1")
    text = HEADER + "".join(f"e-{n % 3},c-1,order.placed,2024-03-01,,,\n" for n in range(6))

    report = import_events(csv_file(text), name="e.csv", batch_size=2)

    assert report.created == 3
    assert [error.line for error in report.errors] == [5, 6, 7]


def test_import_moves_activity_and_lapse_timer_on() -> None:
    active = customer("c-1")
    lost = customer("c-2", lifecycle=Lifecycle.LOST)
    future = (timezone.now() + dt.timedelta(days=30)).isoformat()
    text = HEADER + (
        "e-1,c-1,order.placed,2024-03-01T10:00:00Z,,,\n"
        "e-2,c-1,order.paid,2024-04-01T10:00:00Z,,,\n"
        f"e-3,c-1,job.scheduled,{future},,,\n"
        "e-4,c-2,call.inbound,2024-02-01T10:00:00Z,,,\n"
    )

    import_events(csv_file(text), name="e.csv")

    active.refresh_from_db()
    lost.refresh_from_db()
    assert active.last_activity_at == dt.datetime(2024, 4, 1, 10, tzinfo=dt.UTC)
    assert active.lapse_due_at is not None and active.lapse_due_at > active.last_activity_at
    assert lost.last_activity_at == dt.datetime(2024, 2, 1, 10, tzinfo=dt.UTC)
    assert lost.lapse_due_at is None

    # An older file does not move activity back.
    import_events(csv_file(HEADER + "e-0,c-1,order.placed,2023-01-01T10:00:00Z,,,\n"), name="old.csv")
    active.refresh_from_db()
    assert active.last_activity_at == dt.datetime(2024, 4, 1, 10, tzinfo=dt.UTC)


def test_cli_imports_events_with_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    customer("c-1")
    path = tmp_path / "events.csv"
    rows = "".join(f"e-{n},c-1,order.placed,2024-03-01T10:00:00Z,web,,{json.dumps({})}\n" for n in range(50))
    path.write_text(HEADER + rows)

    call_command("import_data", "events", str(path), "--source", "legacy")

    out = capsys.readouterr()
    assert "50 rows: 50 created" in out.out
    assert "importing events" in out.err
    assert Event.objects.filter(source="legacy").count() == 50

    path.write_text(HEADER + "e-x,c-1,order.placed,someday,,,\n")
    with pytest.raises(CommandError):
        call_command("import_data", "events", str(path))
    assert "line 2, occurred_at" in capsys.readouterr().err
