"""Messages to the customer about an appointment, written to the outbox in the caller's transaction.

Wording lives here so booking, the live day and re-plans say times the same way (e.g. "now 2-3 pm").
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tenure.core.outbox import policy
from tenure.core.outbox.services import queue_message
from tenure.core.outbox_models import TRANSACTIONAL, OutboundMessage
from tenure.customers.models import Purpose
from tenure.field.models import Appointment


def _zone(appointment: Appointment) -> ZoneInfo:
    zone = appointment.customer.time_zone or (
        appointment.technician.time_zone if appointment.technician else "UTC"
    )
    try:
        return ZoneInfo(zone)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def clock(when: dt.datetime, zone: ZoneInfo, *, suffix: bool = True) -> str:
    local = when.astimezone(zone)
    hour = local.hour % 12 or 12
    text = f"{hour}" if local.minute == 0 else f"{hour}:{local.minute:02d}"
    return f"{text} {'am' if local.hour < 12 else 'pm'}" if suffix else text


def window_text(start: dt.datetime, end: dt.datetime, zone: ZoneInfo) -> str:
    """E.g. '2-3 pm' or '11:30 am-12:30 pm' (with an en dash), on the customer's clock."""
    same_half = (start.astimezone(zone).hour < 12) == (end.astimezone(zone).hour < 12)
    first = clock(start, zone, suffix=not same_half)
    return f"{first}\u2013{clock(end, zone)}"


def day_text(when: dt.datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%A %-d %B")


def send(appointment: Appointment, key: str, subject: str, body: str) -> OutboundMessage:
    customer = appointment.customer
    purpose = (
        TRANSACTIONAL
        if key.startswith(("booked", "notice", "cancel", "revisit"))
        else Purpose.SERVICE_UPDATES
    )
    return queue_message(
        customer=customer,
        channel=policy.preferred_channel(customer, policy.ASYNC_CHANNELS),
        purpose=purpose,
        subject=subject,
        body=body,
        template=f"field.{key.split(':')[0]}",
        idempotency_key=f"field:{appointment.pk}:{key}",
    )


def booked(appointment: Appointment) -> OutboundMessage:
    assert appointment.window_start and appointment.window_end
    zone = _zone(appointment)
    when = f"{day_text(appointment.window_start, zone)}, {window_text(appointment.window_start, appointment.window_end, zone)}"
    body = (
        f"Your {appointment.job_type.name} visit is booked for {when}. "
        "The technician will arrive within that hour; we will tell you early if that changes."
        f"{manage_links(appointment)}"
    )
    return send(appointment, f"booked:{appointment.window_start.isoformat()}", "Your visit is booked", body)


def manage_links(appointment: Appointment) -> str:
    """The signed links to move or cancel the visit and to add it to a calendar (the outbox sends text
    only, so the .ics travels as a link rather than an attachment)."""
    from tenure.field.links import invite_url, manage_url  # links sends through this module

    return (
        f"\nSee, move or cancel it: {manage_url(appointment)}"
        f"\nAdd it to your calendar: {invite_url(appointment)}"
    )


def revisit_booked(appointment: Appointment, now: dt.datetime) -> OutboundMessage:
    """'We will come back today 3-4 pm' / '... on Tuesday 4 March, 9-10 am'."""
    assert appointment.window_start and appointment.window_end
    zone = _zone(appointment)
    window = window_text(appointment.window_start, appointment.window_end, zone)
    same_day = appointment.window_start.astimezone(zone).date() == now.astimezone(zone).date()
    when = f"today {window}" if same_day else f"on {day_text(appointment.window_start, zone)}, {window}"
    body = (
        f"Sorry it is not fixed yet. We will come back {when}; the technician will arrive within that hour."
        f"{manage_links(appointment)}"
    )
    return send(appointment, f"revisit:{appointment.window_start.isoformat()}", "We will come back", body)


def revisit_unplanned(appointment: Appointment) -> OutboundMessage:
    body = (
        f"Sorry your {appointment.job_type.name} job is not fixed yet. We have no technician free for a "
        "return visit right now; our dispatcher will call you shortly to arrange one."
    )
    return send(appointment, "revisit:unplanned", "We will call you about a return visit", body)


def on_the_way(appointment: Appointment, eta: dt.datetime) -> OutboundMessage:
    zone = _zone(appointment)
    name = appointment.technician.name if appointment.technician else "Your technician"
    body = f"{name} is on the way and should arrive at about {clock(eta, zone)}."
    return send(
        appointment,
        f"on_the_way:{appointment.en_route_at and appointment.en_route_at.isoformat()}",
        "On the way",
        body,
    )


def delay_notice(
    appointment: Appointment, start: dt.datetime, end: dt.datetime, reason: str, sequence: str
) -> OutboundMessage:
    zone = _zone(appointment)
    body = f"Sorry, your technician will be later than promised: now {window_text(start, end, zone)}, because {reason}."
    return send(appointment, f"notice:{sequence}", "New arrival time", body)


def cannot_keep(appointment: Appointment, reason: str, sequence: str) -> OutboundMessage:
    body = (
        f"Sorry, we cannot reach you in your window today because {reason}. "
        "Our dispatcher will call you shortly with a new time."
    )
    return send(appointment, f"notice:{sequence}", "Your visit needs a new time", body)
