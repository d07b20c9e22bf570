"""CSV export of customers and of the timeline, streamed a chunk of rows at a time.

The columns are the import columns, so an exported file imports again unchanged. Cells that a
spreadsheet would run as a formula (starting with = + - @ or a tab/return) get a leading apostrophe;
plain numbers such as +15551234567 are left as they are.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, TextIO

from django.core.exceptions import ValidationError

from tenure.core.models import Event
from tenure.customers.customer_rows import CUSTOMER_COLUMNS, LIST_SEPARATOR
from tenure.customers.event_rows import EVENT_COLUMNS
from tenure.customers.models import Customer, Identity

# Exported timelines re-import as they are: the same columns the importer reads.
EVENT_EXPORT_COLUMNS = EVENT_COLUMNS
CHUNK = 2000

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9][0-9 .,()/-]*$")


def neutralize(value: str) -> str:
    """Make a cell safe to open in a spreadsheet (CSV formula injection)."""
    if value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return neutralize(value if isinstance(value, str) else str(value))


def customer_rows() -> Iterator[list[str]]:
    """Every customer that was not merged away, in id order, as import-shaped rows."""
    last = 0
    while True:
        chunk = list(
            Customer.objects.filter(merged_into__isnull=True, pk__gt=last)
            .select_related("assigned_rep")
            .order_by("pk")[:CHUNK]
        )
        if not chunk:
            return
        ids = [customer.pk for customer in chunk]
        identities: dict[tuple[int, str], list[str]] = defaultdict(list)
        for customer_id, channel, value in (
            Identity.objects.filter(customer_id__in=ids)
            .order_by("pk")
            .values_list("customer_id", "channel", "value")
        ):
            identities[customer_id, channel].append(value)
        tags: dict[int, list[str]] = defaultdict(list)
        through = Customer.tags.through.objects.filter(customer_id__in=ids).order_by("tag__name")
        for customer_id, name in through.values_list("customer_id", "tag__name"):
            tags[customer_id].append(name)
        for customer in chunk:
            pk = customer.pk
            rep = customer.assigned_rep
            yield [
                _cell(value)
                for value in (
                    customer.external_ref,
                    customer.name,
                    customer.kind,
                    LIST_SEPARATOR.join(identities[pk, "email"]),
                    LIST_SEPARATOR.join(identities[pk, "phone"]),
                    LIST_SEPARATOR.join(identities[pk, "social"]),
                    customer.address,
                    customer.lifecycle,
                    customer.lost_at.isoformat() if customer.lost_at else "",
                    customer.lost_reason,
                    LIST_SEPARATOR.join(tags[pk]),
                    customer.preferred_channel,
                    customer.language,
                    customer.time_zone,
                    rep.get_username() if rep is not None else "",
                )
            ]
        last = chunk[-1].pk


def event_rows(customer: Customer | None = None) -> Iterator[list[str]]:
    """The timeline (one customer's, or everyone's) in id order, as import-shaped rows."""
    events = Event.objects.order_by("pk")
    if customer is not None:
        events = events.filter(customer=customer)
    fields = (
        "pk",
        "idempotency_key",
        "customer__external_ref",
        "customer_id",
        "kind",
        "occurred_at",
        "channel",
        "actor",
        "source",
        "payload",
    )
    last = 0
    while True:
        chunk = list(events.filter(pk__gt=last).values_list(*fields)[:CHUNK])
        if not chunk:
            return
        for pk, key, ref, customer_id, kind, occurred_at, channel, actor, source, payload in chunk:
            yield [
                _cell(key),
                _cell(ref),
                str(customer_id),
                _cell(kind),
                occurred_at.isoformat(),
                _cell(channel),
                _cell(actor),
                _cell(source),
                _cell(json.dumps(payload, sort_keys=True, ensure_ascii=False)),
            ]
            last = pk


def find_customer(value: str) -> Customer:
    """A customer by Tenure id or, failing that, by external id."""
    value = value.strip()
    customer = None
    if value.isdigit():
        customer = Customer.objects.filter(pk=int(value)).first()
    if customer is None:
        customer = Customer.objects.filter(external_ref=value).first()
    if customer is None:
        raise ValidationError({"customer": f"no customer {value!r}"})
    return customer


class _Line:
    """A file-like target that hands back what csv.writer writes, so each row can be yielded."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: tuple[str, ...], rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def write_csv(target: TextIO, header: tuple[str, ...], rows: Iterator[list[str]]) -> int:
    """Write rows to a text stream; returns how many data rows were written."""
    writer = csv.writer(target)
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
    return count


def customers_csv() -> tuple[tuple[str, ...], Iterator[list[str]]]:
    return CUSTOMER_COLUMNS, customer_rows()


def events_csv(customer: Customer | None = None) -> tuple[tuple[str, ...], Iterator[list[str]]]:
    return EVENT_EXPORT_COLUMNS, event_rows(customer)
