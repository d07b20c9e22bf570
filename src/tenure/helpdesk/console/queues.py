"""The console's saved views: which requests (or call-backs) each shows, in what order, one page at a time.

Pages are fetched with LIMIT/OFFSET and one extra row to know whether there is a next page, so no
view ever counts 100,000 rows to draw 50. Every row's customer, assignee and department come in the
same query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Q, QuerySet
from django.utils import timezone

from tenure.helpdesk.console.access import scope, team_ids
from tenure.helpdesk.models import OPEN_STATUSES, Callback, Request, Status
from tenure.helpdesk.selectors import status_in

PAGE_SIZE = 50
# Tab counts stop here (the tab shows "999+").
COUNT_CAP = 1000
DUE_SOON = dt.timedelta(hours=4)
RUNNING = (Status.NEW, Status.OPEN)


@dataclass(frozen=True)
class View:
    slug: str
    label: str
    help: str


VIEWS = (
    View("mine", "Mine", "open requests assigned to you"),
    View("team", "My teams", "open requests of your teams"),
    View("unassigned", "Unassigned", "open requests nobody owns yet"),
    View("due-soon", "Due soon", f"an SLA deadline within {int(DUE_SOON.total_seconds() // 3600)} hours"),
    View("breached", "Breached", "open requests past an SLA deadline"),
    View("callbacks", "Call-backs due", "promised call-backs due now or overdue"),
    View("triage", "Triage queue", "requests the classifier was not sure about"),
)
VIEW_SLUGS = {view.slug: view for view in VIEWS}


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    number: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def _requests(user: Any, view: str, now: dt.datetime) -> QuerySet[Request]:
    base = Request.objects.filter(scope(user), status_in(OPEN_STATUSES), merged_into__isnull=True)
    if view == "mine":
        return base.filter(assignee_id=user.pk).order_by("-last_message_at", "-id")
    if view == "team":
        return base.filter(team_id__in=team_ids(user)).order_by("-last_message_at", "-id")
    if view == "unassigned":
        return base.filter(assignee__isnull=True).order_by("-last_message_at", "-id")
    if view == "due-soon":
        return base.filter(status_in(RUNNING), next_due_at__lte=now + DUE_SOON).order_by("next_due_at", "id")
    if view == "breached":
        breached = Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False)
        return base.filter(breached).order_by("-last_message_at", "-id")
    if view == "triage":
        return base.filter(needs_triage=True).order_by("-last_message_at", "-id")
    raise ValueError(view)


def _callbacks(user: Any, now: dt.datetime) -> QuerySet[Callback]:
    return (
        Callback.objects.filter(
            scope(user, via="request__"), done_at__isnull=True, due_at__lte=now + DUE_SOON
        )
        .select_related("request", "customer", "owner")
        .order_by("due_at", "id")
    )


def page(user: Any, view: str, number: int = 1, now: dt.datetime | None = None) -> Page:
    """One page of a saved view for `user`; unknown views raise ValueError."""
    now = now or timezone.now()
    number = max(1, number)
    start = (number - 1) * PAGE_SIZE
    if view == "callbacks":
        rows: list[Any] = list(_callbacks(user, now)[start : start + PAGE_SIZE + 1])
    else:
        query = _requests(user, view, now).select_related("customer", "assignee", "department")
        rows = list(query[start : start + PAGE_SIZE + 1])
    return Page(rows[:PAGE_SIZE], number, has_next=len(rows) > PAGE_SIZE)


def _capped_count_sql(query: QuerySet[Any], alias: str) -> tuple[str, list[Any]]:
    """`(SELECT COUNT(*) FROM (<the first COUNT_CAP ids of query>))`; a view that can hold nothing is 0.

    On SQLite the view's order stays in the capped subquery: only then does its planner walk the
    view's own partial index (unordered it chose e.g. the merged_into index and read every request).
    PostgreSQL picks the partial indexes either way and stops at the cap sooner without the sort.
    """
    connection = connections[query.db]
    ordered = query if connection.vendor == "sqlite" else query.order_by()
    capped = ordered.values("id")[:COUNT_CAP]
    try:
        sql, params = capped.query.get_compiler(connection=connection).as_sql()
    except EmptyResultSet:
        return "0", []
    # The SQL is what Django compiled for the view, with its parameters kept apart.
    return f"(SELECT COUNT(*) FROM ({sql}) AS {alias})", list(params)  # noqa: S608


def counts(user: Any, now: dt.datetime | None = None) -> dict[str, int]:
    """How many rows each view holds, capped so a full queue costs no more than a busy one.

    All views are counted in one statement of capped subqueries, one round trip instead of seven.
    """
    now = now or timezone.now()
    parts: list[str] = []
    params: list[Any] = []
    for n, view in enumerate(VIEWS):
        query: QuerySet[Any] = (
            _callbacks(user, now) if view.slug == "callbacks" else _requests(user, view.slug, now)
        )
        sql, view_params = _capped_count_sql(query, f"view_{n}")
        parts.append(sql)
        params.extend(view_params)
    with connections[Request.objects.db].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        numbers = cursor.fetchone()
    return {view.slug: int(number) for view, number in zip(VIEWS, numbers, strict=True)}
