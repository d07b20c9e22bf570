"""Import and export over the API: CSV uploads, bulk JSON event ingest, streamed CSV exports.

An import answers 200 with its report when it ran (rows with errors are listed, the valid ones were
written) and 422 with the same report when nothing was written because `all_or_nothing` was asked for
and some row was bad. A file whose header is unusable is refused with 422 naming the column.
"""

from __future__ import annotations

from typing import Any, BinaryIO, cast

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from ninja import Field, File, Router, Schema, Status
from ninja.files import UploadedFile

from tenure.customers.exporting import csv_lines, customers_csv, events_csv, find_customer
from tenure.customers.importing import (
    DEFAULT_SOURCE,
    ImportReport,
    import_customers,
    import_events,
    ingest_events,
)

router = Router(tags=["import and export"])

MAX_BULK_EVENTS = 10_000


class RowErrorOut(Schema):
    line: int | None = None
    index: int | None = None
    field: str
    message: str


class ImportResultOut(Schema):
    what: str
    name: str
    rows: int
    created: int
    updated: int
    unchanged: int = Field(description="rows already stored exactly so; a re-run changes nothing")
    error_count: int
    errors: list[RowErrorOut]
    written: bool = Field(description="false when all_or_nothing refused the whole import")
    message: str


class EventIn(Schema):
    event_id: str | None = Field(None, description="unique per source; re-posting it creates nothing")
    idempotency_key: str | None = Field(None, description="another name for event_id")
    customer: str | None = Field(None, description="the customer's external id")
    customer_id: int | None = None
    kind: str
    occurred_at: str = Field(description="ISO 8601; without an offset it is the business's local time")
    channel: str = ""
    actor: str = ""
    source: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class BulkEventsIn(Schema):
    events: list[EventIn] = Field(max_length=MAX_BULK_EVENTS, description="at most 10,000 per call")
    source: str = Field("api", max_length=64, description="the source the event keys are unique in")
    all_or_nothing: bool = False


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"your role does not allow this ({permission})")


def _result(report: ImportReport, *, by_index: bool = False) -> Status[dict[str, Any]]:
    if by_index:
        errors = [
            {
                "index": error.line,
                "field": f"events.{error.line}.{error.field}".rstrip("."),
                "message": error.message,
            }
            for error in report.errors
        ]
    else:
        errors = [error.as_dict() for error in report.errors]
    body = {
        "what": report.what,
        "name": report.name,
        **report.counts(),
        "error_count": report.error_count,
        "errors": errors,
        "written": report.written,
        "message": report.summary(),
    }
    return Status(200 if report.written else 422, body)


@router.post(
    "/imports/customers",
    response={200: ImportResultOut, 422: ImportResultOut},
    summary="Import customers (CSV)",
)
def import_customers_csv(
    request: HttpRequest, file: File[UploadedFile], all_or_nothing: bool = False
) -> Status[dict[str, Any]]:
    _require(request, "customers.import_customers")
    file.seek(0)
    report = import_customers(
        cast(BinaryIO, file.file),
        name=file.name or "upload.csv",
        by=request.user,
        all_or_nothing=all_or_nothing,
    )
    return _result(report)


@router.post(
    "/imports/events", response={200: ImportResultOut, 422: ImportResultOut}, summary="Import events (CSV)"
)
def import_events_csv(
    request: HttpRequest, file: File[UploadedFile], all_or_nothing: bool = False, source: str = DEFAULT_SOURCE
) -> Status[dict[str, Any]]:
    _require(request, "customers.import_customers")
    file.seek(0)
    report = import_events(
        cast(BinaryIO, file.file),
        name=file.name or "upload.csv",
        by=request.user,
        source=source,
        all_or_nothing=all_or_nothing,
    )
    return _result(report)


@router.post(
    "/events/bulk",
    response={200: ImportResultOut, 422: ImportResultOut},
    summary="Record up to 10,000 events (idempotent per source and event_id)",
)
def bulk_events(request: HttpRequest, body: BulkEventsIn) -> Status[dict[str, Any]]:
    _require(request, "core.add_event")
    records = []
    for event in body.events:
        record = event.model_dump()
        record["event_id"] = record.pop("event_id") or record.get("idempotency_key")
        records.append(record)
    report = ingest_events(
        records, name="api", by=request.user, source=body.source, all_or_nothing=body.all_or_nothing
    )
    return _result(report, by_index=True)


def _csv_response(lines: Any, stem: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{stamp}.csv"'
    return response


@router.get("/exports/customers", summary="Export customers (CSV, streamed)")
def export_customers(request: HttpRequest) -> StreamingHttpResponse:
    _require(request, "customers.export_customer")
    return _csv_response(csv_lines(*customers_csv()), "customers")


@router.get("/exports/events", summary="Export the timeline (CSV, streamed)")
def export_events(request: HttpRequest, customer: str | None = None) -> StreamingHttpResponse:
    _require(request, "core.export_event")
    chosen = find_customer(customer) if customer else None
    return _csv_response(csv_lines(*events_csv(chosen)), "events")
