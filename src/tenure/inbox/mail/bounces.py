"""A bounce report for one of our own messages goes to the outbox, which marks the address invalid and
falls back to another channel; a hard bounce we cannot tie to a message still marks the address invalid."""

from __future__ import annotations

from tenure.core.outbox.policy import IDENTITY_INVALID
from tenure.core.outbox.status import UnknownMessage, record_bounce
from tenure.core.outbox_models import MessageChannel
from tenure.core.services import record_event
from tenure.customers.models import Customer, Identity, IdentityChannel
from tenure.inbox.mail.classify import Verdict

EVENT_SOURCE = "inbox"


def _reason(verdict: Verdict) -> str:
    return "; ".join(f"{f.address}: {f.status} ({f.action})" for f in verdict.failed) or "bounce report"


def _mark_invalid(verdict: Verdict) -> Customer | None:
    customer: Customer | None = None
    for failure in verdict.failed:
        if not failure.hard:
            continue
        identity = Identity.objects.filter(channel=IdentityChannel.EMAIL, value=failure.address).first()
        if identity is None:
            continue
        customer = identity.customer
        record_event(
            customer_id=identity.customer_id,
            kind=IDENTITY_INVALID,
            channel=MessageChannel.EMAIL,
            source=EVENT_SOURCE,
            idempotency_key=f"identity.invalid:{identity.customer_id}:email:{failure.address}",
            payload={
                "channel": IdentityChannel.EMAIL,
                "value": failure.address,
                "reason": f"bounced: {failure.status} ({failure.action})",
            },
        )
    return customer


def apply_bounce(verdict: Verdict) -> Customer | None:
    """Act on a bounce report; returns the customer it was about, if we know them."""
    if verdict.original_message_id:
        try:
            update = record_bounce(
                verdict.original_message_id,
                permanent=any(f.hard for f in verdict.failed),
                reason=_reason(verdict),
            )
        except UnknownMessage:
            pass
        else:
            return update.message.customer
    return _mark_invalid(verdict)
