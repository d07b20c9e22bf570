"""Importing customers from CSV: the happy path, re-runs, and every kind of bad row."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from tenure.core.models import AuditLog, Event
from tenure.customers.importing import ImportRefused, import_customers
from tenure.customers.models import Customer, Identity, Lifecycle

from .import_helpers import csv_file, customer, messages

pytestmark = pytest.mark.django_db

GOOD = """
    external_id,name,kind,email,phone,social,address,lifecycle,lost_at,lost_reason,tags,preferred_channel,language,time_zone,assigned_rep
    c-1,Jane Doe,person,JANE@Example.com;jane.work@example.com,+1 415 555 0100,,1 Main St,active,,,vip;North,email,en,America/Los_Angeles,rep
    c-2,Acme Plumbing,company,office@acme.test,,facebook:@AcmePlumb,,lost,2024-05-01,moved away,,,de,,
    """


def _state() -> tuple[int, int, int, int]:
    return Customer.objects.count(), Identity.objects.count(), Event.objects.count(), AuditLog.objects.count()


def test_imports_customers_with_identities_tags_lifecycle_and_rep(make_staff: Callable[..., User]) -> None:
    rep = make_staff("agent", "rep")
    importer = make_staff("manager")

    report = import_customers(csv_file(GOOD), name="customers.csv", by=importer)

    assert report.ok, messages(report)
    assert (report.rows, report.created, report.updated) == (2, 2, 0)
    jane = Customer.objects.get(external_ref="c-1")
    assert jane.name == "Jane Doe"
    assert jane.assigned_rep == rep
    assert jane.time_zone == "America/Los_Angeles"
    assert jane.preferred_channel == "email"
    assert sorted(jane.identities.values_list("value", flat=True)) == [
        "+14155550100",
        "jane.work@example.com",
        "jane@example.com",
    ]
    assert sorted(jane.tags.values_list("name", flat=True)) == ["north", "vip"]
    acme = Customer.objects.get(external_ref="c-2")
    assert acme.kind == "company"
    assert acme.lifecycle == Lifecycle.LOST
    assert acme.lost_reason == "moved away"
    assert acme.lost_at is not None and acme.lost_at.date().isoformat() == "2024-05-01"
    assert acme.identities.filter(channel="social", value="facebook:acmeplumb").exists()
    entry = AuditLog.objects.get(action="import.customers")
    assert entry.actor == importer
    assert entry.details["file"] == "customers.csv"
    assert entry.details["created"] == 2


def test_re_running_the_same_file_changes_nothing(make_staff: Callable[..., User]) -> None:
    make_staff("agent", "rep")
    import_customers(csv_file(GOOD), name="customers.csv")
    before = _state()

    again = import_customers(csv_file(GOOD), name="customers.csv")

    assert again.ok
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    customers, identities, events, audits = _state()
    assert (customers, identities, events) == before[:3]
    assert audits == before[3] + 1  # the re-run itself is audited


def test_re_import_updates_and_adds_identities_without_removing() -> None:
    import_customers(csv_file("external_id,name,email\nc-1,Jane,jane@example.com\n"), name="a.csv")

    report = import_customers(
        csv_file("external_id,name,email\nc-1,Jane Smith,j.smith@example.com\n"), name="b.csv"
    )

    assert (report.created, report.updated) == (0, 1)
    jane = Customer.objects.get(external_ref="c-1")
    assert jane.name == "Jane Smith"
    assert sorted(jane.identities.values_list("value", flat=True)) == [
        "j.smith@example.com",
        "jane@example.com",
    ]
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    ("row", "field", "fragment"),
    [
        ("c-9,Bad Mail,not-an-email,", "email", "not a valid e-mail"),
        ("c-9,Bad Phone,,12", "phone", "not a valid phone number"),
        ("c-9,,x@example.com,", "name", "name is required"),
        (",No Id,x@example.com,", "external_id", "external id is required"),
        ("c-9," + "N" * 201 + ",,", "name", "at most 200"),
    ],
)
def test_bad_rows_are_reported_with_line_and_field(row: str, field: str, fragment: str) -> None:
    text = f"external_id,name,email,phone\nc-1,Good,good@example.com,\n{row}\n"

    report = import_customers(csv_file(text), name="customers.csv")

    assert report.created == 1
    assert report.error_count == 1
    error = report.errors[0]
    assert (error.line, error.field) == (3, field)
    assert fragment in error.message
    assert str(error).startswith(f"line 3, {field}:")


def test_other_row_problems() -> None:
    text = """
        external_id,name,lifecycle,lost_reason,time_zone,assigned_rep,kind
        c-1,One,lost,,,,
        c-2,Two,,,Mars/Olympus,,
        c-3,Three,,,,nobody,
        c-4,Four,,,,,robot
        c-5,Five,,,,,,extra
        c-6,Six,,,,,
        c-6,Six again,,,,,
        """

    report = import_customers(csv_file(text), name="customers.csv")

    found = {(error.line, error.field) for error in report.errors}
    assert found == {
        (2, "lost_reason"),
        (3, "time_zone"),
        (4, "assigned_rep"),
        (5, "kind"),
        (6, ""),
        (8, "external_id"),
    }
    assert "expected 7 fields" in messages(report)[4]
    assert "already appears on line 7" in messages(report)[5]
    assert list(Customer.objects.values_list("external_ref", flat=True)) == ["c-6"]


def test_identity_of_another_customer_names_the_column() -> None:
    other = customer("x-1")
    Identity.objects.create(customer=other, channel="phone", value="+14155550100")

    report = import_customers(csv_file("external_id,name,phone\nc-1,Jane,+1 415 555 0100\n"), name="c.csv")

    assert [(error.line, error.field) for error in report.errors] == [(2, "phone")]
    assert "already belongs to another customer" in report.errors[0].message
    assert not Customer.objects.filter(external_ref="c-1").exists()


def test_unknown_column_refuses_the_file_up_front() -> None:
    with pytest.raises(ImportRefused) as refused:
        import_customers(csv_file("external_id,name,shoe_size\nc-1,Jane,42\n"), name="c.csv")
    assert "unknown column 'shoe_size'" in refused.value.message_dict["header"][0]
    assert Customer.objects.count() == 0


def test_missing_required_column_refuses_the_file() -> None:
    with pytest.raises(ImportRefused) as refused:
        import_customers(csv_file("name,email\nJane,j@example.com\n"), name="c.csv")
    assert "missing required column 'external_id'" in refused.value.message_dict["header"][0]


def test_empty_file_is_refused() -> None:
    with pytest.raises(ImportRefused) as refused:
        import_customers(csv_file(""), name="c.csv")
    assert "empty" in refused.value.messages[0]


def test_all_or_nothing_leaves_the_database_unchanged() -> None:
    customer("c-1", name="Old Name")
    before = _state()
    text = "external_id,name,email\nc-1,New Name,new@example.com\nc-2,Two,two@example.com\nc-3,Three,broken\n"

    report = import_customers(csv_file(text), name="c.csv", all_or_nothing=True)

    assert not report.written
    assert [(error.line, error.field) for error in report.errors] == [(4, "email")]
    assert _state() == before
    assert Customer.objects.get(external_ref="c-1").name == "Old Name"


def test_non_utf8_lines_are_reported_and_the_rest_imports() -> None:
    data = b"external_id,name\nc-1,Jos\xe9\nc-2,Maria\n"

    report = import_customers(BytesIO(data), name="latin1.csv")

    assert [(error.line, error.field) for error in report.errors] == [(2, "")]
    assert "not UTF-8" in report.errors[0].message
    assert list(Customer.objects.values_list("external_ref", flat=True)) == ["c-2"]


def test_byte_order_mark_is_accepted() -> None:
    report = import_customers(BytesIO(b"\xef\xbb\xbfexternal_id,name\nc-1,Jane\n"), name="excel.csv")

    assert report.ok and report.created == 1


def test_cli_reports_errors_and_exits_non_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name,email\nc-1,Jane,jane@example.com\nc-2,Bob,bob-at-example\n")

    with pytest.raises(CommandError, match="1 rows had errors"):
        call_command("import_data", "customers", str(path))

    captured = capsys.readouterr()
    assert "line 3, email" in captured.err
    assert Customer.objects.filter(external_ref="c-1").exists()


def test_cli_all_or_nothing_and_refused_header(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("external_id,name,email\nc-1,Jane,jane@example.com\nc-2,Bob,bob-at-example\n")
    with pytest.raises(CommandError):
        call_command("import_data", "customers", str(path), "--all-or-nothing")
    assert Customer.objects.count() == 0

    path.write_text("external_id,nom\nc-1,Jane\n")
    with pytest.raises(CommandError, match="unknown column 'nom'"):
        call_command("import_data", "customers", str(path))


@pytest.mark.parametrize(
    "data",
    [
        "external_id,name\nc-1,Jane\n".encode("utf-16"),
        b"external_id,n\xe4me\nc-1,Jane\n",
    ],
)
def test_a_file_that_is_not_utf8_is_refused_with_a_clear_error(data: bytes) -> None:
    with pytest.raises(ImportRefused) as refused:
        import_customers(BytesIO(data), name="wrong-encoding.csv")
    assert "line 1" in refused.value.messages[0]
    assert "UTF-8" in refused.value.messages[0]
    assert Customer.objects.count() == 0
