"""Churn features: exact values on a hand-built timeline, no leakage, labels, wording, and the demo company."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from tenure.demo.generator import build_company
from tenure.insights.extract import (
    CUSTOMERS_SCHEMA,
    TimelineExtract,
    events_table,
    extract_from_database,
    save_extract,
)
from tenure.insights.features import (
    FEATURE_NAMES,
    FEATURES,
    build_features,
    build_features_from_parquet,
    churn_labels,
    describe,
)

AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 1, 15, tzinfo=dt.UTC)


def ago(days: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=days)


def ev(
    customer: int,
    kind: str,
    days_ago: float,
    channel: str | None = None,
    ref: str | None = None,
    **values: Any,
) -> tuple[Any, ...]:
    numbers = [
        values.get(name)
        for name in ("amount", "nps", "csat", "response_hours", "minutes_late", "hours_waiting")
    ]
    return (customer, kind, ago(days_ago), channel, *numbers, values.get("department"), ref)


def customers(*rows: tuple[int, dt.datetime, dt.datetime | None, str]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "customer_id": pk,
                "joined_at": joined,
                "lifecycle": "active",
                "lost_at": lost,
                "lost_reason": None,
                "kind": kind,
            }
            for pk, joined, lost, kind in rows
        ],
        schema=CUSTOMERS_SCHEMA,
    )


# Customer 1 has a full history; 2 joined and did nothing; 3 was lost before as_of; 4 joins after it.
TIMELINE = [
    ev(1, "customer.created", 400),
    ev(1, "order.placed", 380, "phone", "O1", amount=1000.0),
    ev(1, "order.placed", 60, "web", "O2", amount=200.0),
    ev(1, "order.placed", 10, "web", "O3", amount=300.0),
    ev(1, "job.completed", 59, "in_person", "J2"),
    ev(1, "job.late", 59, ref="J2", minutes_late=40.0),
    ev(1, "job.completed", 9, "in_person", "J3"),
    ev(1, "job.missed", 12, ref="J3"),
    ev(1, "appointment.window_missed", 9, minutes_late=75.0),
    ev(1, "request.received", 100, "email", "R1", department="billing"),
    ev(1, "request.answered", 98, "email", "R1", response_hours=48.0),
    ev(1, "request.received", 20, "phone", "R2", department="complaint"),  # never answered
    ev(1, "request.callback", 18, "phone", "R2", hours_waiting=48.0),
    ev(1, "request.callback", 15, "phone", "R2", hours_waiting=120.0),
    ev(1, "request.received", 5, "sms", "R3", department="service"),
    ev(1, "request.answered", 4, "sms", "R3", response_hours=30.0),
    ev(1, "request.received", 2, "chat", "R4", department="service"),
    ev(1, "request.answered", -1, "chat", "R4", response_hours=72.0),  # answered after as_of: open at as_of
    ev(1, "survey.answered", 200, "email", nps=9.0, csat=5.0),
    ev(1, "survey.answered", 50, "email", nps=4.0, csat=2.0),
    ev(1, "survey.answered", 8, "sms", nps=6.0, csat=3.0),
    ev(1, "payment.late", 30, amount=200.0),
    ev(1, "plan.renewed", 100, amount=189.0),
    ev(1, "message.sent", 3, "email"),
    ev(2, "customer.created", 45),
    ev(3, "customer.created", 300),
    ev(3, "request.received", 250, "email", "R9", department="general"),
    ev(4, "customer.created", -5),
]
PEOPLE = customers(
    (1, ago(400), None, "person"),
    (2, ago(45), ago(-30), "company"),  # lost 30 days after as_of
    (3, ago(300), ago(200), "person"),
    (4, ago(-5), None, "person"),
)


def extract(rows: list[tuple[Any, ...]] = TIMELINE) -> TimelineExtract:
    return TimelineExtract(events=events_table(rows), customers=PEOPLE)


def test_feature_values_on_a_hand_built_timeline() -> None:
    table = build_features(extract(), AS_OF)
    assert table.columns == ["customer_id", *FEATURE_NAMES]
    assert table["customer_id"].to_list() == [1, 2]  # 3 was lost before, 4 had not joined
    one, two = table.to_dicts()
    expected = {
        "tenure_days": 400.0,
        "is_company": 0.0,
        "orders_90d": 2.0,
        "orders_365d": 2.0,
        "days_since_last_order": 10.0,
        "order_value_365d": 500.0,
        "avg_order_value": 500.0,
        "requests_30d": 3.0,
        "requests_90d": 3.0,
        "complaints_90d": 1.0,
        "unanswered_requests_30d": 2.0,  # R2 never, R4 only after as_of
        "unanswered_requests_365d": 2.0,
        "unanswered_share_365d": 0.5,
        "slow_answers_90d": 1.0,  # R3 after 30 h; R1's answer is 98 days old
        "max_response_hours_90d": 30.0,
        "callbacks_30d": 2.0,
        "callbacks_90d": 2.0,
        "jobs_365d": 2.0,
        "late_jobs_90d": 1.0,
        "late_jobs_365d": 1.0,
        "late_share_365d": 0.5,
        "max_minutes_late_90d": 75.0,
        "missed_jobs_365d": 1.0,
        "window_misses_90d": 1.0,
        "not_fixed_365d": 0.0,
        "surveys_365d": 3.0,
        "low_scores_365d": 2.0,
        "last_nps": 6.0,
        "mean_nps_365d": pytest.approx(19 / 3),
        "min_nps_365d": 4.0,
        "last_csat": 3.0,
        "mean_csat_365d": pytest.approx(10 / 3),
        "min_csat_365d": 2.0,
        "days_since_two_way_contact": 4.0,  # R3's answer
        "days_since_customer_contact": 2.0,  # R4 received
        "messages_90d": 1.0,
        "late_payments_365d": 1.0,
        "renewals_365d": 1.0,
        "plan_value": 189.0,
        "share_phone_365d": 0.25,
        "share_email_365d": 0.25,
        "share_sms_365d": 0.25,
        "share_chat_365d": 0.25,
        "share_web_365d": 0.0,
    }
    assert {name: one[name] for name in expected} == expected
    # A customer with nothing but their creation: zero counts, tenure as "days since", no survey.
    assert two["tenure_days"] == 45.0 and two["is_company"] == 1.0
    assert two["days_since_last_order"] == two["days_since_two_way_contact"] == 45.0
    assert two["orders_365d"] == two["unanswered_requests_30d"] == two["avg_order_value"] == 0.0
    assert math.isnan(two["last_nps"]) and math.isnan(two["mean_csat_365d"])
    assert all(isinstance(value, float) for value in two.values() if not isinstance(value, int))


def test_an_event_after_as_of_changes_nothing() -> None:
    before = build_features(extract(), AS_OF)
    later = [
        ev(1, "request.received", -0.001, "phone", "R7", department="complaint"),
        ev(1, "job.late", -3, minutes_late=500.0),
        ev(1, "survey.answered", -2, nps=0.0, csat=1.0),
        ev(1, "request.answered", -0.5, "chat", "R2", response_hours=500.0),  # answers R2, but too late
        ev(2, "order.placed", -1, amount=99.0),
        ev(2, "plan.changed", 0, amount=50.0),  # exactly at as_of is not before it
    ]
    after = build_features(extract(TIMELINE + later), AS_OF)
    assert after.equals(before, null_equal=True)
    # ...while the same event one second earlier does count.
    earlier = build_features(extract([*TIMELINE, ev(2, "plan.changed", 1 / 86400, amount=50.0)]), AS_OF)
    assert earlier.filter(customer_id=2)["plan_value"].item() == 50.0


def test_features_from_parquet_match_the_in_memory_ones(tmp_path: Path) -> None:
    save_extract(extract(), tmp_path)
    assert build_features_from_parquet(tmp_path, AS_OF).equals(
        build_features(extract(), AS_OF), null_equal=True
    )


def test_churn_labels_cover_the_same_customers() -> None:
    labels = churn_labels(extract(), AS_OF, horizon_days=90)
    assert labels.to_dicts() == [{"customer_id": 1, "churned": 0}, {"customer_id": 2, "churned": 1}]
    assert churn_labels(extract(), AS_OF, horizon_days=30)["churned"].to_list() == [0, 0]  # lost on day 30
    with pytest.raises(ValueError, match="horizon_days"):
        churn_labels(extract(), AS_OF, horizon_days=0)


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        build_features(extract(), dt.datetime(2026, 6, 1))


def test_describe_says_it_in_plain_words() -> None:
    assert describe("unanswered_requests_30d", 3) == "3 unanswered requests in the last 30 days"
    assert describe("unanswered_requests_30d", 1) == "1 unanswered request in the last 30 days"
    assert describe("days_since_two_way_contact", 214.4) == "no two-way contact for 214 days"
    assert describe("late_jobs_90d", 2) == "2 late arrivals in the last 90 days"
    assert describe("orders_90d", 0) == "no orders in the last 90 days"
    assert describe("mean_nps_365d", 6.333) == "average NPS 6.3 in the last year"
    assert describe("last_nps", math.nan) == "never answered a survey"
    assert describe("order_value_365d", 12345.6) == "orders worth 12,346 in the last year"
    assert describe("share_phone_365d", 0.25) == "25% of requests by phone in the last year"
    assert describe("is_company", 0) == "a household customer"
    with pytest.raises(KeyError):
        describe("no_such_feature", 1)
    for spec in FEATURES:  # every template renders for typical values
        for value in (0.0, 1.0, 2.5, math.nan):
            assert describe(spec.name, value)
    departments = {spec.name: spec.department for spec in FEATURES}
    assert departments["late_jobs_90d"] == "field" and departments["late_payments_365d"] == "billing"


@pytest.mark.django_db
def test_demo_company_features_point_at_the_failures_that_drive_churn() -> None:
    build_company(seed=11, customers=600, months=18, end=END, present=False)
    timeline = extract_from_database()
    as_of = END - dt.timedelta(days=180)
    table = build_features(timeline, as_of).join(churn_labels(timeline, as_of, 180), on="customer_id")
    assert table.height > 300
    assert not table.select(FEATURE_NAMES[:10]).null_count().sum_horizontal().item()
    failures = (
        "unanswered_requests_365d",
        "callbacks_90d",
        "late_jobs_365d",
        "missed_jobs_365d",
        "low_scores_365d",
    )
    means = table.with_columns(failures=sum(pl.col(name) for name in failures)).group_by("churned").mean()
    stayed, left = means.sort("churned").to_dicts()
    # The demo company loses customers after unanswered requests, call-backs, late jobs and low scores:
    # those who leave within the horizon had clearly more of them beforehand.
    assert left["failures"] > 1.3 * stayed["failures"], (left["failures"], stayed["failures"])


def test_helpdesk_follow_up_replies_count_as_contact() -> None:
    """helpdesk writes request.replied for answers after the first and request.customer_replied when the
    customer writes again on an open request."""
    later = [
        ev(2, "request.customer_replied", 10, "email", "R9"),
        ev(2, "request.replied", 3, "email", "R9"),
    ]
    two = build_features(extract(TIMELINE + later), AS_OF).filter(customer_id=2).to_dicts()[0]
    assert two["days_since_two_way_contact"] == 3.0
    assert two["days_since_customer_contact"] == 10.0
