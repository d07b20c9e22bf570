"""Every write of the help desk. Each function is atomic and records what it did on the timeline.

Status changes go through one table (`TRANSITIONS`) from (previous, next) status to what must happen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import timezone

from tenure.core.outbox.email import message_id_for
from tenure.core.outbox.services import queue_message
from tenure.core.outbox.settings import current as outbox_settings
from tenure.core.outbox_models import TRANSACTIONAL
from tenure.core.services import audit, record_event
from tenure.customers.models import Customer
from tenure.helpdesk import assignment, sla
from tenure.helpdesk.attachments import IncomingAttachment, store
from tenure.helpdesk.conf import current
from tenure.helpdesk.models import (
    OPEN_STATUSES,
    Callback,
    Department,
    Direction,
    Macro,
    Priority,
    Request,
    RequestChannel,
    RequestMessage,
    RequestTag,
    StaffNotification,
    Status,
    TriageSource,
)
from tenure.helpdesk.repeats import find_repeat
from tenure.helpdesk.tokens import find_token, token_for
from tenure.helpdesk.triaging import triage

__all__ = [
    "IncomingAttachment",
    "Received",
    "add_note",
    "apply_macro",
    "assign",
    "complete_callback",
    "mark_notification_read",
    "merge_requests",
    "receive_message",
    "reopen",
    "reply",
    "resolve",
    "schedule_callback",
    "set_department",
    "set_priority",
    "set_status",
    "set_tags",
    "split_request",
]

EVENT_SOURCE = "helpdesk"
Actor = AbstractBaseUser | AnonymousUser | None
# Which outbox channel answers a request that came in on a given channel.
REPLY_CHANNEL = {
    RequestChannel.EMAIL: "email",
    RequestChannel.WEB: "email",
    RequestChannel.WEBHOOK: "email",
    RequestChannel.SMS: "sms",
    RequestChannel.PHONE: "sms",
    RequestChannel.CHAT: "chat",
}
MAX_BODY_CHARS = 200_000


@dataclass(frozen=True)
class Received:
    request: Request
    message: RequestMessage
    created: bool
    reopened: bool
    linked_from: Request | None


def _actor(user: Actor) -> str:
    if user is None or not user.is_authenticated:
        return "system"
    return f"staff:{user.get_username()}"


def _payload(request: Request, **extra: Any) -> dict[str, Any]:
    return {
        "request": request.reference,
        "request_id": request.pk,
        "department": request.department.slug if request.department_id and request.department else None,
        **extra,
    }


def _event(
    request: Request,
    kind: str,
    *,
    at: dt.datetime | None = None,
    channel: str = "",
    actor: str = "",
    key: str | None = None,
    **payload: Any,
) -> None:
    record_event(
        customer_id=request.customer_id,
        kind=kind,
        occurred_at=at or timezone.now(),
        channel=channel or request.channel,
        actor=actor or "system",
        source=EVENT_SOURCE,
        idempotency_key=key,
        payload=_payload(request, **payload),
    )


def _hours(start: dt.datetime, end: dt.datetime) -> float:
    return round((end - start).total_seconds() / 3600, 2)


def _locked(request: Request) -> Request:
    """The request re-read under a row lock (PostgreSQL), so concurrent writers queue up."""
    return (
        Request.objects.select_for_update(of=("self",))
        .select_related("customer", "department")
        .get(pk=request.pk)
    )


def _follow_merges(request: Request) -> Request:
    seen = {request.pk}
    while request.merged_into_id is not None and request.merged_into_id not in seen:
        seen.add(request.merged_into_id)
        request = Request.objects.select_related("customer", "department").get(pk=request.merged_into_id)
    return request


# -- receiving ---------------------------------------------------------------------------------------


def _validate_incoming(channel: str, body: str, html: str, attachments: Sequence[IncomingAttachment]) -> None:
    if channel not in RequestChannel.values:
        raise ValidationError({"channel": f"{channel!r} is not one of {', '.join(RequestChannel.values)}"})
    if not body.strip() and not html.strip() and not attachments:
        raise ValidationError({"body": "a message needs a body, HTML or an attachment"})


def _existing(channel: str, external_id: str) -> Received | None:
    if not external_id:
        return None
    message = (
        RequestMessage.objects.select_related(
            "request__customer", "request__department", "request__linked_from"
        )
        .filter(channel=channel, external_id=external_id)
        .first()
    )
    if message is None:
        return None
    request = message.request
    return Received(request, message, created=False, reopened=False, linked_from=None)


def _thread(customer: Customer, subject: str, references: Sequence[str]) -> Request | None:
    """The request a message answers: by the token in its subject, else by a referenced message id."""
    request_id = find_token(subject)
    if request_id is not None:
        found = Request.objects.select_related("customer", "department").filter(pk=request_id).first()
        # A token only threads for the customer it belongs to (or one merged into them).
        if found is not None and customer.pk in (found.customer_id, found.customer.merged_into_id):
            return _follow_merges(found)
    ids = [ref.strip() for ref in references if ref and ref.strip()]
    if ids:
        message = (
            RequestMessage.objects.select_related("request__customer", "request__department")
            .filter(external_id__in=ids[-50:], request__customer=customer)
            .order_by("-created_at")
            .first()
        )
        if message is not None:
            return _follow_merges(message.request)
    return None


def _new_request(
    *,
    customer: Customer,
    channel: str,
    subject: str,
    text: str,
    sender: str,
    at: dt.datetime,
    vector: Any,
    linked_from: Request | None,
    auto_reply: bool,
) -> Request:
    decided = triage(text=f"{subject}\n{text}", channel=channel, sender=sender, vector=vector)
    department = decided.department
    request = Request(
        customer=customer,
        subject=(subject or text.strip().split("\n", 1)[0])[:300],
        channel=channel,
        status=Status.NEW,
        priority=decided.priority,
        urgency=decided.urgency,
        sentiment=decided.sentiment,
        department=department,
        team=department.team if department is not None else None,
        triage_source=decided.source,
        triage_confidence=decided.confidence,
        needs_triage=decided.needs_triage,
        created_at=at,
        last_message_at=at,
        linked_from=linked_from,
    )
    sla.apply_policy(request, at)
    now = timezone.now()
    if not auto_reply:
        request.ack_due_at = now + dt.timedelta(seconds=current().ack_delay_seconds)
    request.save()
    if assignment.try_assign(request, now):
        request.save(update_fields=["assignee", "assignment_due_at"])
    else:
        request.save(update_fields=["assignment_due_at"])
    _event(
        request,
        "request.received",
        at=at,
        channel=channel,
        actor="customer",
        key=f"received:{request.pk}",
        subject=request.subject,
        priority=request.priority,
        urgency=request.urgency,
        sentiment=request.sentiment,
        triage=decided.source or "queue",
        triage_rule=decided.rule,
        triage_confidence=decided.confidence,
        linked_from=linked_from.reference if linked_from else None,
    )
    return request


def receive_message(
    *,
    customer: Customer,
    channel: str,
    body: str,
    subject: str = "",
    html: str = "",
    external_id: str = "",
    references: Sequence[str] = (),
    sender: str = "",
    attachments: Sequence[IncomingAttachment] = (),
    received_at: dt.datetime | None = None,
    metadata: dict[str, Any] | None = None,
) -> Received:
    """Put one customer message on the right request (threaded, reopened, linked, repeat or new).

    Idempotent on (channel, external_id): a second call returns the first result and changes nothing.
    `metadata={"auto_reply": True}` marks an automatic message: it is stored but never acknowledged.
    """
    _validate_incoming(channel, body, html, attachments)
    external_id = external_id.strip()[:300]
    existing = _existing(channel, external_id)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _receive(
                customer=customer,
                channel=channel,
                body=body,
                subject=subject,
                html=html,
                external_id=external_id,
                references=references,
                sender=sender,
                attachments=attachments,
                at=received_at or timezone.now(),
                metadata=dict(metadata or {}),
            )
    except IntegrityError:
        # Another worker stored the same (channel, external_id) first: theirs is the result.
        existing = _existing(channel, external_id)
        if existing is None:
            raise
        return existing


def _receive(
    *,
    customer: Customer,
    channel: str,
    body: str,
    subject: str,
    html: str,
    external_id: str,
    references: Sequence[str],
    sender: str,
    attachments: Sequence[IncomingAttachment],
    at: dt.datetime,
    metadata: dict[str, Any],
) -> Received:
    clean_html = nh3.clean(html) if html.strip() else ""
    text = body if body.strip() else nh3.clean(html, tags=set()) if html else ""
    text = text[:MAX_BODY_CHARS]
    auto_reply = bool(metadata.get("auto_reply"))
    subject = subject.strip()[:300]
    request: Request | None = None
    created = reopened = False
    linked_from: Request | None = None
    thread = _thread(customer, subject, references)
    if thread is not None:
        thread = _locked(thread)
        window = dt.timedelta(days=current().reopen_window_days)
        if thread.status in OPEN_STATUSES:
            request = thread
            if request.status == Status.WAITING and not auto_reply:
                _transition(request, Status.OPEN, by=None, reason="customer replied")
        elif thread.resolved_at is not None and at - thread.resolved_at <= window and not auto_reply:
            request = thread
            _reopen(request, reason="customer replied", by=None, at=at)
            reopened = True
        elif thread.resolved_at is None and thread.status == Status.CLOSED and not auto_reply:
            linked_from = thread
        else:
            linked_from = thread
    vector = None
    if request is None and linked_from is None and not auto_reply:
        match, vector = find_repeat(customer, f"{subject}\n{text}", at)
        if match is not None:
            request = _locked(match.request)
            request.repeat_contacts += 1
            request.save(update_fields=["repeat_contacts"])
            hours_waiting = _hours(request.created_at, at)
            kind = "request.callback" if channel == RequestChannel.PHONE else "request.repeat_contact"
            _event(
                request,
                kind,
                at=at,
                channel=channel,
                actor="customer",
                hours_waiting=hours_waiting,
                similarity=match.similarity,
                repeat_contacts=request.repeat_contacts,
            )
    if request is None:
        request = _new_request(
            customer=customer,
            channel=channel,
            subject=subject,
            text=text,
            sender=sender,
            at=at,
            vector=vector,
            linked_from=linked_from,
            auto_reply=auto_reply,
        )
        created = True
    message = RequestMessage.objects.create(
        request=request,
        direction=Direction.INBOUND,
        channel=channel,
        sender=sender[:254],
        subject=subject,
        body=text,
        html=clean_html,
        external_id=external_id,
        metadata=metadata,
        created_at=at,
    )
    for index, incoming in enumerate(attachments):
        store(message, incoming, index)
    if not created:
        request.last_message_at = max(request.last_message_at, at)
        request.save(update_fields=["last_message_at"])
        _event(
            request,
            "request.customer_replied",
            at=at,
            channel=channel,
            actor="customer",
            key=f"message:{message.pk}",
            message_id=message.pk,
        )
    return Received(request, message, created=created, reopened=reopened, linked_from=linked_from)


# -- answering ---------------------------------------------------------------------------------------


def _last_inbound(request: Request) -> RequestMessage | None:
    return (
        RequestMessage.objects.filter(request=request, direction=Direction.INBOUND)
        .order_by("-created_at", "-id")
        .first()
    )


def reply_subject(request: Request) -> str:
    base = request.subject or "Your request"
    if not base.lower().startswith("re:"):
        base = f"Re: {base}"
    return f"{base} {token_for(request.pk)}"[:300]


def _send(
    request: Request,
    *,
    body: str,
    channel: str,
    key: str | None,
    author: User | None,
    template: str,
    subject: str = "",
    metadata: dict[str, Any] | None = None,
) -> RequestMessage:
    """Write the outbound message row and queue it in the outbox in the same transaction."""
    if channel not in REPLY_CHANNEL:
        raise ValidationError({"channel": f"{channel!r} is not one of {', '.join(REPLY_CHANNEL)}"})
    out_channel = REPLY_CHANNEL[RequestChannel(channel)]
    last_in = _last_inbound(request)
    in_reply_to = ""
    if out_channel == "email" and last_in is not None and last_in.external_id.startswith("<"):
        in_reply_to = last_in.external_id
    now = timezone.now()
    message = RequestMessage.objects.create(
        request=request,
        direction=Direction.OUTBOUND,
        channel=channel,
        author=author,
        subject=subject if out_channel == "email" else "",
        body=body,
        metadata=metadata or {},
        created_at=now,
    )
    key = key or f"helpdesk:reply:{message.pk}"
    outbound = queue_message(
        customer=request.customer,
        channel=out_channel,
        purpose=TRANSACTIONAL,
        body=body,
        subject=subject if out_channel == "email" else "",
        template=template,
        in_reply_to=in_reply_to,
        idempotency_key=key,
    )
    message.outbound = outbound
    if out_channel == "email":
        # Our Message-ID, so the customer's answer (In-Reply-To) threads back onto this request.
        message.external_id = message_id_for(key, outbox_settings().message_id_domain)
    message.save(update_fields=["outbound", "external_id"])
    return message


def reply(
    *,
    request: Request,
    author: User,
    body: str,
    channel: str | None = None,
    macro: Macro | None = None,
) -> RequestMessage:
    """An agent's answer, sent on `channel` (default: the channel the customer last wrote on)."""
    if not body.strip():
        raise ValidationError({"body": "a reply needs a body"})
    if len(body) > MAX_BODY_CHARS:
        raise ValidationError({"body": f"a reply has at most {MAX_BODY_CHARS:,} characters"})
    with transaction.atomic():
        request = _locked(request)
        if request.merged_into_id is not None:
            raise ValidationError(
                {"request": f"{request.reference} was merged; answer the surviving request"}
            )
        last_in = _last_inbound(request)
        channel = channel or (last_in.channel if last_in else request.channel)
        message = _send(
            request,
            body=body,
            channel=channel,
            key=None,
            author=author,
            template=f"helpdesk.macro.{macro.pk}" if macro else "helpdesk.reply",
            subject=reply_subject(request),
            metadata={"macro": macro.name} if macro else {},
        )
        now = message.created_at
        fields = ["last_message_at", "ack_due_at", "status", "next_due_at", "sla_check_at"]
        if request.first_response_at is None:
            request.first_response_at = now
            request.first_response_warn_at = None
            fields += ["first_response_at", "first_response_warn_at"]
            hours = sla.hours_for(request)
            _event(
                request,
                "request.answered",
                at=now,
                channel=channel,
                actor=_actor(author),
                key=f"answered:{request.pk}",
                response_hours=_hours(request.created_at, now),
                response_business_hours=round(
                    hours.business_time_between(request.created_at, now).total_seconds() / 3600, 2
                ),
                first_response_met=sla.met(request, "first_response"),
            )
        else:
            _event(
                request,
                "request.replied",
                at=now,
                channel=channel,
                actor=_actor(author),
                message_id=message.pk,
            )
        request.ack_due_at = None  # an agent answered first: no acknowledgement needed
        request.last_message_at = now
        if request.status == Status.NEW:
            request.status = Status.OPEN
        sla.refresh(request)
        request.save(update_fields=fields)
    return message


def add_note(*, request: Request, author: User, body: str) -> RequestMessage:
    """An internal note: staff see it on the request; the customer never does."""
    if not body.strip():
        raise ValidationError({"body": "a note needs a body"})
    with transaction.atomic():
        note = RequestMessage.objects.create(
            request=request,
            direction=Direction.NOTE,
            channel=request.channel,
            author=author,
            body=body[:MAX_BODY_CHARS],
            created_at=timezone.now(),
        )
        audit(actor=author, action="request.note_added", object_type="request", object_id=request.pk)
    return note


# -- status ------------------------------------------------------------------------------------------


def _to_waiting(request: Request, now: dt.datetime, by: Actor) -> None:
    sla.pause(request, now)


def _from_waiting(request: Request, now: dt.datetime, by: Actor) -> None:
    sla.resume(request, now)


def _to_resolved(request: Request, now: dt.datetime, by: Actor) -> None:
    if request.sla_paused_at is not None:
        sla.resume(request, now)
    request.resolved_at = now
    request.ack_due_at = None
    request.assignment_due_at = None


def _to_closed(request: Request, now: dt.datetime, by: Actor) -> None:
    request.closed_at = now
    request.ack_due_at = None
    request.assignment_due_at = None


def _reopened(request: Request, now: dt.datetime, by: Actor) -> None:
    request.reopened_count += 1
    request.resolved_at = None
    request.auto_resolved = False
    request.closed_at = None
    # The resolution clock starts again with the full target; the first-response clock stays as it was.
    sla.apply_policy(request, now, clocks=("resolution",))
    if request.assignee_id is None:
        request.assignment_due_at = now


Step = Any
# (from, to) -> side effects; a pair not listed is not allowed.
TRANSITIONS: dict[tuple[str, str], tuple[Step, ...]] = {
    (Status.NEW, Status.OPEN): (),
    (Status.NEW, Status.WAITING): (_to_waiting,),
    (Status.OPEN, Status.WAITING): (_to_waiting,),
    (Status.WAITING, Status.OPEN): (_from_waiting,),
    (Status.NEW, Status.RESOLVED): (_to_resolved,),
    (Status.OPEN, Status.RESOLVED): (_to_resolved,),
    (Status.WAITING, Status.RESOLVED): (_to_resolved,),
    (Status.NEW, Status.CLOSED): (_to_resolved, _to_closed),
    (Status.OPEN, Status.CLOSED): (_to_resolved, _to_closed),
    (Status.WAITING, Status.CLOSED): (_to_resolved, _to_closed),
    (Status.RESOLVED, Status.CLOSED): (_to_closed,),
    (Status.RESOLVED, Status.OPEN): (_reopened,),
    (Status.CLOSED, Status.OPEN): (_reopened,),
}


def _transition(request: Request, status: str, *, by: Actor, reason: str = "", auto: bool = False) -> None:
    """Apply one status change with its side effects and save (caller holds the row lock)."""
    previous = request.status
    if previous == status:
        return
    steps = TRANSITIONS.get((previous, status))
    if steps is None:
        raise ValidationError({"status": f"a {previous} request cannot become {status}"})
    now = timezone.now()
    request.status = status
    if status == Status.RESOLVED or (status == Status.CLOSED and previous in OPEN_STATUSES):
        request.auto_resolved = auto
    for step in steps:
        step(request, now, by)
    sla.refresh(request)
    request.save()
    actor = _actor(by)
    if status == Status.RESOLVED or (status == Status.CLOSED and previous in OPEN_STATUSES):
        _event(
            request,
            "request.resolved",
            at=now,
            actor=actor,
            auto=auto,
            resolution_hours=_hours(request.created_at, now),
            resolution_met=sla.met(request, "resolution"),
        )
    elif status == Status.OPEN and previous in (Status.RESOLVED, Status.CLOSED):
        _event(
            request,
            "request.reopened",
            at=now,
            actor=actor,
            reason=reason,
            reopened_count=request.reopened_count,
        )
    else:
        _event(
            request,
            "request.status_changed",
            at=now,
            actor=actor,
            previous=previous,
            status=status,
            reason=reason,
        )


def _reopen(request: Request, *, reason: str, by: Actor, at: dt.datetime | None = None) -> None:
    if request.status not in (Status.RESOLVED, Status.CLOSED):
        raise ValidationError(
            {"status": f"only a resolved or closed request can be reopened, not {request.status}"}
        )
    _transition(request, Status.OPEN, by=by, reason=reason)


def set_status(*, request: Request, status: str, by: Actor, reason: str = "") -> Request:
    """Change the status; waiting pauses the SLA clocks, resolved/closed stop them, open again reopens."""
    if status not in Status.values:
        raise ValidationError({"status": f"{status!r} is not one of {', '.join(Status.values)}"})
    with transaction.atomic():
        locked = _locked(request)
        _transition(locked, status, by=by, reason=reason)
    return locked


def resolve(*, request: Request, by: Actor, auto: bool = False) -> Request:
    """Resolve; `auto=True` marks it resolved by the system (no satisfaction survey then)."""
    with transaction.atomic():
        locked = _locked(request)
        if locked.status not in OPEN_STATUSES:
            raise ValidationError({"status": f"a {locked.status} request cannot be resolved"})
        _transition(locked, Status.RESOLVED, by=by, auto=auto)
    return locked


def reopen(request: Request, reason: str, *, by: Actor = None) -> Request:
    """Reopen a resolved or closed request (a customer's reply, an unhappy survey answer, an agent)."""
    if not reason.strip():
        raise ValidationError({"reason": "say why the request is reopened"})
    with transaction.atomic():
        locked = _locked(request)
        _reopen(locked, reason=reason.strip()[:200], by=by)
    return locked


# -- ownership and classification ---------------------------------------------------------------------


def assign(*, request: Request, assignee: User | None, by: Actor) -> Request:
    """Give the request to `assignee` (None: unassign, and the assigner will try again).

    A person choosing overrides capacity; only the automatic assigner keeps to `max_open`.
    """
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"assignee": f"{assignee.get_username()} is not an active user"})
    with transaction.atomic():
        locked = _locked(request)
        previous = locked.assignee.get_username() if locked.assignee_id and locked.assignee else None
        locked.assignee = assignee
        locked.assignment_due_at = None if assignee is not None or not locked.is_open else timezone.now()
        locked.save(update_fields=["assignee", "assignment_due_at"])
        _event(
            locked,
            "request.assigned",
            actor=_actor(by),
            assignee=assignee.get_username() if assignee else None,
            previous=previous,
            automatic=False,
        )
        audit(
            actor=by,
            action="request.assigned",
            object_type="request",
            object_id=locked.pk,
            details={"assignee": assignee.pk if assignee else None, "previous": previous},
        )
    return locked


def set_department(*, request: Request, department: Department, by: Actor) -> Request:
    """An agent's triage: sets the department (and its team), takes it out of the triage queue."""
    with transaction.atomic():
        locked = _locked(request)
        locked.department = department
        locked.team = department.team
        locked.needs_triage = False
        locked.triage_source = TriageSource.AGENT
        if locked.is_open:
            sla.apply_policy(locked, locked.created_at)
        locked.save()
        _event(locked, "request.triaged", actor=_actor(by), source="agent")
    return locked


def set_priority(*, request: Request, priority: str, by: Actor) -> Request:
    if priority not in Priority.values:
        raise ValidationError({"priority": f"{priority!r} is not one of {', '.join(Priority.values)}"})
    with transaction.atomic():
        locked = _locked(request)
        previous = locked.priority
        locked.priority = priority
        if (
            locked.is_open
            and locked.first_response_breached_at is None
            and locked.resolution_breached_at is None
        ):
            sla.apply_policy(locked, locked.created_at)
        locked.save()
        _event(locked, "request.priority_changed", actor=_actor(by), previous=previous, priority=priority)
    return locked


def set_tags(*, request: Request, names: Iterable[str], by: Actor) -> None:
    cleaned = sorted({name.strip().lower()[:50] for name in names if name and name.strip()})
    with transaction.atomic():
        tags = [RequestTag.objects.get_or_create(name=name)[0] for name in cleaned]
        request.tags.set(tags)
        audit(
            actor=by,
            action="request.tagged",
            object_type="request",
            object_id=request.pk,
            details={"tags": cleaned},
        )


# -- merge and split ---------------------------------------------------------------------------------


def merge_requests(*, keep: Request, merge: Request, by: Actor) -> Request:
    """Move `merge`'s messages, call-backs and tags onto `keep` and close `merge` pointing at it."""
    if keep.pk == merge.pk:
        raise ValidationError({"merge": "a request cannot be merged into itself"})
    with transaction.atomic():
        first, second = sorted([keep.pk, merge.pk])
        locked = {r.pk: r for r in Request.objects.select_for_update().filter(pk__in=[first, second])}
        keep, merge = locked[keep.pk], locked[merge.pk]
        if keep.customer_id != merge.customer_id:
            raise ValidationError({"merge": "only requests of the same customer can be merged"})
        if merge.merged_into_id is not None or keep.merged_into_id is not None:
            raise ValidationError({"merge": "one of these requests was already merged"})
        moved = RequestMessage.objects.filter(request=merge).update(request=keep)
        Callback.objects.filter(request=merge).update(request=keep)
        keep.tags.add(*merge.tags.all())
        keep.repeat_contacts += merge.repeat_contacts
        keep.last_message_at = max(keep.last_message_at, merge.last_message_at)
        if keep.first_response_at is None and merge.first_response_at is not None:
            keep.first_response_at = merge.first_response_at
        sla.refresh(keep)
        keep.save()
        merge.merged_into = keep
        merge.status = Status.CLOSED
        merge.closed_at = timezone.now()
        merge.ack_due_at = merge.assignment_due_at = merge.sla_check_at = merge.next_due_at = None
        merge.save()
        _event(keep, "request.merged", actor=_actor(by), merged=merge.reference, messages_moved=moved)
        audit(
            actor=by,
            action="request.merged",
            object_type="request",
            object_id=keep.pk,
            details={"merged": merge.pk, "messages": moved},
        )
    return keep


def split_request(*, request: Request, message_ids: Sequence[int], by: Actor, subject: str = "") -> Request:
    """Move the given customer messages to a new request linked to this one; returns the new request."""
    with transaction.atomic():
        source = _locked(request)
        messages = list(
            RequestMessage.objects.filter(request=source, pk__in=message_ids).order_by("created_at")
        )
        if not messages or len(messages) != len(set(message_ids)):
            raise ValidationError({"message_ids": "give ids of messages on this request"})
        if RequestMessage.objects.filter(request=source).exclude(pk__in=message_ids).count() == 0:
            raise ValidationError({"message_ids": "leave at least one message on the original request"})
        first = messages[0]
        new = Request(
            customer=source.customer,
            subject=(subject or first.subject or first.body.split("\n", 1)[0])[:300],
            channel=first.channel,
            status=Status.OPEN,
            priority=source.priority,
            urgency=source.urgency,
            sentiment=source.sentiment,
            department=source.department,
            team=source.team,
            assignee=source.assignee,
            triage_source=source.triage_source,
            needs_triage=source.needs_triage,
            created_at=timezone.now(),
            last_message_at=messages[-1].created_at,
            linked_from=source,
        )
        sla.apply_policy(new, new.created_at)
        new.save()
        RequestMessage.objects.filter(pk__in=[m.pk for m in messages]).update(request=new)
        _event(new, "request.split", actor=_actor(by), split_from=source.reference, messages=len(messages))
        audit(
            actor=by,
            action="request.split",
            object_type="request",
            object_id=source.pk,
            details={"new": new.pk, "messages": [m.pk for m in messages]},
        )
    return new


# -- macros ------------------------------------------------------------------------------------------

# No loaders and no libraries: a macro can use variables, filters and tags, never include files or
# load template libraries.
_MACRO_ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=False)


def validate_macro_body(body: str) -> None:
    try:
        _MACRO_ENGINE.from_string(body)
    except TemplateSyntaxError as error:
        raise ValidationError({"body": f"template error: {error}"}) from None


def macro_context(request: Request, agent: User) -> dict[str, str]:
    """Plain strings only, so a template cannot reach model methods."""
    name = request.customer.name
    return {
        "customer_name": name,
        "customer_first_name": name.split(" ", 1)[0],
        "request_number": request.reference,
        "request_token": token_for(request.pk),
        "request_subject": request.subject,
        "department": request.department.name if request.department else "",
        "agent_name": agent.get_full_name() or agent.get_username(),
        "agent_first_name": agent.first_name or agent.get_username(),
    }


def render_macro(macro: Macro, request: Request, agent: User) -> str:
    try:
        template = _MACRO_ENGINE.from_string(macro.body)
    except TemplateSyntaxError as error:
        raise ValidationError({"macro": f"macro {macro.name!r} has a template error: {error}"}) from None
    return template.render(Context(macro_context(request, agent), autoescape=False)).strip()


def apply_macro(*, request: Request, macro: Macro, by: User, channel: str | None = None) -> RequestMessage:
    """Send the macro's reply, then apply its status, priority and tags, all in one transaction."""
    with transaction.atomic():
        message = reply(
            request=request, author=by, body=render_macro(macro, request, by), channel=channel, macro=macro
        )
        if macro.add_tags.strip():
            names = {t.name for t in request.tags.all()} | set(macro.add_tags.split(","))
            set_tags(request=request, names=names, by=by)
        if macro.set_priority:
            set_priority(request=request, priority=macro.set_priority, by=by)
        if macro.set_status:
            current_status = Request.objects.values_list("status", flat=True).get(pk=request.pk)
            if current_status != macro.set_status:
                set_status(request=request, status=macro.set_status, by=by, reason=f"macro {macro.name}")
    return message


# -- call-backs --------------------------------------------------------------------------------------


def schedule_callback(
    *,
    request: Request,
    due_at: dt.datetime,
    by: Actor,
    owner: User | None = None,
    phone: str = "",
    note: str = "",
) -> Callback:
    """Promise to call the customer back by `due_at`; the owner is reminded before it falls due."""
    if due_at.tzinfo is None:
        raise ValidationError({"due_at": "give a time with a time zone"})
    owner = owner or (request.assignee if request.assignee_id else None)
    reminder = dt.timedelta(minutes=current().callback_reminder_minutes)
    with transaction.atomic():
        callback = Callback.objects.create(
            request=request,
            customer_id=request.customer_id,
            owner=owner,
            due_at=due_at,
            remind_at=max(due_at - reminder, timezone.now()),
            phone=phone[:40],
            note=note,
        )
        _event(
            request,
            "callback.scheduled",
            channel=RequestChannel.PHONE,
            actor=_actor(by),
            key=f"callback_scheduled:{callback.pk}",
            callback_id=callback.pk,
            due_at=due_at.isoformat(),
            owner=owner.get_username() if owner else None,
        )
    return callback


def complete_callback(*, callback: Callback, by: Actor, outcome: str = "") -> Callback:
    if callback.done_at is not None:
        raise ValidationError({"callback": "this call-back is already done"})
    with transaction.atomic():
        callback.done_at = timezone.now()
        callback.remind_at = None
        callback.outcome = outcome[:200]
        callback.save(update_fields=["done_at", "remind_at", "outcome"])
        _event(
            callback.request,
            "callback.completed",
            channel=RequestChannel.PHONE,
            actor=_actor(by),
            key=f"callback_completed:{callback.pk}",
            callback_id=callback.pk,
            outcome=callback.outcome,
            late=callback.done_at > callback.due_at,
        )
    return callback


def mark_notification_read(*, notification: StaffNotification, by: Actor) -> StaffNotification:
    """Only the person notified may mark it read."""
    if by is None or not by.is_authenticated or notification.user_id != by.pk:
        raise ValidationError({"notification": "this notification is not yours"})
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification
