"""Calendar invitations (.ics, RFC 5545 / iTIP) for appointments.

The UID is fixed per appointment, so every update replaces the same entry in the customer's calendar.
SEQUENCE counts the changes the customer made or was told about, read from the timeline (each
reschedule and the cancellation is one event there), so it only ever goes up. A cancelled visit is sent
with METHOD:CANCEL and STATUS:CANCELLED.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from icalendar import Calendar, Event, vText

from tenure.core.models import Event as TimelineEvent
from tenure.field.models import Appointment, Status

PRODID = "-//Tenure//Field appointments//EN"
CHANGES = ("appointment.rescheduled", "appointment.cancelled")


def uid(appointment: Appointment) -> str:
    return f"{appointment.reference.lower()}@tenure.field"


def sequence(appointment: Appointment) -> int:
    return TimelineEvent.objects.filter(
        customer_id=appointment.customer_id, kind__in=CHANGES, payload__appointment_id=appointment.pk
    ).count()


def invitation(appointment: Appointment, *, manage_link: str = "", now: dt.datetime | None = None) -> bytes:
    """The .ics for the appointment as it stands: a REQUEST, or a CANCEL once cancelled."""
    if appointment.window_start is None or appointment.window_end is None:
        raise ValueError(f"{appointment.reference} has no booked window yet")
    cancelled = appointment.status == Status.CANCELLED
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    event = Event()
    event.add("uid", uid(appointment))
    event.add("sequence", sequence(appointment))
    event.add("dtstamp", (now or timezone.now()).astimezone(dt.UTC))
    event.add("dtstart", appointment.window_start.astimezone(dt.UTC))
    event.add("dtend", appointment.window_end.astimezone(dt.UTC))
    event.add("summary", f"{appointment.job_type.name} visit (technician arrives in this hour)")
    event["location"] = vText(appointment.address)
    description = (
        "The technician will arrive within this one-hour window; we will tell you early if that changes."
    )
    if manage_link:
        description += f"\nMove or cancel: {manage_link}"
        event.add("url", manage_link)
    event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()
