"""Call records from telephony systems over the JSON API (token auth, role checked)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError

from tenure.core.access import require_perms
from tenure.customers import selectors as customer_selectors
from tenure.customers.models import Customer, IdentityChannel
from tenure.inbox.calls import Outcome, log_call
from tenure.inbox.senders import match_sender

router = Router(tags=["inbox"])


class CallIn(Schema):
    customer_id: int | None = Field(None, description="the customer, when the telephony system knows them")
    phone: str = Field(
        "", max_length=40, description="the customer's number; used when customer_id is not given"
    )
    direction: Literal["inbound", "outbound"]
    duration: int = Field(ge=0, le=86_400, description="seconds")
    outcome: Outcome
    notes: str = Field("", max_length=20_000)
    agent: str = Field("", max_length=150, description="username of the agent who took the call")
    occurred_at: dt.datetime | None = None
    external_id: str = Field(
        "", max_length=200, description="the telephony system's call id (idempotency key)"
    )


class CallOut(Schema):
    id: int
    customer_id: int
    request_id: int | None
    direction: str
    duration_seconds: int
    outcome: str
    occurred_at: dt.datetime
    external_id: str
    created: bool


def _customer(payload: CallIn) -> Customer:
    if payload.customer_id is not None:
        try:
            return customer_selectors.customer_by_id(payload.customer_id)
        except Customer.DoesNotExist:
            raise ValidationError({"customer_id": f"no customer #{payload.customer_id}"}) from None
    if not payload.phone.strip():
        raise ValidationError({"phone": "give customer_id or the customer's phone number"})
    try:
        return match_sender(channel=IdentityChannel.PHONE, address=payload.phone).customer
    except ValidationError as error:
        raise ValidationError({"phone": error.messages}) from None


def _agent(username: str) -> User | None:
    if not username:
        return None
    agent = User.objects.filter(username=username, is_active=True).first()
    if agent is None:
        raise ValidationError({"agent": f"no active user {username!r}"})
    return agent


@router.post("/inbox/calls", response={200: CallOut, 201: CallOut}, summary="Record a phone call")
def post_call(request: HttpRequest, payload: CallIn) -> Status[CallOut]:
    """Idempotent on `external_id`: posting the same call again returns the first record with 200."""
    require_perms(request, "inbox.add_callrecord")
    if payload.occurred_at is not None and payload.occurred_at.tzinfo is None:
        raise HttpError(422, "occurred_at needs a time zone")
    with transaction.atomic():  # a customer created for the number goes away if the call is refused
        record, created = log_call(
            customer=_customer(payload),
            direction=payload.direction,
            duration=payload.duration,
            outcome=payload.outcome,
            notes=payload.notes,
            agent=_agent(payload.agent),
            occurred_at=payload.occurred_at,
            external_id=payload.external_id,
        )
    body = CallOut(
        id=record.pk,
        customer_id=record.customer_id,
        request_id=record.request_id,
        direction=record.direction,
        duration_seconds=record.duration_seconds,
        outcome=record.outcome,
        occurred_at=record.occurred_at,
        external_id=record.external_id,
        created=created,
    )
    return Status(201 if created else 200, body)
