"""The written acknowledgement: request number, what happens next and by when, on the same channel.

A new request gets `ack_due_at`; the sweeper queues the acknowledgement through the outbox and clears
it. Not sent for automatic messages (no timer is set), nor once an agent has answered (the reply
clears the timer, and the sweeper checks again under the row lock).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.template import Context, Engine, TemplateSyntaxError

from tenure.core.services import record_event
from tenure.core.sweeper import claim_due
from tenure.helpdesk import sla
from tenure.helpdesk.models import OPEN_STATUSES, AcknowledgementTemplate, Request, RequestChannel
from tenure.helpdesk.tokens import token_for

DEFAULT_SUBJECT = "We received your request {{ request_token }}"
DEFAULT_BODY = """Hello {{ customer_name }},

thank you for your message. We have opened request {{ request_number }}{% if department %} for our {{ department }} team{% endif %}.

What happens next: {% if assignee %}{{ assignee }} will look into it{% else %}a member of our team will look into it{% endif %}, and we will reply by {{ reply_by }}.

If you write again about this, please keep {{ request_token }} in the subject so it reaches the same person."""
DEFAULT_SHORT_BODY = (
    "Thanks, we got your message: request {{ request_number }}. We will reply by {{ reply_by }}."
)
SHORT_CHANNELS = (RequestChannel.SMS, RequestChannel.PHONE, RequestChannel.CHAT)

_ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=False)


def reply_by(request: Request, now: dt.datetime) -> str:
    """The first-response deadline in words, in the SLA calendar's time zone: "Tuesday 10:00"."""
    due = request.first_response_due
    if due is None:
        return "as soon as we can"
    zone = sla.hours_for(request).zone
    local = due.astimezone(zone)
    today = now.astimezone(zone).date()
    if local.date() == today:
        day = "today"
    elif (local.date() - today).days == 1:
        day = "tomorrow"
    elif (local.date() - today).days < 7:
        day = f"{local:%A}"
    else:
        day = f"{local:%A} {local.day} {local:%B}"
    return f"{day} {local:%H:%M}" + ("" if zone.key == "UTC" else f" ({zone.key})")


def template_for(channel: str) -> tuple[str, str]:
    rows = {t.channel: t for t in AcknowledgementTemplate.objects.filter(channel__in=[channel, ""])}
    chosen = rows.get(channel) or rows.get("")
    if chosen is not None:
        return chosen.subject or DEFAULT_SUBJECT, chosen.body
    return DEFAULT_SUBJECT, DEFAULT_SHORT_BODY if channel in SHORT_CHANNELS else DEFAULT_BODY


def render(text: str, context: dict[str, str]) -> str:
    return _ENGINE.from_string(text).render(Context(context, autoescape=False)).strip()


def context_for(request: Request, now: dt.datetime) -> dict[str, str]:
    assignee = request.assignee
    return {
        "customer_name": request.customer.name,
        "request_number": request.reference,
        "request_token": token_for(request.pk),
        "request_subject": request.subject,
        "department": request.department.name if request.department else "",
        "assignee": (assignee.get_full_name() or assignee.get_username()) if assignee else "",
        "reply_by": reply_by(request, now),
    }


def acknowledge(request: Request, now: dt.datetime) -> bool:
    """Queue the acknowledgement for one claimed request (does not save it); False when none is due."""
    from tenure.helpdesk.services import _send

    request.ack_due_at = None
    if request.first_response_at is not None or request.status not in OPEN_STATUSES:
        return False
    subject_template, body_template = template_for(request.channel)
    context = context_for(request, now)
    try:
        subject, body = render(subject_template, context), render(body_template, context)
    except TemplateSyntaxError:
        subject, body = render(DEFAULT_SUBJECT, context), render(DEFAULT_SHORT_BODY, context)
    message = _send(
        request,
        body=body,
        channel=request.channel,
        key=f"helpdesk:ack:{request.pk}",
        author=None,
        template="helpdesk.acknowledgement",
        subject=subject,
        metadata={"acknowledgement": True},
    )
    request.ack_sent_at = now
    record_event(
        customer_id=request.customer_id,
        kind="request.acknowledged",
        occurred_at=now,
        channel=request.channel,
        actor="system",
        source="helpdesk",
        idempotency_key=f"acknowledged:{request.pk}",
        payload={
            "request": request.reference,
            "request_id": request.pk,
            "message_id": message.pk,
            "reply_by": context["reply_by"],
        },
    )
    return True


def sweep(now: dt.datetime) -> int:
    sent = 0
    with transaction.atomic():
        # Nullable relations are prefetched: PostgreSQL cannot lock the outer side of a join.
        due = claim_due(Request.objects.select_related("customer"), "ack_due_at", now, limit=200)
        prefetch_related_objects(due, "department__team__calendar", "assignee", "sla_policy__calendar")
        for request in due:
            sent += acknowledge(request, now)
            request.save(update_fields=["ack_due_at", "ack_sent_at"])
    return sent
