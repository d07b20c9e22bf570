"""SLA clocks: choose a policy, store deadlines on the request, pause while waiting, warn at 75%, breach once.

Deadlines are counted in business hours (core.business_hours) of the policy's calendar, else the
department team's calendar, else around the clock. A clock stops for good when its milestone is met
(first response, resolution). While the request waits on the customer both clocks pause: on resume the
deadlines move on by exactly the business time that was left when the pause began.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q, prefetch_related_objects
from django.utils import timezone

from tenure.core.business_hours import BusinessHours
from tenure.core.services import record_event
from tenure.core.sweeper import claim_due
from tenure.helpdesk.models import Priority, Request, SlaPolicy, Status
from tenure.helpdesk.notify import leads_of, notify

EVENT_SOURCE = "helpdesk"
WARN_SHARE = 0.75
AROUND_THE_CLOCK = BusinessHours("UTC", {day: [["00:00", "24:00"]] for day in range(7)})
CLOCKS = ("first_response", "resolution")


def choose_policy(request: Request) -> SlaPolicy | None:
    """The most specific active policy matching the request's priority, department and customer tier."""
    tier = request.customer.tier
    candidates = SlaPolicy.objects.filter(active=True).filter(
        Q(priority="") | Q(priority=request.priority),
        Q(department__isnull=True) | Q(department_id=request.department_id),
        Q(tier="") | Q(tier=tier),
    )
    best: SlaPolicy | None = None
    best_key: tuple[int, int, int] | None = None
    for policy in candidates.select_related("calendar"):
        specificity = bool(policy.priority) + bool(policy.department_id) + bool(policy.tier)
        key = (-specificity, policy.position, policy.pk)
        if best_key is None or key < best_key:
            best, best_key = policy, key
    return best


def hours_for(request: Request) -> BusinessHours:
    policy = request.sla_policy
    calendar = policy.calendar if policy is not None and policy.calendar_id else None
    if calendar is None and request.department_id and request.department and request.department.team_id:
        calendar = request.department.team.calendar if request.department.team else None
    if calendar is None and request.team_id and request.team:
        calendar = request.team.calendar
    return BusinessHours.from_calendar(calendar) if calendar is not None else AROUND_THE_CLOCK


def refresh(request: Request) -> None:
    """Recompute `next_due_at` and the sweeper's `sla_check_at` from the clocks still running."""
    running = request.status in (Status.NEW, Status.OPEN) and request.sla_paused_at is None
    pending: list[dt.datetime] = []
    due: list[dt.datetime] = []
    if running and request.first_response_at is None and request.first_response_due:
        due.append(request.first_response_due)
        if request.first_response_breached_at is None:
            pending.append(request.first_response_due)
        if request.first_response_warn_at:
            pending.append(request.first_response_warn_at)
    if running and request.resolution_due:
        due.append(request.resolution_due)
        if request.resolution_breached_at is None:
            pending.append(request.resolution_due)
        if request.resolution_warn_at:
            pending.append(request.resolution_warn_at)
    request.next_due_at = min(due) if due else None
    request.sla_check_at = min(pending) if pending else None


def apply_policy(request: Request, start: dt.datetime, *, clocks: tuple[str, ...] = CLOCKS) -> None:
    """Set the deadlines of `clocks` from `start` (does not save)."""
    request.sla_policy = choose_policy(request)
    policy = request.sla_policy
    if policy is None:
        for clock in clocks:
            setattr(request, f"{clock}_due", None)
            setattr(request, f"{clock}_warn_at", None)
        refresh(request)
        return
    hours = hours_for(request)
    for clock in clocks:
        target = dt.timedelta(minutes=getattr(policy, f"{clock}_minutes"))
        setattr(request, f"{clock}_due", hours.add(start, target))
        setattr(request, f"{clock}_warn_at", hours.add(start, target * WARN_SHARE))
        setattr(request, f"{clock}_breached_at", None)
    refresh(request)


def pause(request: Request, now: dt.datetime) -> None:
    if request.sla_paused_at is None:
        request.sla_paused_at = now
    refresh(request)


def resume(request: Request, now: dt.datetime) -> None:
    """Move every unmet deadline on by the business time that was left when the clock paused."""
    paused_at = request.sla_paused_at
    request.sla_paused_at = None
    if paused_at is not None and request.sla_policy_id:
        hours = hours_for(request)
        for field in ("first_response_due", "first_response_warn_at", "resolution_due", "resolution_warn_at"):
            deadline = getattr(request, field)
            if deadline is None or deadline <= paused_at:
                continue
            left = hours.business_time_between(paused_at, deadline)
            setattr(request, field, hours.add(now, left))
    refresh(request)


def _warn(request: Request, clock: str, now: dt.datetime) -> None:
    due = getattr(request, f"{clock}_due")
    label = clock.replace("_", " ")
    text = f"{request.reference}: {label} due {due:%Y-%m-%d %H:%M} UTC (75% of the target used)"
    notify(
        [request.assignee, *leads_of(request)],
        kind="sla.warning",
        request=request,
        text=text,
        key=f"sla_warning:{request.pk}:{clock}:{due.isoformat()}",
    )
    setattr(request, f"{clock}_warn_at", None)


def _breach(request: Request, clock: str, now: dt.datetime) -> None:
    """Record the breach once, raise the priority to urgent and tell the assignee and the lead."""
    due = getattr(request, f"{clock}_due")
    setattr(request, f"{clock}_breached_at", now)
    setattr(request, f"{clock}_warn_at", None)
    leads = leads_of(request)
    escalated = request.priority != Priority.URGENT
    request.priority = Priority.URGENT
    record_event(
        customer_id=request.customer_id,
        kind="request.sla_breached",
        occurred_at=due,
        channel=request.channel,
        actor="system",
        source=EVENT_SOURCE,
        idempotency_key=f"sla_breached:{request.pk}:{clock}",
        payload={
            "request": request.reference,
            "request_id": request.pk,
            "department": request.department.slug if request.department else None,
            "clock": clock,
            "due": due.isoformat(),
            "escalated_to": [user.get_username() for user in leads],
            "priority_raised": escalated,
        },
    )
    notify(
        [request.assignee, *leads],
        kind="sla.breach",
        request=request,
        text=f"{request.reference}: {clock.replace('_', ' ')} target missed (was due {due:%Y-%m-%d %H:%M} UTC)",
        key=f"sla_breach:{request.pk}:{clock}",
    )


def check(request: Request, now: dt.datetime) -> None:
    """Warn and breach whatever is due on this request, then move its timer on (does not save)."""
    if request.status in (Status.NEW, Status.OPEN) and request.sla_paused_at is None:
        for clock in CLOCKS:
            if clock == "first_response" and request.first_response_at is not None:
                continue
            warn_at = getattr(request, f"{clock}_warn_at")
            due = getattr(request, f"{clock}_due")
            if due is not None and due <= now and getattr(request, f"{clock}_breached_at") is None:
                _breach(request, clock, now)
            elif warn_at is not None and warn_at <= now:
                _warn(request, clock, now)
    refresh(request)


def sweep(now: dt.datetime) -> int:
    with transaction.atomic():
        # Nullable relations are prefetched: PostgreSQL cannot lock the outer side of a join.
        due = claim_due(Request.objects.select_related("customer"), "sla_check_at", now)
        prefetch_related_objects(due, "department__lead", "assignee")
        for request in due:
            check(request, now)
            request.save(
                update_fields=[
                    "priority",
                    "first_response_warn_at",
                    "resolution_warn_at",
                    "first_response_breached_at",
                    "resolution_breached_at",
                    "next_due_at",
                    "sla_check_at",
                ]
            )
    return len(due)


def met(request: Request, clock: str) -> bool | None:
    """Whether a clock's target was met; None while it still runs or with no target."""
    due = getattr(request, f"{clock}_due")
    done = request.first_response_at if clock == "first_response" else request.resolved_at
    if due is None:
        return None
    if getattr(request, f"{clock}_breached_at") is not None:
        return False
    if done is None:
        return None if timezone.now() < due else False
    return done <= due
