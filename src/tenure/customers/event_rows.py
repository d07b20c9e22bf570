"""Checking one imported event and writing a batch of them.

This is the hot path of `tenure import events` and of `POST /events/bulk`: a row is checked without
touching the database; customers are resolved for a whole batch with one query per few hundred
references (and cached for the rest of the import); a batch is written with one
`INSERT … ON CONFLICT (source, idempotency_key) DO NOTHING` executemany, so re-importing a row that is
already stored is a no-op the database decides, not a query per row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from tenure.core.models import Channel, Event
from tenure.core.services import validate_event_kind
from tenure.customers.models import Customer, Lifecycle
from tenure.customers.services import lapse_due

EVENT_COLUMNS = (
    "event_id",
    "customer",
    "customer_id",
    "kind",
    "occurred_at",
    "channel",
    "actor",
    "source",
    "payload",
)
EVENT_ALIASES = {"idempotency_key": "event_id", "customer_external_id": "customer"}

MAX_KEY = Event._meta.get_field("idempotency_key").max_length or 200
MAX_SOURCE = Event._meta.get_field("source").max_length or 64
MAX_ACTOR = Event._meta.get_field("actor").max_length or 150
MAX_REF = Customer._meta.get_field("external_ref").max_length or 100
MAX_PAYLOAD_CHARS = 64 * 1024
_CHANNELS = frozenset(Channel.values)
# How many references go into one `IN (…)` when resolving customers; well under SQLite's variable limit.
_LOOKUP_CHUNK = 500
_STAGE = "tenure_import_event_stage"


class FieldError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class ParsedEvent:
    position: int  # the CSV line, or the index in a JSON batch
    customer_ref: str | None
    customer_id: int | None
    kind: str
    occurred_at: dt.datetime  # aware, UTC
    channel: str
    actor: str
    payload: str  # JSON text of an object, keys sorted
    source: str
    key: str


def _limit(field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise FieldError(field, f"is {len(value)} characters long; at most {limit} are allowed")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


_DECODER = json.JSONDecoder(parse_constant=_no_constants)
# Keys sorted so the same object always gives the same text (and the same derived key).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=False)


class EventParser:
    """Turns one row (CSV cells or a JSON object's fields) into a `ParsedEvent`, or raises FieldError."""

    def __init__(self, default_source: str) -> None:
        if not default_source or len(default_source) > MAX_SOURCE:
            raise ValidationError({"source": f"a source name of 1 to {MAX_SOURCE} characters is required"})
        self.default_source = default_source
        self.business_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self._good_kinds: set[str] = set()

    def parse(self, values: Mapping[str, Any], position: int) -> ParsedEvent:
        """Check one row. Text fields must be str or None (see `check_types` for untrusted mappings).

        Written for speed, as it runs once per imported row: the common case takes no detours.
        """
        get = values.get
        ref = get("customer")
        if ref:
            ref = ref.strip()
        if ref:
            _limit("customer", ref, MAX_REF)
            customer_ref, customer_id = ref, None
        else:
            customer_ref, customer_id = None, self._customer_id(get("customer_id"))
        kind = get("kind") or ""
        if kind not in self._good_kinds:
            kind = self._kind(kind)
        occurred_at = self._occurred_at(get("occurred_at") or "")
        channel = get("channel") or ""
        if channel and channel not in _CHANNELS:
            channel = self._channel(channel)
        actor = get("actor") or ""
        if actor:
            actor = actor.strip()
            _limit("actor", actor, MAX_ACTOR)
        source = get("source") or ""
        if source:
            source = source.strip()
            _limit("source", source, MAX_SOURCE)
        source = source or self.default_source
        payload = get("payload")
        payload = self._payload(payload) if payload else "{}"
        key = get("event_id") or ""
        if key:
            key = key.strip()
            _limit("event_id", key, MAX_KEY)
        if not key:
            key = self.derived_key(customer_ref, customer_id, kind, occurred_at, channel, actor, payload)
        return ParsedEvent(
            position, customer_ref, customer_id, kind, occurred_at, channel, actor, payload, source, key
        )

    @staticmethod
    def check_types(values: Mapping[str, Any]) -> None:
        """For mappings from outside a CSV file: text fields are text without NUL characters."""
        for name in EVENT_COLUMNS:
            value = values.get(name)
            if value is None or name == "payload":
                continue
            if name == "customer_id" and isinstance(value, int) and not isinstance(value, bool):
                continue
            if not isinstance(value, str):
                raise FieldError(name, "must be text")
            if "\x00" in value:
                raise FieldError(name, "contains a NUL character")

    @staticmethod
    def derived_key(
        customer_ref: str | None,
        customer_id: int | None,
        kind: str,
        occurred_at: dt.datetime,
        channel: str,
        actor: str,
        payload: str,
    ) -> str:
        """A key from the row's content, so rows without an event_id are still idempotent on re-import."""
        who = f"ref:{customer_ref}" if customer_ref is not None else f"id:{customer_id}"
        content = "\x1f".join((who, kind, occurred_at.isoformat(), channel, actor, payload))
        return "row-" + hashlib.blake2b(content.encode(), digest_size=16).hexdigest()

    @staticmethod
    def _customer_id(raw_id: Any) -> int:
        if raw_id is None or raw_id == "":
            raise FieldError(
                "customer", "say which customer: fill in customer (their external id) or customer_id"
            )
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            return raw_id
        text = str(raw_id).strip()
        if not text.isdigit() or len(text) > 18:
            raise FieldError("customer_id", f"{text[:40]!r} is not a customer id (a whole number)")
        return int(text)

    @staticmethod
    def _channel(value: str) -> str:
        channel = value.strip().lower()
        if channel and channel not in _CHANNELS:
            raise FieldError("channel", f"{channel[:40]!r} is not a channel ({', '.join(sorted(_CHANNELS))})")
        return channel

    def _kind(self, value: str) -> str:
        kind = value.strip()
        if kind not in self._good_kinds:
            if not kind:
                raise FieldError("kind", "an event kind is required, e.g. 'order.placed'")
            _limit("kind", kind, 64)
            try:
                validate_event_kind(kind)
            except ValidationError as exc:
                raise FieldError("kind", exc.messages[0]) from None
            self._good_kinds.add(kind)
        return kind

    def _occurred_at(self, text: str) -> dt.datetime:
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            moment = self._occurred_at_slowly(text)
        if moment.tzinfo is None:
            # Naive times are the business's local time, the way people write them in spreadsheets.
            moment = moment.replace(tzinfo=self.business_zone)
        if moment.tzinfo is dt.UTC:
            return moment
        try:
            return moment.astimezone(dt.UTC)
        except OverflowError:
            raise FieldError("occurred_at", f"{text[:40]!r} is out of range") from None

    @staticmethod
    def _occurred_at_slowly(text: str) -> dt.datetime:
        stripped = text.strip()
        if not stripped:
            raise FieldError(
                "occurred_at", "a date and time is required (ISO 8601, e.g. 2024-03-01T14:30:00Z)"
            )
        try:
            return dt.datetime.fromisoformat(stripped)
        except ValueError:
            raise FieldError(
                "occurred_at",
                f"{stripped[:40]!r} is not an ISO 8601 date and time (e.g. 2024-03-01T14:30:00Z)",
            ) from None

    @staticmethod
    def _payload(value: Any) -> str:
        if isinstance(value, str):
            if len(value) > MAX_PAYLOAD_CHARS:
                raise FieldError(
                    "payload", f"is {len(value)} characters long; at most {MAX_PAYLOAD_CHARS} are allowed"
                )
            try:
                data = _DECODER.decode(value)
            except ValueError as exc:
                raise FieldError("payload", f"is not valid JSON: {exc}") from None
        else:
            data = value
        if not isinstance(data, dict):
            raise FieldError("payload", f"must be a JSON object ({{...}}), not {type(data).__name__}")
        try:
            text = _ENCODER.encode(data)
        except (TypeError, ValueError) as exc:
            raise FieldError("payload", f"cannot be stored as JSON: {exc}") from None
        if len(text) > MAX_PAYLOAD_CHARS:
            raise FieldError(
                "payload", f"is {len(text)} characters long; at most {MAX_PAYLOAD_CHARS} are allowed"
            )
        # PostgreSQL's jsonb refuses NUL characters; refuse them on every database alike.
        if "\\u0000" in text:
            raise FieldError("payload", "contains a NUL character")
        return text


class CustomerResolver:
    """Maps external ids and customer ids to live customer ids, a batch at a time, with a cache.

    A merged customer's id resolves to the customer it was merged into.
    """

    def __init__(self) -> None:
        self.by_ref: dict[str, int | None] = {}
        self.by_id: dict[int, int | None] = {}

    def load(self, refs: Iterable[str], ids: Iterable[int]) -> None:
        new_refs = sorted({ref for ref in refs if ref not in self.by_ref})
        for start in range(0, len(new_refs), _LOOKUP_CHUNK):
            chunk = new_refs[start : start + _LOOKUP_CHUNK]
            for ref in chunk:
                self.by_ref[ref] = None
            found = Customer.objects.filter(external_ref__in=chunk).values_list("external_ref", "id")
            for found_ref, pk in found:
                self.by_ref[found_ref or ""] = pk
        self._load_ids(ids, depth=0)

    def _load_ids(self, ids: Iterable[int], depth: int) -> None:
        new_ids = sorted({pk for pk in ids if pk not in self.by_id})
        merged: dict[int, int] = {}
        for start in range(0, len(new_ids), _LOOKUP_CHUNK):
            chunk = new_ids[start : start + _LOOKUP_CHUNK]
            for pk in chunk:
                self.by_id[pk] = None
            for pk, merged_into in Customer.objects.filter(id__in=chunk).values_list("id", "merged_into_id"):
                if merged_into is None:
                    self.by_id[pk] = pk
                else:
                    merged[pk] = merged_into
        # Follow merges (rarely more than one hop) to the customer that lives on.
        if merged and depth < 5:
            self._load_ids(merged.values(), depth + 1)
            for pk, target in merged.items():
                self.by_id[pk] = self.by_id.get(target)

    def resolve(self, event: ParsedEvent) -> int | None:
        if event.customer_id is not None:
            return self.by_id.get(event.customer_id)
        return self.by_ref.get(event.customer_ref or "")


class EventWriter:
    """Inserts batches of checked events; keeps the newest activity per customer for one update at the end."""

    def __init__(self) -> None:
        quote = connection.ops.quote_name
        table = quote(Event._meta.db_table)
        by_name = {field.name: str(field.column) for field in Event._meta.concrete_fields}
        names = (
            "customer",
            "kind",
            "occurred_at",
            "channel",
            "actor",
            "payload",
            "source",
            "idempotency_key",
        )
        columns = ", ".join(quote(by_name[name]) for name in (*names, "recorded_at"))
        payload = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
        # Only identifiers from the model's own metadata are formatted in; every value is a parameter.
        self.insert_sql = (
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, {payload}, %s, %s, %s) "  # noqa: S608
            f"ON CONFLICT ({quote('source')}, {quote('idempotency_key')}) DO NOTHING"
        )
        self.adapt = datetime_adapter()
        self.latest: dict[int, dt.datetime] = {}
        self.copy = connection.vendor == "postgresql"
        if self.copy:
            # PostgreSQL: COPY the batch into a session-local staging table, then one set-based insert.
            # COPY cannot skip conflicting rows itself, and one INSERT … SELECT is far cheaper than a
            # statement per row.
            stage = quote(_STAGE)
            # Same column types as the events table, no id, defaults or constraints.
            self.stage_sql = (
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            self.copy_sql = f"COPY {stage} ({columns}) FROM STDIN"
            self.move_sql = (
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} "  # noqa: S608
                f"ON CONFLICT ({quote('source')}, {quote('idempotency_key')}) DO NOTHING"
            )
            self.clear_sql = f"TRUNCATE {stage}"

    def write(self, rows: list[tuple[int, ParsedEvent]]) -> int:
        """Insert (customer id, event) pairs; returns how many were new."""
        if not rows:
            return 0
        adapt = self.adapt
        recorded_at = adapt(timezone.now())
        params = [
            (
                customer_id,
                event.kind,
                adapt(event.occurred_at),
                event.channel,
                event.actor,
                event.payload,
                event.source,
                event.key,
                recorded_at,
            )
            for customer_id, event in rows
        ]
        with connection.cursor() as cursor:
            if self.copy:
                created = self._copy(cursor, params)
            else:
                cursor.executemany(self.insert_sql, params)
                created = cursor.rowcount
        self.note(rows)
        return max(created, 0)

    def _copy(self, cursor: Any, params: list[tuple[Any, ...]]) -> int:
        cursor.execute(self.stage_sql)
        with cursor.cursor.copy(self.copy_sql) as copy:
            for row in params:
                copy.write_row(row)
        cursor.execute(self.move_sql)
        created = int(cursor.rowcount)
        # The staging rows would go at commit anyway; an all-or-nothing import has many batches per commit.
        cursor.execute(self.clear_sql)
        return created

    def note(self, rows: list[tuple[int, ParsedEvent]]) -> None:
        now = timezone.now()
        latest = self.latest
        for customer_id, event in rows:
            at = event.occurred_at
            # A future event (a booked visit) is not contact yet.
            if at <= now and (customer_id not in latest or latest[customer_id] < at):
                latest[customer_id] = at

    def flush_activity(self) -> None:
        """Move each touched customer's last activity on and push back their lapse timer.

        The same rules as customers.services.note_activity, done as two executemany updates for all
        customers at once instead of two queries per customer.
        """
        if not self.latest:
            return
        quote = connection.ops.quote_name
        table = quote(Customer._meta.db_table)
        adapt = self.adapt
        touch = (
            f"UPDATE {table} SET {quote('last_activity_at')} = %s WHERE {quote('id')} = %s "  # noqa: S608
            f"AND ({quote('last_activity_at')} IS NULL OR {quote('last_activity_at')} < %s)"
        )
        lapse = (
            f"UPDATE {table} SET {quote('lapse_due_at')} = %s WHERE {quote('id')} = %s "  # noqa: S608
            f"AND {quote('lifecycle')} IN (%s, %s) AND {quote('last_activity_at')} = %s"
        )
        items = sorted(self.latest.items())
        with connection.cursor() as cursor:
            cursor.executemany(touch, [(adapt(at), pk, adapt(at)) for pk, at in items])
            cursor.executemany(
                lapse,
                [
                    (adapt(lapse_due(at)), pk, Lifecycle.ACTIVE.value, Lifecycle.LAPSED.value, adapt(at))
                    for pk, at in items
                ],
            )
        self.latest.clear()


def datetime_adapter() -> Any:
    """A fast stand-in for connection.ops.adapt_datetimefield_value for an aware UTC datetime."""
    if connection.vendor == "sqlite":
        # Django keeps datetimes in SQLite as naive UTC text: 'YYYY-MM-DD HH:MM:SS[.ffffff]'.
        def to_sqlite(value: dt.datetime) -> str:
            if value.tzinfo is not dt.UTC:
                value = value.astimezone(dt.UTC)
            return str(value.replace(tzinfo=None))

        return to_sqlite
    if connection.vendor == "postgresql":
        return lambda value: value
    return connection.ops.adapt_datetimefield_value
