"""Checking one imported customer row and applying it through the customer services.

A row is matched to a stored customer by its external id: a new id creates the customer, a known one
updates it (identities are added, never removed), so importing the same file twice changes nothing the
second time. Columns the file does not have are left alone on update.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.customers.event_rows import FieldError
from tenure.customers.identities import normalize_email, normalize_phone, normalize_social
from tenure.customers.models import Customer, CustomerKind, IdentityChannel, Lifecycle
from tenure.customers.services import add_identity, create_customer, set_lifecycle, set_tags, update_customer

CUSTOMER_COLUMNS = (
    "external_id",
    "name",
    "kind",
    "email",
    "phone",
    "social",
    "address",
    "lifecycle",
    "lost_at",
    "lost_reason",
    "tags",
    "preferred_channel",
    "language",
    "time_zone",
    "assigned_rep",
)
CUSTOMER_ALIASES = {"external_ref": "external_id"}
REQUIRED_CUSTOMER_COLUMNS = ("external_id", "name")

# Columns that hold several values separated by semicolons.
LIST_SEPARATOR = ";"
_IDENTITY_COLUMNS = {
    "email": (IdentityChannel.EMAIL.value, normalize_email),
    "phone": (IdentityChannel.PHONE.value, normalize_phone),
    "social": (IdentityChannel.SOCIAL.value, normalize_social),
}
# Which import column a service's field name belongs to, for error messages.
_FIELD_TO_COLUMN = {"external_ref": "external_id", "assigned_rep_id": "assigned_rep"}
_LIMITS = {
    "external_id": Customer._meta.get_field("external_ref").max_length or 100,
    "name": Customer._meta.get_field("name").max_length or 200,
    "address": 2000,
    "lost_reason": Customer._meta.get_field("lost_reason").max_length or 200,
    "language": Customer._meta.get_field("language").max_length or 10,
    "time_zone": Customer._meta.get_field("time_zone").max_length or 64,
    "assigned_rep": 150,
    "tags": 2000,
    "email": 2000,
    "phone": 500,
    "social": 2000,
}

User = AbstractBaseUser | AnonymousUser | None


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


@dataclass
class ParsedCustomer:
    line: int
    external_ref: str
    fields: dict[str, Any] = field(default_factory=dict)
    identities: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] | None = None
    lifecycle: str | None = None
    lost_at: dt.datetime | None = None
    lost_reason: str = ""
    rep_username: str | None = None


def _cell(values: Mapping[str, str], name: str) -> str | None:
    """The trimmed cell, or None if the file has no such column."""
    raw = values.get(name)
    if raw is None:
        return None
    value = raw.strip()
    limit = _LIMITS.get(name, 200)
    if len(value) > limit:
        raise FieldError(name, f"is {len(value)} characters long; at most {limit} are allowed")
    return value


def _choice(name: str, value: str, choices: list[str]) -> str:
    value = value.lower()
    if value not in choices:
        raise FieldError(name, f"{value!r} is not one of {', '.join(choices)}")
    return value


def parse_customer(values: Mapping[str, str], line: int) -> ParsedCustomer:
    """Check a row without the database; raises FieldError naming the column."""
    external_ref = _cell(values, "external_id") or ""
    if not external_ref:
        raise FieldError("external_id", "an external id is required (it keys the customer on re-import)")
    row = ParsedCustomer(line=line, external_ref=external_ref)
    name = _cell(values, "name") or ""
    if not name:
        raise FieldError("name", "a name is required")
    row.fields["name"] = name
    if kind := _cell(values, "kind"):
        row.fields["kind"] = _choice("kind", kind, CustomerKind.values)
    for column, (channel, normalize) in _IDENTITY_COLUMNS.items():
        cell = _cell(values, column)
        for raw in (cell or "").split(LIST_SEPARATOR):
            if raw.strip():
                try:
                    row.identities.append((channel, normalize(raw)))
                except ValidationError as exc:
                    raise FieldError(column, exc.messages[0]) from None
    if (address := _cell(values, "address")) is not None:
        row.fields["address"] = address
    if (preferred := _cell(values, "preferred_channel")) is not None:
        row.fields["preferred_channel"] = (
            _choice("preferred_channel", preferred, IdentityChannel.values) if preferred else ""
        )
    if language := _cell(values, "language"):
        row.fields["language"] = language.lower()
    if (time_zone := _cell(values, "time_zone")) is not None:
        if time_zone and time_zone not in _time_zones():
            raise FieldError("time_zone", f"{time_zone!r} is not a time zone name (e.g. Europe/Berlin)")
        row.fields["time_zone"] = time_zone
    if (tags := _cell(values, "tags")) is not None:
        row.tags = [tag.strip() for tag in tags.split(LIST_SEPARATOR) if tag.strip()]
        for tag in row.tags:
            if len(tag) > 50:
                raise FieldError("tags", f"tag {tag[:20]!r}… is longer than 50 characters")
    if (username := _cell(values, "assigned_rep")) is not None:
        row.rep_username = username
    _parse_lifecycle(values, row)
    return row


def _parse_lifecycle(values: Mapping[str, str], row: ParsedCustomer) -> None:
    if lifecycle := _cell(values, "lifecycle"):
        row.lifecycle = _choice("lifecycle", lifecycle, Lifecycle.values)
    row.lost_reason = _cell(values, "lost_reason") or ""
    if lost_at := _cell(values, "lost_at"):
        try:
            moment = dt.datetime.fromisoformat(lost_at)
        except ValueError:
            raise FieldError("lost_at", f"{lost_at!r} is not an ISO 8601 date (e.g. 2024-03-01)") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))
        row.lost_at = moment.astimezone(dt.UTC)
    if row.lifecycle == Lifecycle.LOST and not row.lost_reason:
        raise FieldError("lost_reason", "say why the customer was lost")
    if row.lifecycle != Lifecycle.LOST and (row.lost_at or row.lost_reason):
        raise FieldError(
            "lifecycle", "lost_at and lost_reason are only for customers whose lifecycle is lost"
        )


class CustomerApplier:
    """Writes parsed rows; each row in a savepoint so one bad row does not spoil its batch."""

    def __init__(self, by: User) -> None:
        self.by = by
        self._users: dict[str, int | None] = {}

    def load(self, rows: list[ParsedCustomer]) -> dict[str, Customer]:
        """The stored customers the batch refers to, by external id (one query), and their reps."""
        usernames = {row.rep_username for row in rows if row.rep_username} - set(self._users)
        if usernames:
            for username in usernames:
                self._users[username] = None
            found = get_user_model().objects.filter(username__in=usernames, is_active=True)
            for username, pk in found.values_list("username", "pk"):
                self._users[username] = pk
        refs = [row.external_ref for row in rows]
        return {
            customer.external_ref or "": customer
            for customer in Customer.objects.filter(external_ref__in=refs)
        }

    def apply(self, row: ParsedCustomer, existing: Customer | None) -> str:
        """Create or update one customer; returns 'created', 'updated' or 'unchanged'."""
        fields = dict(row.fields)
        if row.rep_username is not None:
            if row.rep_username and self._users.get(row.rep_username) is None:
                raise FieldError("assigned_rep", f"no active staff user is called {row.rep_username!r}")
            fields["assigned_rep_id"] = self._users.get(row.rep_username) if row.rep_username else None
        try:
            with transaction.atomic():
                if existing is None:
                    return self._create(row, fields)
                return self._update(row, existing, fields)
        except ValidationError as exc:
            raise _field_error(exc, row) from None

    def _create(self, row: ParsedCustomer, fields: dict[str, Any]) -> str:
        lifecycle = row.lifecycle or Lifecycle.PROSPECT
        customer = create_customer(
            by=self.by,
            external_ref=row.external_ref,
            identities=row.identities,
            tags=row.tags or (),
            lifecycle=Lifecycle.PROSPECT if lifecycle == Lifecycle.LOST else lifecycle,
            **fields,
        )
        if lifecycle == Lifecycle.LOST:
            set_lifecycle(
                customer=customer, lifecycle=lifecycle, by=self.by, reason=row.lost_reason, at=row.lost_at
            )
        return "created"

    def _update(self, row: ParsedCustomer, customer: Customer, fields: dict[str, Any]) -> str:
        changed = any(getattr(customer, name) != value for name, value in fields.items())
        if changed:
            update_customer(customer=customer, by=self.by, **fields)
        known = set(customer.identities.values_list("channel", "value"))
        for channel, value in row.identities:
            if (channel, value) not in known:
                add_identity(customer=customer, channel=channel, value=value, by=self.by)
                known.add((channel, value))
                changed = True
        if row.tags is not None:
            wanted = {tag.lower() for tag in row.tags}
            if wanted != set(customer.tags.values_list("name", flat=True)):
                set_tags(customer=customer, names=row.tags)
                changed = True
        if row.lifecycle and self._lifecycle_differs(row, customer):
            set_lifecycle(
                customer=customer, lifecycle=row.lifecycle, by=self.by, reason=row.lost_reason, at=row.lost_at
            )
            changed = True
        return "updated" if changed else "unchanged"

    @staticmethod
    def _lifecycle_differs(row: ParsedCustomer, customer: Customer) -> bool:
        if row.lifecycle != customer.lifecycle:
            return True
        if row.lifecycle != Lifecycle.LOST:
            return False
        return row.lost_reason != customer.lost_reason or (
            row.lost_at is not None and row.lost_at != customer.lost_at
        )


_CHANNEL_TO_COLUMN = {channel: column for column, (channel, _) in _IDENTITY_COLUMNS.items()}


def _field_error(exc: ValidationError, row: ParsedCustomer) -> FieldError:
    if not hasattr(exc, "error_dict"):
        return FieldError("", exc.messages[0])
    name, messages = next(iter(exc.message_dict.items()))
    if name == "value" or name.endswith(".value"):
        # An identity is taken by another customer; name the column it came from.
        for channel, value in row.identities:
            if value in messages[0]:
                return FieldError(_CHANNEL_TO_COLUMN[channel], messages[0])
    return FieldError(_FIELD_TO_COLUMN.get(name, name), messages[0])
