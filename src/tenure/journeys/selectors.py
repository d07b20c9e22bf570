"""Reads for journey pages, the customer page, the API and other apps."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Count, Q, QuerySet

from tenure.customers.models import Customer
from tenure.journeys.builtins import JOURNEY_FOR_REASON
from tenure.journeys.models import Enrollment, EnrollmentState, Journey, MessageTemplate, StepRun, Task


@dataclass(frozen=True)
class JourneyRow:
    journey: Journey
    trigger: str
    active: int
    enrolled: int
    failed: int


def describe_trigger(journey: Journey) -> str:
    if journey.trigger == "event":
        return f"on {journey.trigger_kind}"
    if journey.trigger == "date":
        offset = journey.trigger_offset_days
        when = "on" if offset == 0 else f"{abs(offset)} days {'before' if offset < 0 else 'after'}"
        return f"{when} {journey.trigger_kind.replace('_', ' ')}"
    return "enrolled by staff or a broadcast"


def journey_rows() -> list[JourneyRow]:
    journeys = Journey.objects.annotate(
        n_active=Count("enrollments", filter=Q(enrollments__state=EnrollmentState.ACTIVE)),
        n_enrolled=Count("enrollments"),
        n_failed=Count("enrollments", filter=Q(enrollments__state=EnrollmentState.FAILED)),
    ).order_by("name", "id")
    return [JourneyRow(j, describe_trigger(j), j.n_active, j.n_enrolled, j.n_failed) for j in journeys]


def journey_by_key(key: str) -> Journey | None:
    return Journey.objects.filter(key=key).first()


def failed_enrollments(journey: Journey, limit: int = 50) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(journey=journey, state=EnrollmentState.FAILED)
        .select_related("customer")
        .order_by("-finished_at", "-id")[:limit]
    )


def recent_enrollments(journey: Journey, limit: int = 50) -> QuerySet[Enrollment]:
    return (
        Enrollment.objects.filter(journey=journey)
        .select_related("customer")
        .order_by("-enrolled_at", "-id")[:limit]
    )


def step_runs(enrollment: Enrollment) -> QuerySet[StepRun]:
    return StepRun.objects.filter(enrollment=enrollment).select_related("message").order_by("ran_at", "id")


@dataclass(frozen=True)
class Upcoming:
    journey: str
    at: dt.datetime
    step: str
    holdout: bool


def upcoming_for_customer(customer: Customer) -> list[Upcoming]:
    """What is scheduled next for a customer: each active enrollment's next step and when."""
    result = []
    for enrollment in (
        Enrollment.objects.filter(customer=customer, state=EnrollmentState.ACTIVE, next_step_at__isnull=False)
        .select_related("journey")
        .order_by("next_step_at", "id")[:20]
    ):
        steps = enrollment.journey.steps
        step = steps[enrollment.position] if enrollment.position < len(steps) else {}
        label = step.get("template") or step.get("title") or step.get("type", "finish")
        at = enrollment.next_step_at
        if at is not None:
            result.append(
                Upcoming(
                    enrollment.journey.name, at, f"{step.get('type', 'end')}: {label}", enrollment.holdout
                )
            )
    return result


def open_tasks(*, owner: User | None = None, customer: Customer | None = None) -> QuerySet[Task]:
    tasks = Task.objects.filter(done_at__isnull=True).select_related("customer", "owner")
    if owner is not None:
        tasks = tasks.filter(Q(owner=owner) | Q(owner__isnull=True))
    if customer is not None:
        tasks = tasks.filter(customer=customer)
    return tasks.order_by("due_at", "id")


def templates() -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.order_by("key", "language")


def preview_context(customer: Customer, template_key: str) -> dict[str, Any]:
    """The context of this customer's latest enrollment in a journey that sends the template, if any."""
    for enrollment in (
        Enrollment.objects.filter(customer=customer).select_related("journey").order_by("-enrolled_at")[:50]
    ):
        if any(step.get("template") == template_key for step in enrollment.journey.steps):
            return dict(enrollment.context)
    return {"event": {}, "event_kind": "preview"}


def journey_for_reason(reason_code: str) -> Journey | None:
    """Next-best-action hook for insights: the active journey that answers a churn reason, if any."""
    key = JOURNEY_FOR_REASON.get(reason_code)
    return Journey.objects.filter(key=key, is_active=True).first() if key else None
