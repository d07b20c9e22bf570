"""Who wrote to us: a normalised address on a channel → the customer who owns it, or a new one."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tenure.customers import selectors as customer_selectors
from tenure.customers.identities import normalize_identity
from tenure.customers.models import Customer, Identity
from tenure.customers.services import create_customer


@dataclass(frozen=True)
class Sender:
    customer: Customer
    channel: str
    address: str  # normalised
    created: bool


def _owner(channel: str, value: str) -> Customer | None:
    customer_id = (
        Identity.objects.filter(channel=channel, value=value).values_list("customer_id", flat=True).first()
    )
    # Follows merges, so an address left on a merged-away customer still reaches the survivor.
    return customer_selectors.customer_by_id(customer_id) if customer_id is not None else None


def match_sender(*, channel: str, address: str, name: str = "") -> Sender:
    """The customer with this identity, or a new prospect owning it.

    Raises ValidationError (field "sender") for an address that does not normalise. Safe under races:
    the identity is unique per channel, so of two writers creating the same sender one wins and the
    other finds the winner's customer.
    """
    try:
        value = normalize_identity(channel, address)
    except ValidationError as error:
        raise ValidationError({"sender": error.messages}) from None
    if (customer := _owner(channel, value)) is not None:
        return Sender(customer, channel, value, created=False)
    display = " ".join(name.split())[:200] or value
    try:
        with transaction.atomic():
            customer = create_customer(name=display, identities=[(channel, value)])
    except (IntegrityError, ValidationError):
        # Another writer created this identity between our look-up and our insert.
        if (customer := _owner(channel, value)) is None:
            raise
        return Sender(customer, channel, value, created=False)
    return Sender(customer, channel, value, created=True)
