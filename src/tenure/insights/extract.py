"""The timeline as two Arrow tables: what every analysis reads instead of the OLTP database.

`extract_from_database` streams the Event table in id order (a server-side cursor on PostgreSQL,
chunked fetches on SQLite) and turns each chunk into Arrow arrays; the payload keys the analytics
need are pulled out in SQL, so no model instance or decoded payload is built per row.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TIMESTAMP = pa.timestamp("us", tz="UTC")

# Payload keys read as numbers, in the column order of EVENTS_SCHEMA. A key may have aliases:
# appointment.window_missed reports its lateness as `minutes`.
NUMBER_KEYS: dict[str, tuple[str, ...]] = {
    "amount": ("amount",),
    "nps": ("nps",),
    "csat": ("csat",),
    "response_hours": ("response_hours",),
    "minutes_late": ("minutes_late", "minutes"),
    "hours_waiting": ("hours_waiting",),
}
# The thing an event is about (a request, job, invoice or order id), so answers can be matched to requests.
REF_KEYS = ("request", "job", "invoice", "order")

EVENTS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("kind", pa.string()),
        ("occurred_at", TIMESTAMP),
        ("channel", pa.string()),
        *((name, pa.float64()) for name in NUMBER_KEYS),
        ("department", pa.string()),
        ("ref", pa.string()),
    ]
)
CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("joined_at", TIMESTAMP),
        ("lifecycle", pa.string()),
        ("lost_at", TIMESTAMP),
        ("lost_reason", pa.string()),
        ("kind", pa.string()),
    ]
)
CHUNK_ROWS = 20_000
EVENTS_FILE, CUSTOMERS_FILE = "events.parquet", "customers.parquet"


class ExtractError(ValueError):
    """An extract that cannot be read or does not have the expected columns."""


@dataclass(frozen=True)
class TimelineExtract:
    """Customers and their events, columnar. Nulls where a value is absent."""

    events: pa.Table
    customers: pa.Table

    def __post_init__(self) -> None:
        for name, table, schema in (
            ("events", self.events, EVENTS_SCHEMA),
            ("customers", self.customers, CUSTOMERS_SCHEMA),
        ):
            missing = [field.name for field in schema if field.name not in table.column_names]
            if missing:
                raise ExtractError(f"{name} table lacks column(s): {', '.join(missing)}")


def _number(value: Any) -> float | None:
    """A payload value as a float; text that is not a finite number counts as absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value))
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def events_table(rows: Iterable[tuple[Any, ...]]) -> pa.Table:
    """Rows of (customer_id, kind, occurred_at, channel, *numbers, department, ref) as an events table."""
    columns: list[list[Any]] = [[] for _ in EVENTS_SCHEMA]
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            column.append(value)
    return pa.Table.from_arrays(
        [pa.array(column, type=field.type) for column, field in zip(columns, EVENTS_SCHEMA, strict=True)],
        schema=EVENTS_SCHEMA,
    )


def _event_batches(using: str, chunk_rows: int) -> Iterator[pa.Table]:
    from django.db.models.fields.json import KeyTextTransform

    from tenure.core.models import Event

    keys = {f"k_{key}": KeyTextTransform(key, "payload") for key in {*REF_KEYS, "department"}}
    for aliases in NUMBER_KEYS.values():
        keys.update({f"k_{alias}": KeyTextTransform(alias, "payload") for alias in aliases})
    query = (
        Event.objects.using(using)
        .filter(customer__merged_into__isnull=True)
        .order_by("id")
        .annotate(**keys)
        .values_list("customer_id", "kind", "occurred_at", "channel", *keys)
    )
    names = ["customer_id", "kind", "occurred_at", "channel", *keys]
    where = {name: index for index, name in enumerate(names)}
    number_slots = [[where[f"k_{alias}"] for alias in aliases] for aliases in NUMBER_KEYS.values()]
    ref_slots = [where[f"k_{key}"] for key in REF_KEYS]
    department = where["k_department"]

    def shaped(raw: tuple[Any, ...]) -> tuple[Any, ...]:
        numbers = []
        for slots in number_slots:
            value = None
            for slot in slots:
                value = _number(raw[slot])
                if value is not None:
                    break
            numbers.append(value)
        ref = next((text for slot in ref_slots if (text := _text(raw[slot])) is not None), None)
        return (raw[0], raw[1], raw[2], raw[3] or None, *numbers, _text(raw[department]), ref)

    chunk: list[tuple[Any, ...]] = []
    for raw in query.iterator(chunk_size=chunk_rows):
        chunk.append(shaped(raw))
        if len(chunk) >= chunk_rows:
            yield events_table(chunk)
            chunk = []
    if chunk:
        yield events_table(chunk)


def _customer_rows(using: str) -> tuple[pa.Table, pa.Array]:
    from tenure.customers.models import Customer

    rows = (
        Customer.objects.using(using)
        .filter(merged_into__isnull=True)
        .order_by("id")
        .values_list("id", "created_at", "lifecycle", "lost_at", "lost_reason", "kind")
    )
    ids: list[int] = []
    created: list[dt.datetime] = []
    lifecycle: list[str] = []
    lost_at: list[dt.datetime | None] = []
    lost_reason: list[str | None] = []
    kind: list[str] = []
    for pk, created_at, stage, lost, reason, customer_kind in rows.iterator(chunk_size=CHUNK_ROWS):
        ids.append(pk)
        created.append(created_at)
        lifecycle.append(stage)
        lost_at.append(lost)
        lost_reason.append(reason or None)
        kind.append(customer_kind)
    table = pa.table(
        {
            "customer_id": pa.array(ids, pa.int64()),
            "lifecycle": pa.array(lifecycle, pa.string()),
            "lost_at": pa.array(lost_at, TIMESTAMP),
            "lost_reason": pa.array(lost_reason, pa.string()),
            "kind": pa.array(kind, pa.string()),
        }
    )
    return table, pa.array(created, TIMESTAMP)


def joined_dates(customers: pa.Table, fallback: pa.Array, events: pa.Table) -> pa.Array:
    """When each customer joined: their customer.created event, else the earlier of `fallback` and first event.

    Imported and demo customers carry their real join date on the timeline; `created_at` is only when
    the row was written.
    """
    created = events.filter(pc.equal(events["kind"], "customer.created"))
    by_created = created.group_by("customer_id").aggregate([("occurred_at", "min")])
    by_first = events.group_by("customer_id").aggregate([("occurred_at", "min")])
    ids = customers["customer_id"]
    at_created = pc.take(by_created["occurred_at_min"], pc.index_in(ids, value_set=by_created["customer_id"]))
    at_first = pc.take(by_first["occurred_at_min"], pc.index_in(ids, value_set=by_first["customer_id"]))
    # Arrow has no element-wise min for zoned timestamps; compare the microsecond counts.
    micros = pa.int64()
    earliest = pc.min_element_wise(fallback.cast(micros), at_first.cast(micros), skip_nulls=True)
    return pc.coalesce(at_created, earliest.cast(TIMESTAMP))


def extract_from_database(using: str = "default", *, chunk_rows: int = CHUNK_ROWS) -> TimelineExtract:
    """Every (unmerged) customer and their whole timeline, read in chunks from database `using`."""
    from django.db import transaction

    # One transaction so both reads see the same database on PostgreSQL (and the cursor may be named).
    with transaction.atomic(using=using):
        customers, created_at = _customer_rows(using)
        batches = list(_event_batches(using, chunk_rows))
    events = pa.concat_tables(batches) if batches else EVENTS_SCHEMA.empty_table()
    # An event of a customer written after the customer read began has no row to join; drop it.
    events = events.filter(pc.is_in(events["customer_id"], value_set=customers["customer_id"]))
    joined = joined_dates(customers, created_at, events)
    customers = customers.add_column(1, "joined_at", joined).select(CUSTOMERS_SCHEMA.names)
    return TimelineExtract(events=events.combine_chunks(), customers=customers.cast(CUSTOMERS_SCHEMA))


def save_extract(extract: TimelineExtract, directory: Path | str) -> Path:
    """Write the extract as two Parquet files in `directory` (created if missing)."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(extract.events, target / EVENTS_FILE, compression="zstd")
    pq.write_table(extract.customers, target / CUSTOMERS_FILE, compression="zstd")
    return target


def load_extract(directory: Path | str) -> TimelineExtract:
    """Read an extract written by `save_extract` (or by the benchmark generator)."""
    source = Path(directory)
    tables = {}
    for name, file in (("events", EVENTS_FILE), ("customers", CUSTOMERS_FILE)):
        path = source / file
        if not path.exists():
            raise ExtractError(f"no {file} in {source}")
        tables[name] = pq.read_table(path)
    return TimelineExtract(events=tables["events"], customers=tables["customers"])
