"""Hot-path writes of the outbox (its rows, their timeline events, the step runs that queue them) as plain SQL.

Django builds a `bulk_update` of a few hundred rows out of thousands of CASE expressions, a queryset
`update` costs about a millisecond of Python per call, and `bulk_create` spends most of its time compiling
the INSERT (about 2 ms of a message's 10 ms under the profiler, for its four inserted rows); at thousands
of messages a second all three cost more than the database does. Values still go through each field's own
`pre_save` and conversion, so both databases get what the ORM would send; on PostgreSQL a value already of
its column's type skips the conversion, which would hand it back unchanged (`_document_value`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models.fields import AutoFieldMixin
from django.db.models.options import Options
from django.utils import timezone

from tenure.core.outbox_models import MessageStatus, OutboundMessage

_META = OutboundMessage._meta
_AUTO = (models.AutoField, models.BigAutoField, models.SmallAutoField)


@functools.cache
def _field(name: str) -> models.Field[Any, Any]:
    return cast("models.Field[Any, Any]", _META.get_field(name))


@functools.cache
def _quoted(vendor: str, name: str) -> str:
    # Per vendor: tests and tools may switch between SQLite and PostgreSQL in one process.
    return connection.ops.quote_name(name)


def _column(name: str) -> str:
    return _quoted(connection.vendor, str(_field(name).column))


@contextlib.contextmanager
def _cursor() -> Iterator[Any]:
    """Django's cursor; on PostgreSQL a plain psycopg cursor on the same connection and transaction.

    Django's PostgreSQL cursors bind parameters on the client: each value is quoted into the statement
    text in Python, which for a batch's arrays costs more than the statement does. This one sends
    them as parameters.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def _as_json(value: object) -> object:
    """`default` for `json.dumps`: a column value PostgreSQL's JSON reader turns back into that column's type."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    from psycopg.types.json import Json, Jsonb

    if isinstance(value, Json | Jsonb):  # a JSONField's value, as Django hands it to psycopg
        if value.dumps is None or value.dumps is json.dumps:
            return value.obj
        return json.loads(value.dumps(value.obj))  # a field with its own encoder: as that encoder writes it
    raise TypeError(f"no JSON form for a column value of type {type(value).__name__}")


def _recordset(table: str, rows: list[dict[str, Any]]) -> tuple[str, str]:
    """SQL for the rows as a set of `table` rows, and its one parameter: a JSON document.

    One string parameter, encoded by the json module's C code and decoded by PostgreSQL's: per-value
    adaptation in psycopg (as arrays, one per column) cost a sixth of a busy worker's time.
    """
    return f"json_populate_recordset(NULL::{table}, %s::json)", json.dumps(rows, default=_as_json)


# Field classes whose values go into PostgreSQL's JSON document unconverted when they have the type the
# field holds: `get_db_prep_save` would hand them back unchanged (JSON encodes every `str` subclass, a
# TextChoices member included, as its text). Exact classes only: a subclass may convert differently.
_TEXT = (models.CharField, models.TextField)
_INTEGER = (
    models.IntegerField,
    models.PositiveIntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveSmallIntegerField,
)


def _document_value(field: models.Field[Any, Any], db: Any) -> Callable[[Any], Any]:
    """How a value of `field` goes into PostgreSQL's JSON document: as it is where that is what
    `get_db_prep_save` would give, else through it."""
    kind = type(field)

    def converted(value: Any) -> Any:
        return field.get_db_prep_save(value, db)

    if kind in _TEXT:
        return lambda value: value if value is None or isinstance(value, str) else converted(value)
    integer_key = isinstance(field, models.ForeignKey) and type(field.target_field) in _AUTO
    if kind in _INTEGER or (kind is models.ForeignKey and integer_key):
        return lambda value: value if value is None or type(value) is int else converted(value)
    if kind is models.BooleanField:
        return lambda value: value if value is None or type(value) is bool else converted(value)
    if kind is models.DateTimeField:
        # As text here, rather than through `json.dumps`'s `default`, a call back into Python per value.
        return lambda value: (
            value.isoformat() if isinstance(value, dt.datetime) and value.tzinfo else converted(value)
        )
    if kind is models.JSONField and isinstance(field, models.JSONField) and field.encoder is None:
        return lambda value: value if type(value) in (dict, list) else converted(value)
    return converted


def _stamped(fields: Sequence[models.Field[Any, Any]]) -> list[bool]:
    """Which fields are `auto_now`/`auto_now_add` date-times: a batch gives them all one timestamp, read once
    rather than once per row (a date-only field keeps its own `pre_save`, today's date)."""
    return [
        isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add) for field in fields
    ]


def _values(objs: Sequence[models.Model], fields: Sequence[models.Field[Any, Any]]) -> Iterator[list[Any]]:
    """Each object's values as `pre_save` gives them, date-times stamped per batch (`_stamped`)."""
    now = timezone.now()
    stamped = _stamped(fields)
    for obj in objs:
        values = []
        for field, stamp in zip(fields, stamped, strict=True):
            if stamp:
                setattr(obj, field.attname, now)
                values.append(now)
            else:
                values.append(field.pre_save(obj, True))
        yield values


def _row_values(
    rows: Sequence[Mapping[str, Any]], fields: Sequence[models.Field[Any, Any]]
) -> Iterator[list[Any]]:
    """Each row's values by field `attname`, with the field's default where the row has none, as a model
    instance would have them; date-times stamped per batch (`_stamped`)."""
    now = timezone.now()
    stamped = _stamped(fields)
    for row in rows:
        yield [
            now if stamp else (row[field.attname] if field.attname in row else field.get_default())
            for field, stamp in zip(fields, stamped, strict=True)
        ]


def insert_rows(
    objs: Sequence[models.Model], *, ignore_conflicts: bool = False, returning: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Insert unsaved instances of one model: one statement per chunk the database allows.

    Like `bulk_create` without primary keys set on the instances and without signals. With
    `ignore_conflicts`, rows that would break a unique constraint are skipped (`ON CONFLICT DO NOTHING`,
    which SQLite and PostgreSQL both accept). `returning`: column names; the values of those columns
    for each inserted row (skipped rows return nothing), in no promised order.
    """
    if not objs:
        return []
    fields = _inserted_fields(objs[0]._meta)
    return _insert(objs[0]._meta, fields, _values(objs, fields), ignore_conflicts, returning)


def insert_values(
    model: type[models.Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts: bool = False,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """`insert_rows` for rows given as {field attname: value}, without building a model instance for each
    (for rows nothing reads back, such as timeline events: an instance costs more than its insert)."""
    if not rows:
        return []
    fields = _inserted_fields(model._meta)
    return _insert(model._meta, fields, _row_values(rows, fields), ignore_conflicts, returning)


def _inserted_fields(meta: Options[Any]) -> list[models.Field[Any, Any]]:
    return [field for field in meta.concrete_fields if not isinstance(field, AutoFieldMixin)]


def _insert(
    meta: Options[Any],
    fields: Sequence[models.Field[Any, Any]],
    value_lists: Iterator[list[Any]],
    ignore_conflicts: bool,
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    db = connections[DEFAULT_DB_ALIAS]  # once: every access through the `connection` proxy costs a lookup
    names = [str(field.column) for field in fields]
    columns = ", ".join(db.ops.quote_name(name) for name in names)
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    if returning:
        tail += " RETURNING " + ", ".join(db.ops.quote_name(name) for name in returning)
    table = db.ops.quote_name(meta.db_table)
    into = f"INSERT INTO {table} ({columns})"
    with _cursor() as cursor:
        if db.vendor == "postgresql":
            to_document = [_document_value(field, db) for field in fields]
            document_rows = [
                {
                    name: convert(value)
                    for name, convert, value in zip(names, to_document, values, strict=True)
                }
                for values in value_lists
            ]
            source, document = _recordset(table, document_rows)
            # Only quoted names from the model go into the text; the values are the one parameter.
            cursor.execute(f"{into} SELECT {columns} FROM {source}{tail}", [document])  # noqa: S608
            return list(cursor.fetchall()) if returning else []
        rows = [
            [field.get_db_prep_save(value, db) for field, value in zip(fields, values, strict=True)]
            for values in value_lists
        ]
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        inserted: list[tuple[Any, ...]] = []
        chunk = max(1, db.ops.bulk_batch_size(list(fields), rows))
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            # Only quoted names from the model go into the text; every value is a parameter.
            sql = f"{into} VALUES {', '.join([row] * len(part))}{tail}"
            cursor.execute(sql, [value for values in part for value in values])
            if returning:
                inserted.extend(cursor.fetchall())
        return inserted


def update_rows(messages: Sequence[OutboundMessage], fields: Sequence[str]) -> None:
    """Write `fields` of each message back to its row: one statement for the lot."""
    if not messages:
        return
    db = connections[DEFAULT_DB_ALIAS]
    table = db.ops.quote_name(_META.db_table)
    prepared = [_field(name) for name in fields]
    params: list[list[Any]] = [
        [*(field.get_db_prep_save(getattr(message, field.attname), db) for field in prepared), message.pk]
        for message in messages
    ]
    with _cursor() as cursor:
        if db.vendor == "postgresql":
            # One UPDATE joined to the new values as a set of rows, instead of one statement per row.
            names = [*(str(field.column) for field in prepared), str(_field("id").column)]
            source, document = _recordset(table, [dict(zip(names, values, strict=True)) for values in params])
            assignments = ", ".join(f"{_column(name)} = v.{_column(name)}" for name in fields)
            # Only quoted column names go into the text; the values are the one parameter.
            sql = f"UPDATE {table} SET {assignments} FROM {source} AS v WHERE {table}.{_column('id')} = v.{_column('id')}"  # noqa: S608
            cursor.execute(sql, [document])
            return
        assignments = ", ".join(f"{_column(name)} = %s" for name in fields)
        # Only quoted column names from the model go into the text; every value is a parameter.
        sql = f"UPDATE {table} SET {assignments} WHERE {_column('id')} = %s"  # noqa: S608
        cursor.executemany(sql, params)


@functools.cache
def _mark_sent_sql(vendor: str) -> str:
    """Built once per database vendor: this statement runs once for every message sent."""
    table = connection.ops.quote_name(_META.db_table)
    lazy_commit = (
        " AND set_config('synchronous_commit', 'off', true) = 'off'" if vendor == "postgresql" else ""
    )
    # Quoted column names only; values are parameters.
    return (
        f"UPDATE {table} SET {_column('status')} = %s, {_column('provider_id')} = %s, {_column('sent_at')} = %s,"  # noqa: S608
        f" {_column('last_error')} = '', {_column('send_after')} = %s"
        f" WHERE {_column('id')} = %s AND {_column('status')} = %s AND {_column('attempts')} = %s{lazy_commit}"
    )


MarkSent = Callable[[OutboundMessage, str, dt.datetime, dt.datetime], bool]


@contextlib.contextmanager
def sent_marks() -> Iterator[MarkSent]:
    """The `sent` mark for a batch of sends, through one cursor (opening one per message cost about as much
    as the mark itself). `mark(message, provider_id, sent_at, event_due)`: `sending` -> `sent` if the row
    is still ours (same attempt); one statement, autocommitted by the caller.

    On PostgreSQL the statement turns off `synchronous_commit` for its own transaction (a commit then
    returns without waiting for the disk: about 0.4 ms instead of 4 ms here). A killed worker loses
    nothing by it, the server has the commit; only a crash of the database server itself can forget the
    marks of its last fraction of a second, and those messages are sent again (never lost), as SQLite's
    `synchronous=NORMAL` already allows after a power cut.
    """
    db = connections[DEFAULT_DB_ALIAS]
    sql = _mark_sent_sql(db.vendor)
    sent_at_field, send_after_field = _field("sent_at"), _field("send_after")
    # Run once per message: on PostgreSQL planned once per connection.
    options = {"prepare": True} if db.vendor == "postgresql" else {}
    with _cursor() as cursor:

        def mark(
            message: OutboundMessage, provider_id: str, sent_at: dt.datetime, event_due: dt.datetime
        ) -> bool:
            params = [
                MessageStatus.SENT.value,
                provider_id,
                sent_at_field.get_db_prep_save(sent_at, db),
                send_after_field.get_db_prep_save(event_due, db),
                message.pk,
                MessageStatus.SENDING.value,
                message.attempts,
            ]
            cursor.execute(sql, params, **options)
            return bool(cursor.rowcount == 1)

        yield mark


def clear_timers(ids: Sequence[int]) -> None:
    """Take the timer off these rows (their `message.sent` events are written): one statement."""
    if not ids:
        return
    db = connections[DEFAULT_DB_ALIAS]
    table = db.ops.quote_name(_META.db_table)
    status, send_after, pk = _column("status"), _column("send_after"), _column("id")
    with _cursor() as cursor:
        if db.vendor == "postgresql":
            # One array parameter, whatever the batch size. Quoted column names only in the text.
            sql = f"UPDATE {table} SET {send_after} = NULL WHERE {pk} = ANY(%s::bigint[]) AND {status} = %s"  # noqa: S608
            # Not prepared: a generic plan for "any of an array of unknown length" read the whole table.
            cursor.execute(sql, [list(ids), MessageStatus.SENT.value], prepare=False)
            return
        sql = f"UPDATE {table} SET {send_after} = NULL WHERE {pk} = %s AND {status} = %s"  # noqa: S608
        cursor.executemany(sql, [(message_id, MessageStatus.SENT.value) for message_id in ids])
