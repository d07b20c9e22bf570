"""Writes of the insights app: one run scores every customer and recomputes the report snapshots."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenure.core.progress import ProgressFn, no_progress
from tenure.core.services import audit
from tenure.insights import selectors
from tenure.insights.churn import ChurnDataError
from tenure.insights.drivers import find_drivers
from tenure.insights.extract import TimelineExtract, extract_from_database
from tenure.insights.models import InsightSnapshot, RetentionTarget
from tenure.insights.retention import progress_against, retention_report
from tenure.insights.scorecard import practice_scorecard
from tenure.insights.scoring import ScoringResult, score_customers
from tenure.journeys.models import Journey
from tenure.journeys.services import enroll_manually

logger = logging.getLogger(__name__)

SNAPSHOT_KINDS = ("retention", "drivers", "scorecard")


@dataclass
class RefreshResult:
    computed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _reports(extract: TimelineExtract, now: dt.datetime) -> dict[str, Callable[[], Any]]:
    target = selectors.current_target()
    definition = selectors.churn_definition()
    return {
        "retention": lambda: retention_report(extract, now, definition, target=target),
        "drivers": lambda: find_drivers(extract, now),
        "scorecard": lambda: practice_scorecard(extract, now),
    }


def refresh_snapshots(
    now: dt.datetime | None = None, extract: TimelineExtract | None = None
) -> RefreshResult:
    """Compute every report from one extract of the timeline; store those that succeed, together.

    A report that cannot be computed (too little history, say) keeps its previous snapshot and says why.
    """
    now = now or timezone.now()
    extract = extract if extract is not None else extract_from_database()
    result = RefreshResult()
    payloads: dict[str, dict[str, Any]] = {}
    for kind, compute in _reports(extract, now).items():
        try:
            payloads[kind] = compute().to_dict()
        except ValueError as error:  # the analytics raise ValueError for data they cannot use
            logger.warning("insights %s not computed: %s", kind, error)
            result.failed[kind] = str(error)
    with transaction.atomic():
        for kind, payload in payloads.items():
            InsightSnapshot.objects.create(kind=kind, payload=payload)
            result.computed.append(kind)
        # Keep the last few of each kind; the pages only read the newest.
        for kind in payloads:
            stale = (
                InsightSnapshot.objects.filter(kind=kind)
                .order_by("-computed_at", "-pk")
                .values_list("pk", flat=True)[5:]
            )
            InsightSnapshot.objects.filter(pk__in=list(stale)).delete()
    return result


@dataclass
class InsightsRun:
    scoring: ScoringResult | None
    scoring_skipped: str  # why nobody was scored (too little history), else ""
    refresh: RefreshResult

    def as_dict(self) -> dict[str, Any]:
        return {
            "scoring": self.scoring.as_dict() if self.scoring else None,
            "skipped": self.scoring_skipped,
            "reports": self.refresh.computed,
            "reports_failed": self.refresh.failed,
        }


def run_insights(
    now: dt.datetime | None = None, *, retrain: bool = False, progress: ProgressFn = no_progress
) -> InsightsRun:
    """Read the timeline once; score customers and refresh every report from that same extract."""
    now = now or timezone.now()
    progress("extract", 0, 1)
    extract = extract_from_database()
    progress("extract", 1, 1)
    try:
        scoring: ScoringResult | None = score_customers(
            now, retrain=retrain, extract=extract, progress=progress
        )
        skipped = ""
    except ChurnDataError as error:
        # Too little history is an expected state for a young install: say so, make up nothing.
        scoring, skipped = None, str(error)
    progress("reports", 0, 1)
    refresh = refresh_snapshots(now, extract)
    progress("reports", 1, 1)
    return InsightsRun(scoring=scoring, scoring_skipped=skipped, refresh=refresh)


def set_retention_target(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    baseline_annual_churn: float,
    target_annual_churn: float,
    start_date: dt.date,
    target_date: dt.date,
) -> RetentionTarget:
    """Store a new target (the newest one counts) and show its progress at once against the last stored
    retention report, so the dashboard need not wait for the nightly run. Raises ValidationError."""
    target = RetentionTarget(
        baseline_annual_churn=baseline_annual_churn,
        target_annual_churn=target_annual_churn,
        start_date=start_date,
        target_date=target_date,
    )
    target.full_clean()
    with transaction.atomic():
        target.save()
        audit(
            actor=actor,
            action="insights.target_set",
            object_type="insights.retentiontarget",
            object_id=target.pk,
            details={
                "baseline": baseline_annual_churn,
                "target": target_annual_churn,
                "by": str(target_date),
            },
        )
        snapshot = selectors.latest_snapshot("retention")
        if snapshot is not None:
            churn = snapshot.payload["churn"]
            progress = progress_against(
                target,
                dt.datetime.fromisoformat(snapshot.payload["as_of"]),
                [(month["month"], month["rate"]) for month in churn["months"]],
                churn["trailing_12m"],
                churn["active_now"],
            )
            snapshot.payload["target"] = progress.to_dict()
            snapshot.save(update_fields=["payload"])
    return target


def enroll_at_risk(*, customer_id: int, actor: User) -> Journey:
    """Put a customer at risk into the journey that answers their top reason. Raises ValidationError
    (nothing changed) when they are not on the at-risk list, no journey answers the reason, or the journey
    refuses them."""
    score = selectors.score_of(customer_id)
    if score is None:
        raise ValidationError({"customer": "not a scored live customer"})
    journey = selectors.next_steps([score])[customer_id].journey
    if journey is None:
        raise ValidationError({"journey": "no active journey answers this customer's reasons: call them"})
    enrollment = enroll_manually(customer=score.customer, journey=journey, by=actor)
    if enrollment is None:
        raise ValidationError({"journey": f"{score.customer.name} is already in {journey.name}"})
    return journey
