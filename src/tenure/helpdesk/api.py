"""Requests over the JSON API: list by saved view, read, create, reply, status, notes, assign, call-backs.

Agents, managers and admins work requests; dispatchers and technicians get 403. Reports need
`helpdesk.manage_helpdesk` (managers, admins).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from tenure.core.access import require_perms
from tenure.customers.models import Customer
from tenure.helpdesk import metrics, selectors, services
from tenure.helpdesk.models import Callback, Macro, Request, RequestChannel, RequestMessage, StaffNotification
from tenure.helpdesk.models import Status as RequestStatus

router = Router(tags=["helpdesk"])

VIEW = "helpdesk.view_request"
WORK = "helpdesk.work_request"
ADD = "helpdesk.add_request"
MANAGE = "helpdesk.manage_helpdesk"
PAGE_MAX = 200

ViewName = Literal[
    "mine", "team", "unassigned", "due_soon", "breached", "callbacks_due", "triage", "open", "all"
]


class RequestOut(Schema):
    id: int
    reference: str
    customer_id: int
    customer_name: str
    subject: str
    channel: str
    status: str
    priority: str
    urgency: str
    sentiment: str
    department: str | None
    assignee: str | None
    tags: list[str]
    needs_triage: bool
    triage_source: str
    triage_confidence: float | None
    created_at: dt.datetime
    last_message_at: dt.datetime
    first_response_at: dt.datetime | None
    first_response_due: dt.datetime | None
    resolution_due: dt.datetime | None
    next_due_at: dt.datetime | None
    resolved_at: dt.datetime | None
    auto_resolved: bool
    reopened_count: int
    repeat_contacts: int
    sla_breached: bool
    linked_from_id: int | None
    merged_into_id: int | None

    @staticmethod
    def resolve_customer_name(request: Request) -> str:
        return request.customer.name

    @staticmethod
    def resolve_department(request: Request) -> str | None:
        return request.department.slug if request.department else None

    @staticmethod
    def resolve_assignee(request: Request) -> str | None:
        return request.assignee.get_username() if request.assignee else None

    @staticmethod
    def resolve_tags(request: Request) -> list[str]:
        return [tag.name for tag in request.tags.all()]

    @staticmethod
    def resolve_sla_breached(request: Request) -> bool:
        return request.first_response_breached_at is not None or request.resolution_breached_at is not None


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    stored: bool
    refused_reason: str

    @staticmethod
    def resolve_stored(attachment: Any) -> bool:
        return bool(attachment.stored_name)


class MessageOut(Schema):
    id: int
    direction: str
    channel: str
    author: str | None
    sender: str
    subject: str
    body: str
    created_at: dt.datetime
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_author(message: RequestMessage) -> str | None:
        return message.author.get_username() if message.author else None

    @staticmethod
    def resolve_attachments(message: RequestMessage) -> list[Any]:
        return list(message.attachments.all())


class RequestDetailOut(RequestOut):
    messages: list[MessageOut]

    @staticmethod
    def resolve_messages(request: Request) -> list[RequestMessage]:
        return list(selectors.thread(request))


class RequestPage(Schema):
    items: list[RequestOut]
    count: int


class ListQuery(Schema):
    view: ViewName = "open"
    limit: int = Field(50, ge=1, le=PAGE_MAX)
    offset: int = Field(0, ge=0)


class RequestIn(Schema):
    customer_id: int
    channel: RequestChannel
    body: str = Field(min_length=1, max_length=services.MAX_BODY_CHARS)
    subject: str = Field("", max_length=300)
    external_id: str = Field("", max_length=300)
    sender: str = Field("", max_length=254)


class ReceivedOut(Schema):
    request: RequestOut
    message_id: int
    created: bool
    reopened: bool
    linked_from_id: int | None


class ReplyIn(Schema):
    body: str = Field("", max_length=services.MAX_BODY_CHARS)
    channel: RequestChannel | None = None
    macro_id: int | None = None


class StatusIn(Schema):
    status: RequestStatus
    reason: str = Field("", max_length=200)


class NoteIn(Schema):
    body: str = Field(min_length=1, max_length=services.MAX_BODY_CHARS)


class AssignIn(Schema):
    assignee: str | None = Field(None, max_length=150)


class CallbackIn(Schema):
    due_at: dt.datetime
    phone: str = Field("", max_length=40)
    note: str = Field("", max_length=2000)
    owner: str | None = Field(None, max_length=150)


class CallbackOut(Schema):
    id: int
    request_id: int
    due_at: dt.datetime
    owner: str | None
    done_at: dt.datetime | None

    @staticmethod
    def resolve_owner(callback: Callback) -> str | None:
        return callback.owner.get_username() if callback.owner else None


class NotificationOut(Schema):
    id: int
    kind: str
    text: str
    request_id: int | None
    created_at: dt.datetime
    read_at: dt.datetime | None


def _request(request_id: int) -> Request:
    try:
        return selectors.request_detail(request_id)
    except Request.DoesNotExist:
        raise HttpError(404, f"request {request_id} does not exist") from None


def _user(username: str, field: str) -> User:
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ValidationError({field: f"no active staff user {username!r}"})
    return user


@router.get("/helpdesk/requests", response=RequestPage, summary="Requests in a saved view")
def list_requests(request: HttpRequest, filters: Query[ListQuery]) -> dict[str, Any]:
    require_perms(request, VIEW)
    rows = selectors.requests_for_view(filters.view, request.user)
    items = list(rows[filters.offset : filters.offset + filters.limit])
    return {"items": items, "count": len(items)}


@router.get("/helpdesk/requests/{request_id}", response=RequestDetailOut, summary="A request with its thread")
def get_request(request: HttpRequest, request_id: int) -> Request:
    require_perms(request, VIEW)
    return _request(request_id)


@router.post("/helpdesk/requests", response={201: ReceivedOut, 200: ReceivedOut}, summary="Log a contact")
def create_request(request: HttpRequest, payload: RequestIn) -> Status[dict[str, Any]]:
    """A contact taken by staff or an integration; threads, reopens or repeats like any other."""
    require_perms(request, ADD, WORK)
    customer = Customer.objects.filter(pk=payload.customer_id).first()
    if customer is None:
        raise ValidationError({"customer_id": f"customer {payload.customer_id} does not exist"})
    got = services.receive_message(
        customer=customer,
        channel=str(payload.channel),
        body=payload.body,
        subject=payload.subject,
        external_id=payload.external_id,
        sender=payload.sender,
        metadata={"entered_by": request.user.get_username()},
    )
    body = {
        "request": selectors.request_detail(got.request.pk),
        "message_id": got.message.pk,
        "created": got.created,
        "reopened": got.reopened,
        "linked_from_id": got.linked_from.pk if got.linked_from else None,
    }
    return Status(201 if got.created else 200, body)


@router.post(
    "/helpdesk/requests/{request_id}/reply", response={201: MessageOut}, summary="Answer the customer"
)
def reply(request: HttpRequest, request_id: int, payload: ReplyIn) -> Status[RequestMessage]:
    require_perms(request, WORK)
    target = _request(request_id)
    assert isinstance(request.user, User)
    if payload.macro_id is not None:
        macro = Macro.objects.filter(pk=payload.macro_id, active=True).first()
        if macro is None:
            raise HttpError(404, f"macro {payload.macro_id} does not exist")
        channel = str(payload.channel) if payload.channel else None
        message = services.apply_macro(request=target, macro=macro, by=request.user, channel=channel)
    else:
        message = services.reply(
            request=target,
            author=request.user,
            body=payload.body,
            channel=str(payload.channel) if payload.channel else None,
        )
    return Status(201, message)


@router.post("/helpdesk/requests/{request_id}/status", response=RequestOut, summary="Change the status")
def set_status(request: HttpRequest, request_id: int, payload: StatusIn) -> Request:
    require_perms(request, WORK)
    target = _request(request_id)
    if payload.status == RequestStatus.OPEN and target.status in (
        RequestStatus.RESOLVED,
        RequestStatus.CLOSED,
    ):
        services.reopen(target, payload.reason or "reopened by staff", by=request.user)
    else:
        services.set_status(
            request=target, status=str(payload.status), by=request.user, reason=payload.reason
        )
    return selectors.request_detail(request_id)


@router.post(
    "/helpdesk/requests/{request_id}/notes", response={201: MessageOut}, summary="Add an internal note"
)
def add_note(request: HttpRequest, request_id: int, payload: NoteIn) -> Status[RequestMessage]:
    require_perms(request, WORK)
    assert isinstance(request.user, User)
    return Status(
        201, services.add_note(request=_request(request_id), author=request.user, body=payload.body)
    )


@router.post("/helpdesk/requests/{request_id}/assign", response=RequestOut, summary="Assign or unassign")
def assign(request: HttpRequest, request_id: int, payload: AssignIn) -> Request:
    require_perms(request, WORK)
    assignee = _user(payload.assignee, "assignee") if payload.assignee else None
    services.assign(request=_request(request_id), assignee=assignee, by=request.user)
    return selectors.request_detail(request_id)


@router.post(
    "/helpdesk/requests/{request_id}/callbacks", response={201: CallbackOut}, summary="Promise a call-back"
)
def schedule_callback(request: HttpRequest, request_id: int, payload: CallbackIn) -> Status[Callback]:
    require_perms(request, WORK)
    owner = _user(payload.owner, "owner") if payload.owner else None
    callback = services.schedule_callback(
        request=_request(request_id),
        due_at=payload.due_at,
        by=request.user,
        owner=owner,
        phone=payload.phone,
        note=payload.note,
    )
    return Status(201, callback)


@router.get("/helpdesk/metrics", response=dict[str, Any], summary="Help desk outcomes over the last days")
def get_metrics(request: HttpRequest, days: int = Query(30, ge=1, le=366)) -> dict[str, Any]:
    require_perms(request, MANAGE)
    until = timezone.now()
    return metrics.compute(until - dt.timedelta(days=days), until).as_dict()


@router.get("/helpdesk/notifications", response=list[NotificationOut], summary="My unread notifications")
def my_notifications(request: HttpRequest) -> list[StaffNotification]:
    """SLA warnings and breaches, call-back reminders: newest first, at most 200."""
    require_perms(request, VIEW)
    assert request.user.pk is not None  # require_perms passed: a signed-in user
    return list(selectors.unread_notifications(request.user.pk).order_by("-created_at", "-id")[:200])


@router.post(
    "/helpdesk/notifications/{notification_id}/read", response=NotificationOut, summary="Mark one read"
)
def read_notification(request: HttpRequest, notification_id: int) -> StaffNotification:
    require_perms(request, VIEW)
    assert request.user.pk is not None
    found = StaffNotification.objects.filter(pk=notification_id, user_id=request.user.pk).first()
    if found is None:
        raise HttpError(404, f"notification {notification_id} does not exist")
    return services.mark_notification_read(notification=found, by=request.user)
