"""What the conversation page reads: the request, its thread, the customer's open items and timeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.http import Http404

from tenure.core.models import Event
from tenure.customers.models import Customer, Identity
from tenure.helpdesk.console.access import visible_requests
from tenure.helpdesk.models import OPEN_STATUSES, Attachment, Callback, Request, RequestMessage

TIMELINE_ON_PAGE = 25
THREAD_LIMIT = 200


@dataclass(frozen=True)
class Conversation:
    request: Request
    customer: Customer
    identities: list[Identity]
    thread: list[RequestMessage]
    older_hidden: bool
    other_requests: list[Request]
    callbacks: list[Callback]
    timeline: list[Event]


# The rows joined to the request: what the actions may touch (routing, the SLA clock), what the
# conversation shows, what the live thread shows. Each joined table costs SQL to build on every page.
FOR_ACTIONS = ("customer", "assignee", "department", "team", "sla_policy")
FOR_CONVERSATION = ("customer", "assignee", "department")
FOR_THREAD = ("customer",)


def request_for(user: Any, request_id: int, related: tuple[str, ...] = FOR_ACTIONS) -> Request:
    """The request if this user may see it; 404 otherwise (no hint that it exists)."""
    found = visible_requests(user).select_related(*related).filter(pk=request_id).first()
    if found is None:
        raise Http404("no such request in your queues")
    return found


def thread(request: Request) -> tuple[list[RequestMessage], bool]:
    """The newest messages of a request, oldest first, with authors and attachments."""
    rows: QuerySet[RequestMessage] = (
        RequestMessage.objects.filter(request=request)
        .select_related("author", "outbound")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("-created_at", "-id")
    )
    newest = list(rows[: THREAD_LIMIT + 1])
    return newest[:THREAD_LIMIT][::-1], len(newest) > THREAD_LIMIT


def conversation(user: Any, request_id: int) -> Conversation:
    request = request_for(user, request_id, FOR_CONVERSATION)
    messages, older_hidden = thread(request)
    customer = request.customer
    others = list(
        Request.objects.filter(customer=customer, status__in=OPEN_STATUSES)
        .exclude(pk=request.pk)
        .select_related("assignee")
        .order_by("-last_message_at")[:20]
    )
    callbacks = list(
        Callback.objects.filter(customer=customer, done_at__isnull=True)
        .select_related("owner")
        .order_by("due_at")[:20]
    )
    events = list(Event.objects.filter(customer=customer).order_by("-occurred_at", "-id")[:TIMELINE_ON_PAGE])
    identities = list(customer.identities.order_by("channel", "value"))
    return Conversation(request, customer, identities, messages, older_hidden, others, callbacks, events)
