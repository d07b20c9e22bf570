"""Reads for the insights pages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from tenure.customers.models import Lifecycle
from tenure.insights.actions import HIGH_RISK, journey_reason
from tenure.insights.definitions import churn_definition as make_definition
from tenure.insights.models import (
    ChurnModel,
    CustomerScore,
    InsightSnapshot,
    InsightsSettings,
    RetentionTarget,
)
from tenure.insights.spans import Definition
from tenure.journeys.models import Journey
from tenure.journeys.selectors import journey_for_reason


def at_risk(*, min_probability: float = 0.0, search: str = "") -> QuerySet[CustomerScore]:
    """Live customers by churn risk, riskiest first."""
    rows = CustomerScore.objects.filter(
        churn_probability__isnull=False,
        churn_probability__gte=min_probability,
        customer__merged_into__isnull=True,
        customer__lifecycle__in=[Lifecycle.ACTIVE, Lifecycle.LAPSED],
    )
    if search.strip():
        rows = rows.filter(customer__name__icontains=search.strip())
    return rows.select_related("customer", "customer__assigned_rep").order_by(
        "-churn_probability", "customer_id"
    )


@dataclass(frozen=True)
class RiskSummary:
    scored: int
    high_risk: int
    value_at_risk: float


def risk_summary(threshold: float = HIGH_RISK) -> RiskSummary:
    live = at_risk()
    totals = live.aggregate(
        scored=Count("pk"),
        high=Count("pk", filter=Q(churn_probability__gte=threshold)),
        value=Sum("expected_value_12m", filter=Q(churn_probability__gte=threshold)),
    )
    return RiskSummary(
        scored=totals["scored"], high_risk=totals["high"], value_at_risk=float(totals["value"] or 0)
    )


def latest_snapshot(kind: str) -> InsightSnapshot | None:
    return InsightSnapshot.objects.filter(kind=kind).order_by("-computed_at", "-pk").first()


def latest_payloads(kinds: tuple[str, ...]) -> dict[str, dict[str, Any] | None]:
    return {kind: (snapshot.payload if (snapshot := latest_snapshot(kind)) else None) for kind in kinds}


def active_model() -> ChurnModel | None:
    return ChurnModel.objects.filter(is_active=True).order_by("-version").first()


def current_target() -> RetentionTarget | None:
    return RetentionTarget.objects.order_by("-created_at", "-pk").first()


def insights_settings() -> InsightsSettings:
    """The settings row, or the defaults (unsaved) when nobody has set them."""
    return InsightsSettings.objects.filter(pk=1).first() or InsightsSettings(pk=1)


def churn_definition() -> Definition:
    row = insights_settings()
    return make_definition(row.business_model, row.p_alive_threshold)


@dataclass(frozen=True)
class NextStep:
    """What to do for one customer at risk: a journey to enroll them in, or the rule's text for a person."""

    journey: Journey | None
    text: str


def next_steps(scores: Iterable[CustomerScore]) -> dict[int, NextStep]:
    """Per customer on the page: the journey that answers their top reason (one query per reason code),
    else "call them" with the stored action."""
    journeys: dict[str, Journey | None] = {}
    steps = {}
    for score in scores:
        code = journey_reason(score.churn_probability, score.reasons)
        if code is not None and code not in journeys:
            journeys[code] = journey_for_reason(code)
        journey = journeys.get(code) if code else None
        steps[score.customer_id] = NextStep(journey, score.next_best_action or "Call to check in")
    return steps


def score_of(customer_id: int) -> CustomerScore | None:
    return at_risk().filter(customer_id=customer_id).first()
