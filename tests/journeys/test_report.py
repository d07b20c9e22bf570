"""The holdout report: Wilson/Newcombe intervals against published values, and a journey with known outcomes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.journeys.charts import holdout_chart
from tenure.journeys.models import Enrollment, Journey
from tenure.journeys.reporting import Outcome, horizons, journey_report
from tenure.journeys.stats import newcombe_difference, wilson


def test_wilson_and_newcombe_match_the_published_examples() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10.
    first = newcombe_difference(56, 70, 48, 80)
    assert first is not None
    assert (round(first.low, 4), round(first.high, 4)) == (0.0524, 0.3339)
    second = newcombe_difference(9, 10, 3, 10)
    assert second is not None
    assert (round(second.low, 4), round(second.high, 4)) == (0.1705, 0.8090)
    # Wilson interval for 81/263 (Newcombe 1998, single proportion paper, method 3): 0.2553 to 0.3662.
    single = wilson(81, 263)
    assert single is not None and (round(single.low, 4), round(single.high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 0) is None and newcombe_difference(1, 2, 0, 0) is None


def test_horizons_count_only_enrollments_old_enough() -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    old = now - dt.timedelta(days=200)
    recent = now - dt.timedelta(days=40)
    outcomes = (
        [Outcome(old, False, None)] * 56
        + [Outcome(old, False, old + dt.timedelta(days=10))] * 14
        + [Outcome(old, True, None)] * 48
        + [Outcome(old, True, old + dt.timedelta(days=10))] * 32
        + [Outcome(recent, False, None)] * 5
    )
    at30, at90, at180 = horizons(outcomes, now)
    assert (at30.treated.customers, at30.treated.retained) == (75, 61)
    assert (
        at180.treated.customers,
        at180.treated.retained,
        at180.holdout.customers,
        at180.holdout.retained,
    ) == (70, 56, 80, 48)
    assert at180.difference is not None
    assert (round(at180.difference.low, 4), round(at180.difference.high, 4)) == (0.0524, 0.3339)
    assert at90.treated.customers == 70
    svg = str(holdout_chart([at30, at90, at180], "Retention <test>"))
    assert svg.startswith("<svg") and "Retention &lt;test&gt;" in svg and "180 days" in svg


@pytest.mark.django_db
def test_a_journey_report_from_the_database() -> None:
    journey = Journey.objects.create(
        key="rep",
        name="Rep",
        trigger="manual",
        holdout_percent=0,
        steps=[{"id": "w", "type": "wait", "duration": "1d"}],
    )
    now = timezone.now()
    enrolled_at = now - dt.timedelta(days=100)
    customers: list[Customer] = []
    for index in range(6):
        customer = create_customer(name=f"R{index}")
        customers.append(customer)
        Enrollment.objects.create(
            journey=journey,
            customer=customer,
            trigger_key="t",
            enrolled_at=enrolled_at,
            holdout=index >= 4,
            state="completed",
        )
    # Treated: one lost after 20 days, one replied within a week. Holdout: one lost after 50 days.
    Customer.objects.filter(pk=customers[0].pk).update(
        lifecycle="lost", lost_at=enrolled_at + dt.timedelta(days=20)
    )
    Customer.objects.filter(pk=customers[4].pk).update(
        lifecycle="lost", lost_at=enrolled_at + dt.timedelta(days=50)
    )
    record_event(
        customer_id=customers[1].pk, kind="message.received", occurred_at=enrolled_at + dt.timedelta(days=6)
    )
    record_event(
        customer_id=customers[2].pk, kind="message.received", occurred_at=enrolled_at + dt.timedelta(days=30)
    )
    report = journey_report(journey, now)
    assert (report.enrolled, report.treated, report.holdout, report.replied) == (6, 4, 2, 1)
    at30, at90, at180 = report.horizons
    assert (at30.treated.retained, at30.holdout.retained) == (3, 2)
    assert (at90.treated.retained, at90.holdout.retained) == (3, 1)
    assert at180.treated.customers == 0 and at180.difference is None
