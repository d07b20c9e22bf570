"""Retention metrics on hand-built timelines with known answers."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from tenure.insights import retention
from tenure.insights.extract import TimelineExtract
from tenure.insights.spans import RepeatPurchase, Timeline, customer_spans, to_us

from .handmade import Builder, day

AS_OF = day(2024, 5, 15)


def _company() -> TimelineExtract:
    b = Builder()
    b.event(99, "order.placed", day(2024, 1, 1, 0))  # data start: 1 January 2024
    for cid in range(10):  # an old base of ten
        lost = day(2024, 2, 10) if cid < 2 else day(2024, 3, 5) if cid == 2 else None
        b.customer(cid, day(2023, 6, 1), lost=lost)
    b.customer(20, day(2024, 2, 15), lost=day(2024, 4, 2))
    b.customer(21, day(2024, 3, 15), kind="company")
    b.customer(30, day(2024, 3, 1), lifecycle="prospect")  # never bought: not a customer
    b.customer(31, day(2024, 6, 1))  # joins after as_of
    return b.build()


def test_churn_by_month_counts_losses_against_the_base_at_the_start_of_each_month() -> None:
    report = retention.churn_by_month(_company(), AS_OF)
    months = [(m.month, m.active_at_start, m.joined, m.lost) for m in report.months]
    assert months == [
        ("2024-01", 10, 0, 0),
        ("2024-02", 10, 1, 2),
        ("2024-03", 9, 1, 1),
        ("2024-04", 9, 0, 1),
    ]
    assert [m.rate for m in report.months] == pytest.approx([0.0, 0.2, 1 / 9, 1 / 9])
    kept = 1.0 * 0.8 * (8 / 9) * (8 / 9)
    assert report.trailing_12m == pytest.approx(1 - kept**3)  # four months, annualised
    assert report.trailing_months_used == 4
    assert report.active_now == 8
    assert report.year_ago_cohort_rate is None  # the data does not reach back a year
    assert report.years[0].lost == 4 and report.years[0].months_covered == 4
    json.dumps(report.to_dict())


def test_cohort_table_follows_each_join_month() -> None:
    table = retention.cohort_retention(_company(), AS_OF, max_months=3)
    assert table.headers == ["Joined", "Customers", "Month 1", "Month 2", "Month 3"]
    rows = {row.cohort: (row.customers, row.retained) for row in table.rows}
    assert rows == {"2024-02": (1, [1.0, 0.0, None]), "2024-03": (1, [1.0, 1.0, None])}
    assert table.average == [1.0, 0.5, None]


def test_kaplan_meier_uses_delayed_entry_for_the_old_base() -> None:
    report = retention.survival_curves(_company(), AS_OF, segment="kind", min_customers=1)
    overall = report.curves[0]
    assert overall.segment == "all customers" and overall.customers == 12 and overall.losses == 4
    # At 47 days only the two new customers are at risk; one leaves: S = 1/2.
    assert overall.points[1][:2] == (47.0, 0.5)
    assert overall.median_days == 47.0
    assert {curve.segment for curve in report.curves} == {"all customers", "person", "company"}
    with pytest.raises(ValueError, match="unknown segment"):
        retention.survival_curves(_company(), AS_OF, segment="colour")


def test_net_revenue_retention_compares_the_same_customers_a_year_apart() -> None:
    b = Builder()
    for cid in (1, 2, 3):
        b.customer(cid, day(2021, 6, 1))
    b.customer(4, day(2022, 6, 1), lost=day(2023, 3, 1))  # in the cohort, lost since, paid nothing
    b.customer(5, day(2023, 9, 1))  # joined this year: not in the cohort
    b.event(1, "order.placed", day(2021, 12, 1))  # the data reaches back two years
    for cid, before, now in ((1, 100.0, 150.0), (2, 200.0, 0.0), (3, 100.0, 100.0), (5, 0.0, 500.0)):
        if before:
            b.event(cid, "payment.received", day(2022, 9, 1), amount=before)
        if now:
            b.event(cid, "payment.received", day(2023, 9, 15), amount=now)
    b.event(3, "plan.renewed", day(2023, 10, 1), amount=50.0)
    result = retention.net_revenue_retention(b.build(), day(2024, 1, 1, 0))
    assert (result.customers, result.still_customers) == (4, 3)
    assert (result.revenue_before, result.revenue_now) == (400.0, 300.0)
    assert result.net == pytest.approx(0.75)
    assert result.gross == pytest.approx((100 + 0 + 100) / 400)
    short = retention.net_revenue_retention(_company(), AS_OF)
    assert short.net is None and short.note.startswith("no data yet")


class _Target:
    baseline_annual_churn = 0.32
    target_annual_churn = 0.05
    start_date = dt.date(2024, 1, 1)
    target_date = dt.date(2026, 1, 1)


def test_target_progress_against_the_straight_path() -> None:
    progress = retention.target_progress(_company(), AS_OF, _Target())
    elapsed = (AS_OF.date() - dt.date(2024, 1, 1)).days / 731
    assert progress.elapsed == pytest.approx(elapsed)
    assert progress.expected_now == pytest.approx(0.32 - 0.27 * elapsed)
    assert progress.on_track is False and progress.gap_points is not None and progress.gap_points > 0
    assert [month for month, _ in progress.actual] == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert "behind" in progress.headline
    json.dumps(progress.to_dict())


def test_repeat_purchase_definition_loses_customers_when_p_alive_drops() -> None:
    calls: list[dt.datetime] = []

    def p_alive(timeline: Timeline, when: dt.datetime) -> pl.DataFrame:
        calls.append(when)
        low = 0.2 if when >= day(2024, 3, 1, 0) else 0.9
        return pl.DataFrame({"customer_id": [3, 4], "p_alive": [low, 0.9]})

    march, april = to_us(day(2024, 3, 1, 0)), to_us(day(2024, 4, 1, 0))
    spans = customer_spans(_company(), AS_OF, RepeatPurchase(p_alive), checkpoints=[march, april])
    assert spans.filter(pl.col("customer_id") == 3)["lost"].item() == march
    report = retention.churn_by_month(_company(), AS_OF, RepeatPurchase(p_alive))
    # Customer 3 drops below 0.5 at the 1 March check: one more loss in March.
    assert [m.lost for m in report.months] == [0, 2, 2, 1]
    assert AS_OF in calls
    fixed = RepeatPurchase(pl.DataFrame({"customer_id": [4], "p_alive": [0.1]}))
    assert retention.churn_by_month(_company(), AS_OF, fixed).active_now == 7


def test_a_time_without_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="as_of must carry a time zone"):
        retention.churn_by_month(_company(), dt.datetime(2024, 5, 15))
