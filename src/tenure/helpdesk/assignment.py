"""Assignment: give each unowned open request to an available agent with room, never beyond capacity.

Strategies: `least_loaded` (fewest open requests, then longest since last assigned) or `round_robin`
(longest since last assigned among those with room). An agent with departments listed (skills) takes
only those; one without takes any. The chosen agent's profile row is locked while their load is counted
and the request assigned, so two assigners working at once never push an agent past `max_open`;
requests themselves are claimed with SKIP LOCKED (core.sweeper.claim_due), so none is assigned twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenure.core.services import record_event
from tenure.core.sweeper import claim_due
from tenure.helpdesk.conf import current
from tenure.helpdesk.models import OPEN_STATUSES, AgentProfile, Request

EVENT_SOURCE = "helpdesk"


def open_load(user_id: int) -> int:
    return Request.objects.filter(assignee_id=user_id, status__in=OPEN_STATUSES).count()


def _candidates(request: Request) -> Sequence[AgentProfile]:
    # Open load per agent as an index-backed subquery (assignee, status), not a join over their history.
    open_requests = (
        Request.objects.filter(assignee_id=OuterRef("user_id"), status__in=OPEN_STATUSES)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    profiles = (
        AgentProfile.objects.filter(available=True, user__is_active=True)
        .filter(Q(departments__isnull=True) | Q(departments=request.department_id))
        .annotate(load=Coalesce(Subquery(open_requests), 0))
        .distinct()
    )
    rows = [p for p in profiles if p.load < p.max_open]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)

    def since(profile: AgentProfile) -> dt.datetime:
        return profile.last_assigned_at or epoch

    if current().assignment_strategy == "round_robin":
        rows.sort(key=lambda p: (since(p), p.pk))
    else:
        rows.sort(key=lambda p: (p.load, since(p), p.pk))
    return rows


def _lock_profile(profile_id: int) -> AgentProfile | None:
    query = AgentProfile.objects.filter(pk=profile_id, available=True)
    if connection.features.has_select_for_update:
        query = query.select_for_update()
    return query.first()


def try_assign(request: Request, now: dt.datetime) -> bool:
    """Assign to the best agent with room (does not save the request); False when nobody can take it."""
    with transaction.atomic():
        for candidate in _candidates(request):
            profile = _lock_profile(candidate.pk)
            # Counted again under the lock: another assigner may have filled this agent meanwhile.
            if profile is None or open_load(profile.user_id) >= profile.max_open:
                continue
            profile.last_assigned_at = now
            profile.save(update_fields=["last_assigned_at"])
            request.assignee_id = profile.user_id
            request.assignment_due_at = None
            record_event(
                customer_id=request.customer_id,
                kind="request.assigned",
                occurred_at=now,
                channel=request.channel,
                actor="system",
                source=EVENT_SOURCE,
                payload={
                    "request": request.reference,
                    "request_id": request.pk,
                    "assignee": profile.user.get_username(),
                    "automatic": True,
                },
            )
            return True
    request.assignment_due_at = now + dt.timedelta(seconds=current().assignment_retry_seconds)
    return False


def sweep(now: dt.datetime, limit: int = 100) -> int:
    """Try again for the unowned open requests whose retry time has come; returns how many got an agent."""
    assigned = 0
    with transaction.atomic():
        due = claim_due(
            Request.objects.filter(assignee__isnull=True, status__in=OPEN_STATUSES).select_related(
                "customer"
            ),
            "assignment_due_at",
            now,
            limit=limit,
        )
        for request in due:
            if try_assign(request, now):
                assigned += 1
                request.save(update_fields=["assignee", "assignment_due_at"])
            else:
                # Only push the retry on: never write a stale "unassigned" over an owner set meanwhile.
                Request.objects.filter(pk=request.pk, assignee__isnull=True).update(
                    assignment_due_at=request.assignment_due_at
                )
    return assigned


def retry_unassigned_now() -> int:
    """Make every unowned open request due for assignment now (e.g. when an agent becomes available)."""
    return Request.objects.filter(
        assignee__isnull=True, status__in=OPEN_STATUSES, merged_into__isnull=True
    ).update(assignment_due_at=timezone.now())
