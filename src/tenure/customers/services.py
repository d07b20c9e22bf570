"""Every write to customers. Each function is atomic and records what it did on the timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.services import audit, record_event
from tenure.core.sweeper import claim_due
from tenure.customers.identities import normalize_identity
from tenure.customers.models import Customer, CustomerKind, Identity, Lifecycle, Purpose, Tag

User = AbstractBaseUser | AnonymousUser | None

# Fields a caller may set directly; identities, tags and lifecycle have their own functions.
EDITABLE_FIELDS = (
    "kind",
    "name",
    "external_ref",
    "address",
    "assigned_rep_id",
    "preferred_channel",
    "language",
    "time_zone",
    "quiet_hours_start",
    "quiet_hours_end",
    "opted_out_purposes",
)


def actor_label(user: User) -> str:
    if user is None or not user.is_authenticated:
        return "system"
    return f"staff:{user.get_username()}"


def lapse_due(last_activity_at: dt.datetime) -> dt.datetime:
    return last_activity_at + dt.timedelta(days=settings.TENURE_LAPSE_AFTER_DAYS)


def _clean(customer: Customer) -> None:
    if not customer.name.strip():
        raise ValidationError({"name": "a name is required"})
    customer.name = customer.name.strip()
    if customer.kind not in CustomerKind.values:
        raise ValidationError({"kind": f"{customer.kind!r} is not one of {', '.join(CustomerKind.values)}"})
    unknown = sorted(set(customer.opted_out_purposes) - set(Purpose.values))
    if unknown:
        raise ValidationError({"opted_out_purposes": f"unknown purposes: {', '.join(unknown)}"})
    if customer.external_ref == "":
        customer.external_ref = None
    customer.full_clean(exclude=["assigned_rep", "merged_into", "tags"], validate_unique=False)
    if (
        customer.external_ref
        and Customer.objects.filter(external_ref=customer.external_ref).exclude(pk=customer.pk).exists()
    ):
        raise ValidationError({"external_ref": f"another customer already has {customer.external_ref!r}"})


@transaction.atomic
def create_customer(
    *,
    name: str,
    by: User = None,
    identities: Iterable[tuple[str, str]] = (),
    tags: Iterable[str] = (),
    lifecycle: str = Lifecycle.PROSPECT,
    **fields: Any,
) -> Customer:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "unknown field"})
    customer = Customer(name=name, lifecycle=lifecycle, **fields)
    _clean(customer)
    customer.save()
    for position, (channel, value) in enumerate(identities):
        try:
            add_identity(customer=customer, channel=channel, value=value, by=by, record=False)
        except ValidationError as error:
            raise ValidationError({f"identities.{position}.value": error.messages}) from None
    set_tags(customer=customer, names=tags)
    record_event(
        customer_id=customer.pk,
        kind="customer.created",
        actor=actor_label(by),
        channel="system",
        payload={
            "name": customer.name,
            "identities": list(customer.identities.values_list("value", flat=True)),
        },
    )
    return customer


@transaction.atomic
def update_customer(*, customer: Customer, by: User = None, **fields: Any) -> Customer:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "unknown field"})
    changed = {name: value for name, value in fields.items() if getattr(customer, name) != value}
    if not changed:
        return customer
    for name, value in changed.items():
        setattr(customer, name, value)
    _clean(customer)
    customer.save()
    record_event(
        customer_id=customer.pk,
        kind="customer.updated",
        actor=actor_label(by),
        channel="system",
        payload={"fields": sorted(changed)},
    )
    return customer


def set_tags(*, customer: Customer, names: Iterable[str]) -> None:
    cleaned = sorted({name.strip().lower() for name in names if name.strip()})
    for name in cleaned:
        if len(name) > 50:
            raise ValidationError({"tags": f"tag {name[:20]!r}… is longer than 50 characters"})
    tags = [Tag.objects.get_or_create(name=name)[0] for name in cleaned]
    customer.tags.set(tags)


@transaction.atomic
def add_identity(
    *,
    customer: Customer,
    channel: str,
    value: str,
    by: User = None,
    verified: bool = False,
    record: bool = True,
) -> Identity:
    try:
        normalized = normalize_identity(channel, value)
    except ValidationError as error:
        raise ValidationError({"channel" if error.code == "channel" else "value": error.messages}) from None
    existing = Identity.objects.filter(channel=channel, value=normalized).first()
    if existing is not None:
        if existing.customer_id == customer.pk:
            return existing
        raise ValidationError(
            {"value": f"{normalized} already belongs to another customer (#{existing.customer_id})"}
        )
    identity = Identity.objects.create(
        customer=customer, channel=channel, value=normalized, verified=verified
    )
    if record:
        record_event(
            customer_id=customer.pk,
            kind="identity.added",
            actor=actor_label(by),
            channel="system",
            payload={"channel": channel, "value": normalized},
        )
    return identity


@transaction.atomic
def remove_identity(*, identity: Identity, by: User = None) -> None:
    record_event(
        customer_id=identity.customer_id,
        kind="identity.removed",
        actor=actor_label(by),
        channel="system",
        payload={"channel": identity.channel, "value": identity.value},
    )
    identity.delete()


@transaction.atomic
def set_lifecycle(
    *, customer: Customer, lifecycle: str, by: User = None, reason: str = "", at: dt.datetime | None = None
) -> Customer:
    if lifecycle not in Lifecycle.values:
        raise ValidationError({"lifecycle": f"{lifecycle!r} is not one of {', '.join(Lifecycle.values)}"})
    if lifecycle == Lifecycle.LOST and not reason.strip():
        raise ValidationError({"lost_reason": "say why the customer was lost"})
    previous = customer.lifecycle
    customer.lifecycle = lifecycle
    if lifecycle == Lifecycle.LOST:
        customer.lost_at = at or timezone.now()
        customer.lost_reason = reason.strip()[:200]
        customer.lapse_due_at = None
    else:
        customer.lost_at = None
        customer.lost_reason = ""
    customer.save(update_fields=["lifecycle", "lost_at", "lost_reason", "lapse_due_at", "updated_at"])
    record_event(
        customer_id=customer.pk,
        kind=f"customer.{lifecycle}",
        occurred_at=at,
        actor=actor_label(by),
        channel="system",
        payload={"from": previous, "to": lifecycle, "reason": customer.lost_reason},
    )
    return customer


def note_activity(customer_ids: Iterable[int], at: dt.datetime) -> None:
    """Customers were in touch at `at`: move their last activity on and push back the lapse timer.

    A lapsed customer who gets in touch again becomes active.
    """
    ids = list(customer_ids)
    if not ids:
        return
    stale = Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
    Customer.objects.filter(pk__in=ids).filter(stale).update(last_activity_at=at)
    Customer.objects.filter(pk__in=ids, lifecycle__in=[Lifecycle.ACTIVE, Lifecycle.LAPSED]).filter(
        last_activity_at=at
    ).update(lapse_due_at=lapse_due(at))


def mark_lapsed_customers(now: dt.datetime) -> int:
    """Sweeper: active customers silent past their lapse timer become lapsed."""
    with transaction.atomic():
        due = claim_due(Customer.objects.filter(lifecycle=Lifecycle.ACTIVE), "lapse_due_at", now)
        for customer in due:
            customer.lifecycle = Lifecycle.LAPSED
            customer.lapse_due_at = None
            customer.save(update_fields=["lifecycle", "lapse_due_at", "updated_at"])
            record_event(
                customer_id=customer.pk,
                kind="customer.lapsed",
                occurred_at=now,
                actor="system",
                channel="system",
                payload={
                    "last_activity_at": customer.last_activity_at.isoformat()
                    if customer.last_activity_at
                    else None
                },
                source="tenure.sweeper",
                idempotency_key=f"customer.lapsed:{customer.pk}:{now.date().isoformat()}",
            )
    return len(due)


@transaction.atomic
def delete_customer(*, customer: Customer, by: User = None) -> None:
    """Erase a customer with their identities and timeline (e.g. a data-protection request); audit-logged."""
    audit(
        actor=by,
        action="customer.deleted",
        object_type="customer",
        object_id=customer.pk,
        details={"name": customer.name, "events": customer.events.count()},
    )
    Customer.objects.filter(merged_into=customer).update(merged_into=None)
    customer.delete()


@transaction.atomic
def merge_customers(*, keep: Customer, merge: Customer, by: User = None) -> Customer:
    """Move everything from `merge` onto `keep`; `merge` stays as a pointer so old links still resolve."""
    if keep.pk == merge.pk:
        raise ValidationError({"merge": "cannot merge a customer into itself"})
    if merge.merged_into_id is not None:
        raise ValidationError({"merge": f"customer #{merge.pk} was already merged"})
    if keep.merged_into_id is not None:
        raise ValidationError({"keep": f"customer #{keep.pk} was merged into #{keep.merged_into_id}"})
    moved_identities = list(merge.identities.values_list("channel", "value"))
    moved_events = Event.objects.filter(customer=merge).update(customer=keep)
    merge.identities.update(customer=keep)
    merge.contacts.update(customer=keep)
    keep.tags.add(*merge.tags.all())
    for field in ("external_ref", "address", "assigned_rep_id", "preferred_channel", "time_zone"):
        if not getattr(keep, field) and getattr(merge, field):
            setattr(keep, field, getattr(merge, field))
    external_ref = merge.external_ref
    merge.external_ref = None
    merge.merged_into = keep
    merge.lapse_due_at = None
    merge.save(update_fields=["external_ref", "merged_into", "lapse_due_at", "updated_at"])
    if keep.external_ref is None and external_ref:
        keep.external_ref = external_ref
    latest = [at for at in (keep.last_activity_at, merge.last_activity_at) if at]
    keep.last_activity_at = max(latest) if latest else None
    keep.save()
    record_event(
        customer_id=keep.pk,
        kind="customer.merged",
        actor=actor_label(by),
        channel="system",
        payload={"merged_customer": merge.pk, "merged_name": merge.name, "events_moved": moved_events},
    )
    audit(
        actor=by,
        action="customer.merged",
        object_type="customer",
        object_id=keep.pk,
        details={
            "merged_customer": merge.pk,
            "merged_name": merge.name,
            "identities_moved": [f"{channel}:{value}" for channel, value in moved_identities],
            "events_moved": moved_events,
        },
    )
    return keep
