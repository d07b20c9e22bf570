"""Customers, identities and timelines over the JSON API."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from tenure.core.access import require_perms
from tenure.core.models import Channel
from tenure.core.services import record_event_once
from tenure.customers import selectors, services
from tenure.customers.models import Customer, CustomerKind, Identity, IdentityChannel, Lifecycle, Purpose

router = Router(tags=["customers"])

PAGE_MAX = 500


class IdentityIn(Schema):
    channel: IdentityChannel
    value: str = Field(max_length=254)


class IdentityOut(Schema):
    id: int
    channel: str
    value: str
    verified: bool


class CustomerFields(Schema):
    kind: CustomerKind = CustomerKind.PERSON
    external_ref: str | None = Field(None, max_length=100)
    address: str = Field("", max_length=2000)
    assigned_rep_id: int | None = None
    preferred_channel: IdentityChannel | Literal[""] = ""
    language: str = Field("en", max_length=10)
    time_zone: str = Field("", max_length=64)
    quiet_hours_start: dt.time | None = None
    quiet_hours_end: dt.time | None = None
    opted_out_purposes: list[Purpose] = []


class CustomerIn(CustomerFields):
    name: str = Field(min_length=1, max_length=200)
    lifecycle: Lifecycle = Lifecycle.PROSPECT
    identities: list[IdentityIn] = Field([], max_length=50)
    tags: list[str] = Field([], max_length=50)


class CustomerPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: CustomerKind | None = None
    external_ref: str | None = Field(None, max_length=100)
    address: str | None = Field(None, max_length=2000)
    assigned_rep_id: int | None = None
    preferred_channel: IdentityChannel | Literal[""] | None = None
    language: str | None = Field(None, max_length=10)
    time_zone: str | None = Field(None, max_length=64)
    quiet_hours_start: dt.time | None = None
    quiet_hours_end: dt.time | None = None
    opted_out_purposes: list[Purpose] | None = None
    tags: list[str] | None = Field(None, max_length=50)


class CustomerOut(CustomerFields):
    id: int
    name: str
    lifecycle: str
    lost_at: dt.datetime | None
    lost_reason: str
    last_activity_at: dt.datetime | None
    created_at: dt.datetime
    identities: list[IdentityOut]
    tags: list[str]

    @staticmethod
    def resolve_identities(customer: Customer) -> list[Identity]:
        return list(customer.identities.all())

    @staticmethod
    def resolve_tags(customer: Customer) -> list[str]:
        return [tag.name for tag in customer.tags.all()]


class CustomerPage(Schema):
    items: list[CustomerOut]
    next_cursor: int | None


class LifecycleIn(Schema):
    lifecycle: Lifecycle
    reason: str = Field("", max_length=200)


class MergeIn(Schema):
    merge_id: int


class EventIn(Schema):
    kind: str = Field(max_length=64)
    occurred_at: dt.datetime | None = None
    channel: Channel | Literal[""] = ""
    actor: str = Field("", max_length=150)
    payload: dict[str, Any] = {}
    source: str = Field("api", min_length=1, max_length=64)
    idempotency_key: str | None = Field(None, max_length=200)


class EventOut(Schema):
    id: int
    customer_id: int
    kind: str
    occurred_at: dt.datetime
    channel: str
    actor: str
    payload: dict[str, Any]
    source: str
    idempotency_key: str | None


class TimelineOut(Schema):
    items: list[EventOut]
    next_cursor: str | None


class TimelineQuery(Schema):
    kind: list[str] = []
    channel: list[str] = []
    cursor: str | None = Field(None, max_length=200)
    limit: int = Field(50, ge=1, le=PAGE_MAX)


class CustomerQuery(Schema):
    q: str = Field("", max_length=200)
    lifecycle: Lifecycle | Literal[""] = ""
    tag: str = Field("", max_length=50)
    after: int | None = None
    limit: int = Field(100, ge=1, le=PAGE_MAX)


def _customer(customer_id: int) -> Customer:
    try:
        return selectors.customer_by_id(customer_id)
    except Customer.DoesNotExist:
        raise HttpError(404, f"customer {customer_id} does not exist") from None


def _with_relations(customer_id: int) -> Customer:
    return Customer.objects.prefetch_related("identities", "tags").get(pk=customer_id)


@router.get("/customers", response=CustomerPage, summary="List customers (cursor by id)")
def list_customers(request: HttpRequest, filters: Query[CustomerQuery]) -> dict[str, Any]:
    require_perms(request, "customers.view_customer")
    rows = selectors.customers(search=filters.q, lifecycle=filters.lifecycle, tag=filters.tag).order_by("id")
    if filters.after is not None:
        rows = rows.filter(pk__gt=filters.after)
    items = list(rows.prefetch_related("identities", "tags")[: filters.limit + 1])
    next_cursor = items[filters.limit - 1].pk if len(items) > filters.limit else None
    return {"items": items[: filters.limit], "next_cursor": next_cursor}


@router.post("/customers", response={201: CustomerOut}, summary="Create a customer")
def create_customer(request: HttpRequest, payload: CustomerIn) -> Status[Customer]:
    require_perms(request, "customers.add_customer")
    fields = payload.dict(exclude={"name", "lifecycle", "identities", "tags"})
    fields["preferred_channel"] = str(fields["preferred_channel"])
    fields["opted_out_purposes"] = [str(purpose) for purpose in fields["opted_out_purposes"]]
    customer = services.create_customer(
        name=payload.name,
        lifecycle=payload.lifecycle,
        identities=[(identity.channel, identity.value) for identity in payload.identities],
        tags=payload.tags,
        by=request.user,
        **fields,
    )
    return Status(201, _with_relations(customer.pk))


@router.get("/customers/{customer_id}", response=CustomerOut, summary="One customer (follows merges)")
def get_customer(request: HttpRequest, customer_id: int) -> Customer:
    require_perms(request, "customers.view_customer")
    return _with_relations(_customer(customer_id).pk)


@router.patch("/customers/{customer_id}", response=CustomerOut, summary="Change some fields of a customer")
def patch_customer(request: HttpRequest, customer_id: int, payload: CustomerPatch) -> Customer:
    require_perms(request, "customers.change_customer")
    customer = _customer(customer_id)
    changes = payload.dict(exclude_unset=True)
    tags = changes.pop("tags", None)
    if "name" in changes and changes["name"] is None:
        raise ValidationError({"name": "a name is required"})
    if "preferred_channel" in changes:
        changes["preferred_channel"] = str(changes["preferred_channel"] or "")
    if "opted_out_purposes" in changes:
        changes["opted_out_purposes"] = [str(purpose) for purpose in changes["opted_out_purposes"] or []]
    with transaction.atomic():
        services.update_customer(customer=customer, by=request.user, **changes)
        if tags is not None:
            services.set_tags(customer=customer, names=tags)
    return _with_relations(customer.pk)


@router.delete(
    "/customers/{customer_id}", response={204: None}, summary="Delete a customer and their timeline"
)
def delete_customer(request: HttpRequest, customer_id: int) -> Status[None]:
    require_perms(request, "customers.delete_customer")
    services.delete_customer(customer=_customer(customer_id), by=request.user)
    return Status(204, None)


@router.post(
    "/customers/{customer_id}/lifecycle", response=CustomerOut, summary="Move a customer's lifecycle"
)
def change_lifecycle(request: HttpRequest, customer_id: int, payload: LifecycleIn) -> Customer:
    require_perms(request, "customers.change_customer")
    customer = services.set_lifecycle(
        customer=_customer(customer_id), lifecycle=payload.lifecycle, reason=payload.reason, by=request.user
    )
    return _with_relations(customer.pk)


@router.post(
    "/customers/{customer_id}/merge", response=CustomerOut, summary="Merge another customer into this one"
)
def merge_customer(request: HttpRequest, customer_id: int, payload: MergeIn) -> Customer:
    require_perms(request, "customers.merge_customer")
    keep = _customer(customer_id)
    try:
        other = Customer.objects.get(pk=payload.merge_id)
    except Customer.DoesNotExist:
        raise ValidationError({"merge_id": f"customer {payload.merge_id} does not exist"}) from None
    services.merge_customers(keep=keep, merge=other, by=request.user)
    return _with_relations(keep.pk)


@router.get(
    "/customers/{customer_id}/identities", response=list[IdentityOut], summary="A customer's identities"
)
def list_identities(request: HttpRequest, customer_id: int) -> list[Identity]:
    require_perms(request, "customers.view_identity")
    return list(_customer(customer_id).identities.order_by("channel", "value"))


@router.post("/customers/{customer_id}/identities", response={201: IdentityOut}, summary="Add an identity")
def add_identity(request: HttpRequest, customer_id: int, payload: IdentityIn) -> Status[Identity]:
    require_perms(request, "customers.add_identity")
    identity = services.add_identity(
        customer=_customer(customer_id), channel=payload.channel, value=payload.value, by=request.user
    )
    return Status(201, identity)


@router.delete(
    "/customers/{customer_id}/identities/{identity_id}", response={204: None}, summary="Remove an identity"
)
def remove_identity(request: HttpRequest, customer_id: int, identity_id: int) -> Status[None]:
    require_perms(request, "customers.delete_identity")
    identity = _customer(customer_id).identities.filter(pk=identity_id).first()
    if identity is None:
        raise HttpError(404, f"identity {identity_id} does not belong to customer {customer_id}")
    services.remove_identity(identity=identity, by=request.user)
    return Status(204, None)


@router.get("/customers/{customer_id}/timeline", response=TimelineOut, summary="Timeline, newest first")
def read_timeline(request: HttpRequest, customer_id: int, filters: Query[TimelineQuery]) -> dict[str, Any]:
    require_perms(request, "customers.view_customer", "core.view_event")
    page = selectors.timeline(
        _customer(customer_id),
        kinds=filters.kind,
        channels=filters.channel,
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": page.events, "next_cursor": page.next_cursor}


@router.post(
    "/customers/{customer_id}/events", response={201: EventOut, 200: EventOut}, summary="Add one event"
)
def add_event(request: HttpRequest, customer_id: int, payload: EventIn) -> Status[Any]:
    """Idempotent with `idempotency_key`: the same key from the same source returns the first event (200)."""
    require_perms(request, "core.add_event")
    customer = _customer(customer_id)
    with transaction.atomic():
        event, created = record_event_once(
            customer_id=customer.pk,
            kind=payload.kind,
            occurred_at=payload.occurred_at,
            channel=str(payload.channel),
            actor=payload.actor,
            payload=payload.payload,
            source=payload.source,
            idempotency_key=payload.idempotency_key,
        )
        if event.customer_id != customer.pk:
            raise ValidationError(
                {"idempotency_key": "this key was already used for another customer's event"}
            )
        if created:
            services.note_activity([customer.pk], event.occurred_at)
    return Status(201 if created else 200, event)
