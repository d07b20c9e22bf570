"""Reads of the help desk: request lists for the console's saved views, a request with its thread, counts.

Every list runs in a fixed number of queries (select_related for the single-valued relations, one
prefetch for tags) and filters on indexed columns (see the indexes on `Request`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.lookups import In
from django.utils import timezone

from tenure.helpdesk.models import (
    OPEN_STATUSES,
    Callback,
    Direction,
    Request,
    RequestMessage,
    RequestTag,
    StaffNotification,
)
from tenure.helpdesk.tokens import find_token, token_for

__all__ = [
    "VIEWS",
    "find_token",
    "request_detail",
    "request_token",
    "requests_for_view",
    "status_in",
    "thread",
]

DUE_SOON = dt.timedelta(hours=2)
VIEWS = ("mine", "team", "unassigned", "due_soon", "breached", "callbacks_due", "triage", "open", "all")


_CHOICE_VALUE = re.compile(r"[a-z_]+")


class _InlineIn(In):
    """`IN` with the values written into the SQL instead of passed as parameters.

    SQLite uses a partial index only if the query's WHERE implies the index's condition, and it does
    not look at bound parameters inside an IN list: `status IN (?, ?, ?)` never matches an index
    `WHERE status IN ('new', 'open', 'waiting')`, and the open-request views read far more rows.
    """

    def process_rhs(self, compiler: Any, connection: Any) -> tuple[str, tuple[str | int, ...]]:
        values = [str(value) for value in self.rhs]
        if not values or not all(_CHOICE_VALUE.fullmatch(value) for value in values):
            raise ValueError(f"only non-empty lists of choice values are inlined, not {values!r}")
        return "(" + ", ".join(f"'{value}'" for value in values) + ")", ()


def status_in(statuses: Iterable[str]) -> _InlineIn:
    """A filter on Request.status that lets the partial indexes over open requests be used.

    Keep the statuses in the order of the index conditions (`OPEN_STATUSES`): SQLite compares the
    lists term by term.
    """
    return _InlineIn(F("status"), list(statuses))


def request_token(request: Request) -> str:
    """The token customers keep in an e-mail subject so replies thread, e.g. "[#R-000123]"."""
    return token_for(request.pk)


def _list_shape(queryset: QuerySet[Request]) -> QuerySet[Request]:
    return queryset.select_related("customer", "assignee", "department", "team").prefetch_related(
        Prefetch("tags", queryset=RequestTag.objects.order_by("name"))
    )


def requests_for_view(
    view: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
    *,
    now: dt.datetime | None = None,
) -> QuerySet[Request]:
    """The requests a saved view shows, in the order an agent works them."""
    now = now or timezone.now()
    live = Request.objects.filter(status_in(OPEN_STATUSES))
    user_id = user.pk if user is not None and user.is_authenticated else None
    if view == "mine":
        query = live.filter(assignee_id=user_id).order_by("-last_message_at", "-id")
    elif view == "team":
        team_ids = list(user.teams.values_list("id", flat=True)) if user_id else []  # type: ignore[union-attr]
        query = live.filter(team_id__in=team_ids).order_by("-last_message_at", "-id")
    elif view == "unassigned":
        query = live.filter(assignee__isnull=True).order_by("-last_message_at", "-id")
    elif view == "due_soon":
        query = live.filter(next_due_at__isnull=False, next_due_at__lte=now + DUE_SOON).order_by(
            "next_due_at", "id"
        )
    elif view == "breached":
        query = live.filter(
            Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
        ).order_by("-last_message_at", "-id")
    elif view == "callbacks_due":
        due = Callback.objects.filter(
            request=OuterRef("pk"), done_at__isnull=True, due_at__lte=now + DUE_SOON
        )
        query = Request.objects.filter(Exists(due)).order_by("-last_message_at", "-id")
    elif view == "triage":
        query = live.filter(needs_triage=True).order_by("-last_message_at", "-id")
    elif view == "open":
        query = live.order_by("-last_message_at", "-id")
    elif view == "all":
        query = Request.objects.order_by("-last_message_at", "-id")
    else:
        raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
    return _list_shape(query)


def request_detail(request_id: int) -> Request:
    return (
        _list_shape(Request.objects.all())
        .select_related("linked_from", "merged_into", "sla_policy")
        .get(pk=request_id)
    )


def thread(request: Request, *, include_notes: bool = True) -> QuerySet[RequestMessage]:
    messages = (
        RequestMessage.objects.filter(request=request)
        .select_related("author")
        .prefetch_related("attachments")
    )
    if not include_notes:
        messages = messages.exclude(direction=Direction.NOTE)
    return messages.order_by("created_at", "id")


def customer_requests(customer_id: int, *, open_only: bool = False) -> QuerySet[Request]:
    query = Request.objects.filter(customer_id=customer_id)
    if open_only:
        query = query.filter(status__in=OPEN_STATUSES)
    return _list_shape(query.order_by("-last_message_at", "-id"))


def open_callbacks(*, owner_id: int | None = None, overdue_only: bool = False) -> QuerySet[Callback]:
    query = Callback.objects.filter(done_at__isnull=True).select_related("request", "customer", "owner")
    if owner_id is not None:
        query = query.filter(owner_id=owner_id)
    if overdue_only:
        query = query.filter(due_at__lt=timezone.now())
    return query.order_by("due_at", "id")


def unread_notifications(user_id: int) -> QuerySet[StaffNotification]:
    return StaffNotification.objects.filter(user_id=user_id, read_at__isnull=True).select_related("request")
