"""Refreshing the insight snapshots from a real (demo) timeline, and the dashboard that shows them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tenure.demo.generator import build_company
from tenure.insights.models import InsightSnapshot, RetentionTarget
from tenure.insights.services import SNAPSHOT_KINDS, refresh_snapshots

pytestmark = pytest.mark.django_db
END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


@pytest.fixture
def company() -> None:
    build_company(seed=3, customers=400, months=12, end=END, present=False)
    RetentionTarget.objects.create(
        baseline_annual_churn=0.32,
        target_annual_churn=0.05,
        start_date=dt.date(2026, 1, 1),
        target_date=dt.date(2028, 1, 1),
    )


def test_refresh_stores_every_report_and_the_dashboard_draws_them(
    company: None, client_as: Callable[[str], Client], django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    result = refresh_snapshots(now=END)
    assert result.computed == list(SNAPSHOT_KINDS) and not result.failed
    retention = InsightSnapshot.objects.get(kind="retention").payload
    assert 0.1 < retention["churn"]["trailing_12m"] < 0.6
    assert retention["target"]["baseline"] == 0.32

    manager = client_as("manager")
    with django_assert_max_num_queries(12):
        page = manager.get("/insights/")
    body = page.content.decode()
    assert page.status_code == 200
    for section in (
        'id="churn"',
        'id="drivers"',
        'id="scorecard"',
        'id="survival"',
        "Annual churn against the path",
    ):
        assert section in body
    assert body.count("<svg") >= 5


def test_refresh_keeps_a_few_snapshots_of_each_kind(company: None) -> None:
    for _ in range(6):
        refresh_snapshots(now=END)
    for kind in SNAPSHOT_KINDS:
        assert InsightSnapshot.objects.filter(kind=kind).count() == 5


def test_a_report_that_cannot_be_computed_keeps_the_old_one_and_says_why() -> None:
    result = refresh_snapshots(now=END)  # an empty timeline
    assert set(result.computed) | set(result.failed) == set(SNAPSHOT_KINDS)
    for kind, reason in result.failed.items():
        assert reason, kind
        assert not InsightSnapshot.objects.filter(kind=kind).exists()
