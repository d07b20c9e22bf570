"""Dated facts fed by timeline events: the dates date-rule journeys count from.

Where the dates live: a `DatedFact` row per (customer, kind, ref), written from the event that
announced it, so the timeline stays the one source and nothing needs a column on another app's
table. Payload keys are read leniently (the first of several common names).

| event kind                                   | fact              | ref from          | date from                  |
|----------------------------------------------|-------------------|-------------------|----------------------------|
| payment.due, invoice.sent                     | payment_due       | invoice / payment | due_at / due / due_date    |
| payment.received, invoice.paid                | clears payment_due|                   |                            |
| contract.started, contract.renewed, plan.renewed | contract_end   | contract / plan   | ends_at / end / renews_at  |
| contract.cancelled, plan.cancelled           | clears contract_end |                 |                            |
| renewal.due, refill.due, prescription.filled | renewal_due       | ref / prescription| due_at / refill_at         |
| appointment.scheduled, job.scheduled          | appointment       | appointment / job | starts_at / window_start / at |
| appointment.cancelled, job.cancelled          | clears appointment|                   |                            |
| customer.created                             | customer_since    | (none)            | the event's time           |
| a two-way contact (see `reply_kinds`)         | last_two_way_contact | (none)         | the event's time           |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime

from tenure.core.models import Event
from tenure.journeys.models import DatedFact

DEFAULT_REPLY_KINDS = (
    "message.received",
    "request.received",
    "email.received",
    "sms.received",
    "chat.transcript",
    "call.logged",
    "survey.answered",
)


def reply_kinds() -> tuple[str, ...]:
    """Event kinds that mean the customer talked to us (a reply, a call, a chat)."""
    return tuple(getattr(settings, "TENURE_JOURNEY_REPLY_KINDS", DEFAULT_REPLY_KINDS))


@dataclass(frozen=True)
class FactRule:
    fact: str
    ref_keys: tuple[str, ...] = ()
    date_keys: tuple[str, ...] = ()  # empty: the event's own time
    clears: bool = False


_REF_INVOICE = ("invoice", "payment", "ref")
_REF_CONTRACT = ("contract", "plan", "subscription", "ref")
_REF_RENEWAL = ("ref", "prescription", "plan", "subscription")
_REF_APPOINTMENT = ("appointment", "job", "ref")
RULES: dict[str, FactRule] = {
    "payment.due": FactRule("payment_due", _REF_INVOICE, ("due_at", "due", "due_date")),
    "invoice.sent": FactRule("payment_due", _REF_INVOICE, ("due_at", "due", "due_date")),
    "payment.received": FactRule("payment_due", _REF_INVOICE, clears=True),
    "invoice.paid": FactRule("payment_due", _REF_INVOICE, clears=True),
    "contract.started": FactRule("contract_end", _REF_CONTRACT, ("ends_at", "end", "end_date", "renews_at")),
    "contract.renewed": FactRule("contract_end", _REF_CONTRACT, ("ends_at", "end", "end_date", "renews_at")),
    "plan.renewed": FactRule("contract_end", _REF_CONTRACT, ("ends_at", "end", "end_date", "renews_at")),
    "contract.cancelled": FactRule("contract_end", _REF_CONTRACT, clears=True),
    "plan.cancelled": FactRule("contract_end", _REF_CONTRACT, clears=True),
    "renewal.due": FactRule("renewal_due", _REF_RENEWAL, ("due_at", "due", "refill_at")),
    "refill.due": FactRule("renewal_due", _REF_RENEWAL, ("due_at", "due", "refill_at")),
    "appointment.scheduled": FactRule("appointment", _REF_APPOINTMENT, ("starts_at", "window_start", "at")),
    "job.scheduled": FactRule("appointment", _REF_APPOINTMENT, ("starts_at", "window_start", "at")),
    "appointment.cancelled": FactRule("appointment", _REF_APPOINTMENT, clears=True),
    "job.cancelled": FactRule("appointment", _REF_APPOINTMENT, clears=True),
    "customer.created": FactRule("customer_since"),
}
LAST_CONTACT = "last_two_way_contact"
FACT_KINDS = tuple(sorted({rule.fact for rule in RULES.values()} | {LAST_CONTACT}))


def rule_for(kind: str) -> FactRule | None:
    if kind in reply_kinds():
        return FactRule(LAST_CONTACT)
    return RULES.get(kind)


def _first(payload: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    return next((payload[key] for key in keys if payload.get(key) not in (None, "")), None)


def _as_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    if (parsed := parse_datetime(value)) is not None:
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if (day := parse_date(value)) is not None:
        return dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
    return None


def apply(event: Event) -> DatedFact | None:
    """Write, move or clear the fact an event announces; returns the fact if it changed (cleared_at set if cleared)."""
    rule = rule_for(event.kind)
    if rule is None:
        return None
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    ref = str(_first(payload, rule.ref_keys) or "")[:100] if rule.ref_keys else ""
    existing = DatedFact.objects.filter(customer_id=event.customer_id, kind=rule.fact, ref=ref).first()
    if rule.clears:
        if existing is not None and existing.cleared_at is None:
            existing.cleared_at = event.occurred_at
            existing.save(update_fields=["cleared_at", "updated_at"])
            return existing
        return None
    at = _as_datetime(_first(payload, rule.date_keys)) if rule.date_keys else event.occurred_at
    if at is None:
        return None
    if existing is None:
        return DatedFact.objects.create(
            customer_id=event.customer_id, kind=rule.fact, ref=ref, at=at, payload=dict(payload)
        )
    if existing.at == at and existing.cleared_at is None:
        return None
    existing.at, existing.payload, existing.cleared_at = at, dict(payload), None
    existing.save(update_fields=["at", "payload", "cleared_at", "updated_at"])
    return existing


def fact_view(fact: DatedFact) -> dict[str, Any]:
    return {"kind": fact.kind, "ref": fact.ref, "at": fact.at.isoformat(), **fact.payload}
