"""Signed, expiring links that let a customer see, move or cancel one appointment without signing in.

A token names the appointment and the window it was issued for: it stops working when it expires
(`TENURE_FIELD_LINK_DAYS`, default 14 days) and as soon as the appointment is moved to another window, so
an old e-mail cannot act on a newer booking. Tampering with any character makes it invalid.
"""

from __future__ import annotations

import datetime as dt
import os

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from tenure.field import events, live, notify
from tenure.field.booking import Offer, book, offer_windows
from tenure.field.models import Appointment, DayPlan, Status
from tenure.field.routing.planning import business_zone
from tenure.field.routing.tasks import request_replan

SALT = "tenure.field.customer-link"
DEFAULT_DAYS = 14


class LinkRefused(Exception):
    """The link cannot be used; `message` says why in words a customer understands, `gone` if expired."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.gone = gone


def max_age() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "TENURE_FIELD_LINK_DAYS", DEFAULT_DAYS))


def _stamp(appointment: Appointment) -> int:
    return int(appointment.window_start.timestamp()) if appointment.window_start else 0


def token_for(appointment: Appointment) -> str:
    return signing.dumps({"a": appointment.pk, "w": _stamp(appointment)}, salt=SALT, compress=True)


def appointment_for(token: str) -> Appointment:
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age())
    except signing.SignatureExpired:
        raise LinkRefused("This link has expired. Please ask us for a new one.", gone=True) from None
    except signing.BadSignature:
        raise LinkRefused("This link is not valid. Please use the link exactly as we sent it.") from None
    appointment = (
        Appointment.objects.select_related("job_type", "customer", "technician")
        .filter(pk=data.get("a"))
        .first()
    )
    if appointment is None:
        raise LinkRefused("This appointment no longer exists.", gone=True)
    if data.get("w") != _stamp(appointment):
        raise LinkRefused(
            "This link is for an earlier booking of this visit; please use the newest one we sent.", gone=True
        )
    return appointment


def public_base() -> str:
    return str(
        getattr(settings, "TENURE_PUBLIC_URL", None)
        or os.environ.get("TENURE_PUBLIC_URL", "http://localhost:8000")
    )


def manage_url(appointment: Appointment) -> str:
    """The absolute link for messages: see the visit, add it to a calendar, move it or cancel it."""
    return public_base().rstrip("/") + reverse("field:visit", args=[token_for(appointment)])


def invite_url(appointment: Appointment) -> str:
    """The absolute link to the visit's .ics (signed like the manage link)."""
    return public_base().rstrip("/") + reverse("field:visit_ics", args=[token_for(appointment)])


# --- what a link lets the customer do ---------------------------------------------------------------

MOVABLE = (Status.BOOKED, Status.SCHEDULED)
CANCEL_REASON = "cancelled by the customer"


def _release(appointment: Appointment) -> None:
    """Take the visit off its route and out of its window, as if only requested (caller's transaction)."""
    if appointment.plan_id is not None:
        DayPlan.objects.filter(pk=appointment.plan_id).update(version=F("version") + 1)
    appointment.status = Status.REQUESTED
    appointment.technician = appointment.plan = None
    appointment.position = appointment.planned_start = None
    appointment.window_start = appointment.window_end = appointment.promised_at = None
    appointment.save(
        update_fields=[
            "status",
            "technician",
            "plan",
            "position",
            "planned_start",
            "window_start",
            "window_end",
            "promised_at",
            "updated_at",
        ]
    )


def _movable(appointment: Appointment) -> Appointment:
    locked = (
        Appointment.objects.select_for_update().select_related("job_type", "customer").get(pk=appointment.pk)
    )
    if locked.status not in MOVABLE:
        raise ValidationError(
            {
                "status": f"this visit is {locked.get_status_display().lower()} and can no longer be changed here"
            }
        )
    return locked


def reschedule_offers(
    appointment: Appointment, *, any_time: bool = False, now: dt.datetime | None = None
) -> list[Offer]:
    """Windows the visit could move to, found as if its current slot were free (nothing is changed)."""
    with transaction.atomic():
        released = _movable(appointment)
        _release(released)
        if any_time:
            released.preferences = {"asap": True}
        try:
            return offer_windows(released, now)
        finally:
            transaction.set_rollback(True)


def reschedule(
    appointment: Appointment, window_start: dt.datetime, *, now: dt.datetime | None = None
) -> Appointment:
    """Move the visit to a new window; if that window cannot be kept any more, nothing changes."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = _movable(appointment)
        previous = locked.window_start
        _release(locked)
        booked = book(locked, window_start, now=now)
        for moment in {previous, booked.window_start} - {None}:
            request_replan(moment.astimezone(business_zone()).date())  # type: ignore[union-attr]
        events.record(
            booked,
            "appointment.rescheduled",
            now,
            key=now.isoformat(),
            previous_window_start=previous.isoformat() if previous else None,
            by="customer",
        )
    return booked


def cancel_by_customer(appointment: Appointment, *, now: dt.datetime | None = None) -> Appointment:
    now = now or timezone.now()
    with transaction.atomic():
        _movable(appointment)
        outcome = live.cancel(appointment, reason=CANCEL_REASON, now=now)
        cancelled = outcome.appointment
        if cancelled.window_start is not None:
            request_replan(cancelled.window_start.astimezone(business_zone()).date())
        notify.send(
            cancelled,
            "cancel:customer",
            "Your visit is cancelled",
            f"Your {cancelled.job_type.name} visit is cancelled, as you asked. "
            f"To remove it from your calendar: {manage_url(cancelled)}",
        )
    return cancelled
