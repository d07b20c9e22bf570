"""Scoring the demo company end to end: backtest, model stored as data, scores for every live customer,
reasons in words, customer value, failed runs that change nothing, and the nightly schedule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from tenure.core.models import AuditLog
from tenure.customers.models import Customer
from tenure.demo.generator import build_company, existing_demo, remove_demo
from tenure.insights import churn
from tenure.insights.extract import extract_from_database
from tenure.insights.features import build_features
from tenure.insights.models import ChurnModel, CustomerScore
from tenure.insights.scoring import score_customers
from tenure.insights.tasks import ensure_nightly_scoring, next_run, nightly_scoring, schedule_nightly_scoring

END = dt.datetime(2026, 6, 1, 6, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def demo_company(django_db_setup: None, django_db_blocker: Any) -> Iterator[dt.datetime]:
    """One demo company for the module (building it takes a while); each test's own writes roll back."""
    with django_db_blocker.unblock():
        build_company(seed=11, customers=900, months=15, end=END, present=False)
    yield END
    with django_db_blocker.unblock():
        marker = existing_demo()
        assert marker is not None
        remove_demo(marker)
        AuditLog.objects.filter(object_type="demo").delete()


@pytest.fixture
def demo(demo_company: dt.datetime, db: None) -> dt.datetime:
    return demo_company


def _snapshot() -> list[tuple[Any, ...]]:
    return list(
        CustomerScore.objects.order_by("customer_id").values_list(
            "customer_id", "churn_probability", "model_id"
        )
    )


def test_too_little_history_scores_nobody(db: None) -> None:
    """Runs before the module's demo is built (no customers at all)."""
    with pytest.raises(churn.ChurnDataError, match="not enough history to score"):
        score_customers(END)
    assert not CustomerScore.objects.exists() and not ChurnModel.objects.exists()
    # The nightly task says why it skipped and keeps the chain going.
    outcome = nightly_scoring.call()
    assert "not enough history to score" in outcome["skipped"]
    assert (
        DBTaskResult.objects.filter(
            task_path=nightly_scoring.module_path, status=TaskResultStatus.READY
        ).count()
        == 1
    )


def test_next_run_is_the_next_scoring_hour_in_business_time(settings: Any) -> None:
    settings.TIME_ZONE = "America/Chicago"
    at = dt.datetime(2026, 3, 7, 1, 30, tzinfo=dt.UTC)  # 19:30 on the 6th in Chicago
    assert next_run(at) == dt.datetime(2026, 3, 7, 8, 0, tzinfo=dt.UTC)  # 02:00 CST
    assert next_run(dt.datetime(2026, 3, 7, 8, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 3, 8, 8, 0, tzinfo=dt.UTC
    )


def test_the_nightly_chain_is_started_once(db: None) -> None:
    now = timezone.now()
    assert ensure_nightly_scoring(now) == 1
    assert ensure_nightly_scoring(now) == 0
    assert not schedule_nightly_scoring(now=now)
    waiting = DBTaskResult.objects.get(task_path=nightly_scoring.module_path)
    assert waiting.status == TaskResultStatus.READY
    assert waiting.run_after == next_run(now)
    assert np.isclose((waiting.run_after - now).total_seconds() / 3600, 12, atol=12)


def test_demo_backtest_beats_chance_without_leakage(demo: dt.datetime) -> None:
    result = churn.backtest(extract_from_database())
    # The demo's customers leave after bad experiences; the timeline shows them.
    assert result.metrics["auc"] > 0.6
    assert result.metrics["top_decile_lift"] > 1.5
    assert result.metrics["positives"] >= churn.MIN_TEST_EACH
    for train_date in result.train_dates:
        assert train_date + dt.timedelta(days=result.horizon_days) <= result.test_date


def test_scoring_stores_a_model_and_scores_every_live_customer(demo: dt.datetime) -> None:
    now = demo
    result = score_customers(now)
    assert result.trained and result.model_version == 1

    model = ChurnModel.objects.get()
    assert model.is_active and model.algorithm == "lightgbm"
    assert model.model_text.startswith("tree")  # LightGBM's own text format, not a pickle
    assert model.features == list(build_features(extract_from_database(), now).columns[1:])
    assert model.calibration["method"] in {"platt", "isotonic"}
    assert model.metrics["backtest"]["auc"] > 0.6
    assert model.training["horizon_days"] == churn.HORIZON_DAYS

    live = Customer.objects.exclude(lost_at__lt=now).exclude(created_at__gte=now)
    assert result.scored == CustomerScore.objects.count() > 0
    assert set(CustomerScore.objects.values_list("customer_id", flat=True)) <= set(
        live.values_list("pk", flat=True)
    )
    scores = list(CustomerScore.objects.all())
    assert all(0 <= s.churn_probability <= 1 and s.model_id == model.pk for s in scores)
    assert (
        len({round(s.churn_probability, 6) for s in scores}) > len(scores) // 4
    )  # a ranking, not a few buckets
    risky = max(scores, key=lambda s: s.churn_probability or 0)
    assert 1 <= len(risky.reasons) <= churn.REASONS
    assert all(r["text"] and r["weight"] > 0 for r in risky.reasons)
    assert risky.next_best_action
    assert result.clv_note == "" and all(s.p_alive is not None for s in scores if s.expected_value_12m)

    # The stored row alone (booster text + calibration numbers) reproduces the scores.
    loaded = churn.LoadedModel.from_row(ChurnModel.objects.get())
    features = build_features(extract_from_database(), demo)
    probabilities = loaded.predict(features)
    stored = dict(CustomerScore.objects.values_list("customer_id", "churn_probability"))
    expected = {int(c): float(p) for c, p in zip(features["customer_id"], probabilities, strict=True)}
    assert stored == pytest.approx(expected)


def test_second_run_reuses_the_model_and_retrain_adds_a_version(demo: dt.datetime) -> None:
    score_customers(demo)
    gone = CustomerScore.objects.order_by("customer_id").first()
    assert gone is not None
    Customer.objects.filter(pk=gone.customer_id).update(
        lifecycle="lost", lost_at=demo + dt.timedelta(minutes=1)
    )
    again = score_customers(demo + dt.timedelta(hours=1))
    assert not again.trained and again.model_version == 1
    assert again.removed == 1  # the customer lost since the last run is no longer scored
    assert not CustomerScore.objects.filter(customer_id=gone.customer_id).exists()
    retrained = score_customers(demo + dt.timedelta(hours=2), retrain=True)
    assert retrained.trained and retrained.model_version == 2
    assert list(ChurnModel.objects.filter(is_active=True).values_list("version", flat=True)) == [2]
    assert set(CustomerScore.objects.values_list("model__version", flat=True)) == {2}


def test_a_failed_run_changes_nothing(demo: dt.datetime) -> None:
    score_customers(demo)
    before, models = _snapshot(), list(ChurnModel.objects.values_list("version", "is_active"))
    too_little = extract_from_database()
    keep = too_little.customers.slice(0, 41)
    ids = keep["customer_id"]
    small = churn.TimelineExtract(
        events=too_little.events.filter(pc.is_in(too_little.events["customer_id"], ids)), customers=keep
    )
    with pytest.raises(churn.ChurnDataError, match=r"not enough history to score: \d+ customers, need 200"):
        score_customers(demo + dt.timedelta(hours=1), retrain=True, extract=small)
    assert _snapshot() == before
    assert list(ChurnModel.objects.values_list("version", "is_active")) == models
