"""Assignment: give each unowned open request to an available agent with room, never beyond capacity.

Strategies: `least_loaded` (fewest open requests, then longest since last assigned) or `round_robin`
(longest since last assigned among those with room). An agent with departments listed (skills) takes
only those; one without takes any. The candidates' profile rows are locked (in primary-key order) while
their loads are counted and the request assigned, so two assigners working at once never push an agent
past `max_open` and never deadlock; requests themselves are claimed with SKIP LOCKED
(core.sweeper.claim_due), so none is assigned twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from tenure.core.services import record_event
from tenure.core.sweeper import claim_due
from tenure.helpdesk.conf import current
from tenure.helpdesk.models import OPEN_STATUSES, AgentProfile, Request

EVENT_SOURCE = "helpdesk"


def open_load(user_id: int) -> int:
    return Request.objects.filter(assignee_id=user_id, status__in=OPEN_STATUSES).count()


def _eligible(request: Request) -> list[int]:
    """Profiles that may take this request (available, active, with the skill), by primary key."""
    return list(
        AgentProfile.objects.filter(available=True, user__is_active=True)
        .filter(Q(departments__isnull=True) | Q(departments=request.department_id))
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )


def _lock_in_order(profile_ids: Sequence[int]) -> list[AgentProfile]:
    """The profiles, locked for this transaction in primary-key order.

    Every assigner locks the whole candidate set in the same order and holds no other profile, so two
    assigners wait for each other at most once and can never deadlock.
    """
    query = AgentProfile.objects.filter(pk__in=profile_ids, available=True).order_by("pk")
    if connection.features.has_select_for_update:
        query = query.select_for_update()
    return list(query)


def _open_loads(user_ids: Sequence[int]) -> dict[int, int]:
    counted = (
        Request.objects.filter(assignee_id__in=user_ids, status__in=OPEN_STATUSES)
        .order_by()
        .values("assignee_id")
        .annotate(n=Count("id"))
    )
    return {row["assignee_id"]: row["n"] for row in counted}


def _best(profiles: Sequence[AgentProfile], loads: dict[int, int]) -> AgentProfile | None:
    """The strategy's choice among the profiles with room, or None."""
    with_room = [p for p in profiles if loads.get(p.user_id, 0) < p.max_open]
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)

    def since(profile: AgentProfile) -> dt.datetime:
        return profile.last_assigned_at or epoch

    if current().assignment_strategy == "round_robin":
        return min(with_room, key=lambda p: (since(p), p.pk), default=None)
    return min(with_room, key=lambda p: (loads.get(p.user_id, 0), since(p), p.pk), default=None)


def try_assign(request: Request, now: dt.datetime) -> bool:
    """Assign to the best agent with room (does not save the request); False when nobody can take it."""
    with transaction.atomic():
        profiles = _lock_in_order(_eligible(request))
        # Counted under the locks: no other assigner can fill these agents until this transaction ends.
        profile = _best(profiles, _open_loads([p.user_id for p in profiles]))
        if profile is not None:
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
    """Try again for the unowned open requests whose retry time has come; returns how many got an agent.

    One request per transaction: an assigner then holds the locks of one request and its candidates at a
    time, which is what keeps concurrent assigners free of deadlocks.
    """
    assigned = 0
    for _ in range(limit):
        with transaction.atomic():
            due = claim_due(
                Request.objects.filter(assignee__isnull=True, status__in=OPEN_STATUSES).select_related(
                    "customer"
                ),
                "assignment_due_at",
                now,
                limit=1,
            )
            if not due:
                break
            request = due[0]
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
