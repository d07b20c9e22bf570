"""Importing customers and events from CSV files, and events from JSON batches.

These functions are the one import path: `tenure import …`, the API and the benchmark all call them.

Customers CSV (first line names the columns, in any order; only `external_id` and `name` are required):
    external_id (or external_ref)  the customer's key in the source system; re-importing updates that customer
    name, kind (person | company), address, language, time_zone (e.g. Europe/Berlin)
    email, phone, social           one or more, separated by ';'; added to the customer, never removed
    lifecycle                      prospect | active | lapsed | lost; lost needs lost_reason, may have lost_at
    lost_at, lost_reason           ISO 8601 date or date-time (naive = business time zone)
    tags                           separated by ';' (replaces the customer's tags)
    preferred_channel              email | phone | social | chat
    assigned_rep                   a staff username

Events CSV (required: kind, occurred_at, and customer or customer_id):
    event_id (or idempotency_key)  unique per source; re-importing a stored key does nothing. Without one a key
                                   is derived from the row's content, so re-running the file stays idempotent
    customer                       the customer's external id       customer_id   or Tenure's id
    kind                           e.g. order.placed                 occurred_at   ISO 8601, naive = business tz
    channel, actor, source         source defaults to the importer's source name ("import")
    payload                        a JSON object

By default valid rows are written (each batch in one transaction) and bad rows reported with their line;
with `all_or_nothing` any error means nothing is written (one transaction for the whole file).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction

from tenure.core.services import audit
from tenure.customers.csv_rows import Columns, CsvRows, ImportRefused, RowError
from tenure.customers.customer_rows import (
    CUSTOMER_ALIASES,
    CUSTOMER_COLUMNS,
    REQUIRED_CUSTOMER_COLUMNS,
    CustomerApplier,
    ParsedCustomer,
    parse_customer,
)
from tenure.customers.event_rows import (
    EVENT_ALIASES,
    EVENT_COLUMNS,
    CustomerResolver,
    EventParser,
    EventWriter,
    FieldError,
    ParsedEvent,
)

__all__ = [
    "ImportRefused",
    "ImportReport",
    "RowError",
    "import_customers",
    "import_events",
    "import_file",
    "ingest_events",
]

User = AbstractBaseUser | AnonymousUser | None
Progress = Callable[[int], None]

DEFAULT_SOURCE = "import"
CUSTOMER_BATCH = 500
EVENT_BATCH = 5000
# A report keeps this many errors in full and counts the rest.
MAX_REPORTED_ERRORS = 1000

CUSTOMER_FILE = Columns(CUSTOMER_COLUMNS, REQUIRED_CUSTOMER_COLUMNS, CUSTOMER_ALIASES)
EVENT_FILE = Columns(EVENT_COLUMNS, ("kind", "occurred_at"), EVENT_ALIASES)


@dataclass
class ImportReport:
    """What an import did. `unchanged` counts rows already stored exactly so (a re-run)."""

    what: str
    name: str
    all_or_nothing: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    error_count: int = 0
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, error: RowError) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)

    def summary(self) -> str:
        counts = (
            f"{self.rows} rows: {self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        )
        if self.ok:
            return counts
        outcome = "nothing was written" if not self.written else "the other rows were written"
        return f"{counts}, {self.error_count} with errors ({outcome})"

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": self.error_count,
        }


class _Rollback(Exception):
    """Raised inside the all-or-nothing transaction to undo it."""


def _run(
    report: ImportReport, by: User, body: Callable[[], None], finish: Callable[[], None]
) -> ImportReport:
    """Run an import's body and finishing step in the transaction shape its mode asks for, then audit it."""

    def run_body() -> None:
        body()
        # Unknown customers are found a batch after the other errors of their rows; report in file order.
        report.errors.sort(key=lambda error: error.line)

    def record() -> None:
        details: dict[str, Any] = {"file": report.name, **report.counts()}
        if report.errors:
            details["first_errors"] = [str(error) for error in report.errors[:20]]
        audit(
            actor=by,
            action=f"import.{report.what}",
            object_type="import",
            object_id=report.name[:64],
            details=details,
        )

    if report.all_or_nothing:
        try:
            with transaction.atomic():
                run_body()
                if not report.ok:
                    raise _Rollback
                finish()
                record()
        except _Rollback:
            report.written = False
            return report
        report.written = True
        return report
    run_body()
    with transaction.atomic():
        finish()
        record()
    report.written = True
    return report


def _batch_scope(report: ImportReport) -> Any:
    # In all-or-nothing mode the whole import is already one transaction.
    return transaction.atomic() if not report.all_or_nothing else contextlib.nullcontext()


def import_customers(
    stream: BinaryIO,
    *,
    name: str,
    by: User = None,
    all_or_nothing: bool = False,
    batch_size: int = CUSTOMER_BATCH,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a customers CSV from a binary stream. Raises ImportRefused if the header is unusable."""
    rows = CsvRows(stream, CUSTOMER_FILE)
    report = ImportReport("customers", name, all_or_nothing)
    applier = CustomerApplier(by)

    def write(batch: list[ParsedCustomer]) -> None:
        existing = applier.load(batch)
        with _batch_scope(report):
            for row in batch:
                try:
                    outcome = applier.apply(row, existing.get(row.external_ref))
                except FieldError as exc:
                    report.add_error(RowError(row.line, exc.field, exc.message))
                    continue
                setattr(report, outcome, getattr(report, outcome) + 1)
        if progress is not None:
            progress(rows.bytes_read)

    def body() -> None:
        seen: dict[str, int] = {}
        batch: list[ParsedCustomer] = []
        for row in rows:
            report.rows += 1
            if row.error is not None:
                report.add_error(row.error)
                continue
            try:
                parsed = parse_customer(row.values, row.line)
            except FieldError as exc:
                report.add_error(RowError(row.line, exc.field, exc.message))
                continue
            first = seen.setdefault(parsed.external_ref, row.line)
            if first != row.line:
                message = f"{parsed.external_ref!r} already appears on line {first}"
                report.add_error(RowError(row.line, "external_id", message))
                continue
            batch.append(parsed)
            if len(batch) >= batch_size:
                write(batch)
                batch = []
        write(batch)

    return _run(report, by, body, lambda: None)


class _EventImport:
    """The shared loop of the CSV and JSON event imports."""

    def __init__(self, report: ImportReport, source: str, batch_size: int, where: str) -> None:
        self.report = report
        self.parser = EventParser(source)
        self.resolver = CustomerResolver()
        self.writer = EventWriter()
        self.batch_size = batch_size
        self.where = where
        # Every key seen so far, to report a key used twice in one file. Hashes, not the keys, to keep a
        # million-row file in tens of megabytes.
        self.seen: dict[int, int] = {}

    def run(
        self, rows: Iterable[tuple[int, Mapping[str, Any] | RowError]], after_batch: Callable[[], None]
    ) -> None:
        report = self.report
        parse = self.parser.parse
        seen = self.seen
        batch: list[ParsedEvent] = []
        for position, values in rows:
            report.rows += 1
            if isinstance(values, RowError):
                report.add_error(values)
                continue
            try:
                event = parse(values, position)
            except FieldError as exc:
                report.add_error(RowError(position, exc.field, exc.message))
                continue
            marker = hash((event.source, event.key))
            first = seen.setdefault(marker, position)
            if first != position:
                message = f"event {event.key!r} from {event.source!r} already appears on {self.where} {first}"
                report.add_error(RowError(position, "event_id", message))
                continue
            batch.append(event)
            if len(batch) >= self.batch_size:
                self.write(batch)
                batch = []
                after_batch()
        self.write(batch)
        after_batch()

    def write(self, batch: list[ParsedEvent]) -> None:
        report = self.report
        resolver = self.resolver
        resolver.load(
            (event.customer_ref for event in batch if event.customer_ref is not None),
            (event.customer_id for event in batch if event.customer_id is not None),
        )
        ready: list[tuple[int, ParsedEvent]] = []
        for event in batch:
            customer_id = resolver.resolve(event)
            if customer_id is None:
                column, value = (
                    ("customer", event.customer_ref)
                    if event.customer_id is None
                    else ("customer_id", event.customer_id)
                )
                report.add_error(RowError(event.position, column, f"no customer {value!r}"))
            else:
                ready.append((customer_id, event))
        if report.all_or_nothing and not report.ok:
            return  # it will all be rolled back; only keep checking the rest
        with _batch_scope(report):
            created = self.writer.write(ready)
        report.created += created
        report.unchanged += len(ready) - created


def import_events(
    stream: BinaryIO,
    *,
    name: str,
    by: User = None,
    source: str = DEFAULT_SOURCE,
    all_or_nothing: bool = False,
    batch_size: int = EVENT_BATCH,
    progress: Progress | None = None,
) -> ImportReport:
    """Import an events CSV from a binary stream. Raises ImportRefused if the header is unusable."""
    rows = CsvRows(stream, EVENT_FILE)
    if "customer" not in rows.header and "customer_id" not in rows.header:
        raise ImportRefused({"header": "missing required column 'customer' (or 'customer_id')"})
    report = ImportReport("events", name, all_or_nothing)
    job = _EventImport(report, source, batch_size, "line")

    def cells() -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
        for row in rows:
            yield row.line, (row.error if row.error is not None else row.values)

    def after_batch() -> None:
        if progress is not None:
            progress(rows.bytes_read)

    return _run(report, by, lambda: job.run(cells(), after_batch), job.writer.flush_activity)


def ingest_events(
    records: Iterable[Mapping[str, Any]],
    *,
    name: str = "api",
    by: User = None,
    source: str = DEFAULT_SOURCE,
    all_or_nothing: bool = False,
) -> ImportReport:
    """Import events given as mappings (the JSON bulk API); errors carry the record's index as their line."""
    report = ImportReport("events", name, all_or_nothing)
    job = _EventImport(report, source, EVENT_BATCH, "index")

    def checked() -> Iterator[tuple[int, Mapping[str, Any] | RowError]]:
        for index, record in enumerate(records):
            try:
                EventParser.check_types(record)
            except FieldError as exc:
                yield index, RowError(index, exc.field, exc.message)
                continue
            yield index, record

    return _run(report, by, lambda: job.run(checked(), lambda: None), job.writer.flush_activity)


def import_file(
    what: str,
    path: Path,
    *,
    by: User = None,
    source: str = DEFAULT_SOURCE,
    all_or_nothing: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a CSV file from disk: what is 'customers' or 'events'."""
    with path.open("rb") as stream:
        if what == "customers":
            return import_customers(
                stream, name=path.name, by=by, all_or_nothing=all_or_nothing, progress=progress
            )
        if what == "events":
            return import_events(
                stream, name=path.name, by=by, source=source, all_or_nothing=all_or_nothing, progress=progress
            )
    raise ValueError(f"cannot import {what!r}; choose customers or events")
