"""Unsubscribe links: a signed, dated token per (customer, purpose), and recording the opt-out it asks for."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction

from tenure.core.services import record_event
from tenure.customers.models import Customer, Purpose
from tenure.customers.services import update_customer

SALT = "tenure.outbox.unsubscribe"
EVENT_SOURCE = "outbox"


class BadToken(Exception):
    """The token was not made by us, names nothing we know, or is too old."""


@dataclass(frozen=True)
class Unsubscribe:
    customer: Customer
    purpose: str


@functools.lru_cache(maxsize=4)
def _signer(secret_key: str) -> signing.TimestampSigner:
    # One per key, not one per message: every proactive e-mail signs a token.
    return signing.TimestampSigner(key=secret_key, salt=SALT)


def unsubscribe_token(customer_id: int, purpose: str) -> str:
    """`<customer>.<purpose>:<timestamp>:<signature>`, signed with SECRET_KEY; safe in a URL path."""
    return _signer(settings.SECRET_KEY).sign(f"{customer_id}.{purpose}")


def read_token(token: str, *, max_age_days: int) -> Unsubscribe:
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=dt.timedelta(days=max_age_days))
    except signing.SignatureExpired as error:
        raise BadToken("This unsubscribe link has expired.") from error
    except signing.BadSignature as error:
        raise BadToken("This unsubscribe link is not valid.") from error
    customer_id, _, purpose = value.partition(".")
    customer = Customer.objects.filter(pk=int(customer_id)).first() if customer_id.isdigit() else None
    if customer is None or purpose not in Purpose.values:
        raise BadToken("This unsubscribe link is not valid.")
    # A merged customer's links keep working: the opt-out lands on the survivor.
    while customer.merged_into_id is not None and customer.merged_into is not None:
        customer = customer.merged_into
    return Unsubscribe(customer, purpose)


def purpose_label(purpose: str) -> str:
    return str(Purpose(purpose).label) if purpose in Purpose.values else purpose


@transaction.atomic
def record_unsubscribe(*, customer: Customer, purpose: str, via: str) -> bool:
    """Opt the customer out of `purpose`; False if they already were. Messages not yet sent are suppressed."""
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    current = list(locked.opted_out_purposes or [])
    if purpose in current:
        return False
    update_customer(customer=locked, opted_out_purposes=[*current, purpose])
    record_event(
        customer_id=locked.pk,
        kind="customer.unsubscribed",
        channel="email",
        source=EVENT_SOURCE,
        payload={"purpose": purpose, "via": via},
    )
    return True
