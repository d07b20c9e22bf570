"""Who may use the console and which requests each agent sees.

Agents see requests assigned to them, to their teams, or not yet given to any team; managers and admins
(`helpdesk.manage_helpdesk`) see everything. Technicians and dispatchers have no console at all.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from tenure.helpdesk.models import Request

VIEW = "helpdesk.view_request"
WORK = "helpdesk.work_request"
MANAGE = "helpdesk.manage_helpdesk"


def may_use_console(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.has_perm(VIEW))


def team_ids(user: Any) -> list[int]:
    cached = getattr(user, "_console_team_ids", None)
    if cached is None:
        cached = list(user.teams.values_list("id", flat=True))
        user._console_team_ids = cached
    return list(cached)


def scope(user: Any, via: str = "") -> Q:
    """The requests this user may open, as a filter; `via` reaches the request from another model."""
    if user.has_perm(MANAGE):
        return Q()
    return (
        Q(**{f"{via}assignee_id": user.pk})
        | Q(**{f"{via}team_id__in": team_ids(user)})
        | Q(**{f"{via}team__isnull": True})
    )


def visible_requests(user: Any) -> QuerySet[Request]:
    return Request.objects.filter(scope(user))


def may_view_request(user: Any, request_id: int) -> bool:
    return may_use_console(user) and visible_requests(user).filter(pk=request_id).exists()
