"""Failure drivers: a synthetic company with a known hazard ratio, and the demo company from the database."""

from __future__ import annotations

import datetime as dt
import json
import math
import random

import numpy as np
import pytest

from tenure.insights import drivers
from tenure.insights.extract import TimelineExtract

from .handmade import Builder

UTC = dt.UTC
START = dt.datetime(2023, 1, 1, tzinfo=UTC)
AS_OF = dt.datetime(2025, 7, 1, tzinfo=UTC)
TRUE_HR = 1.8


def _months(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    out, month = [], first
    while month < last:
        out.append(month)
        month = (
            month.replace(year=month.year + 1, month=1)
            if month.month == 12
            else month.replace(month=month.month + 1)
        )
    return out


def _synthetic(customers: int, seed: int) -> TimelineExtract:
    """Monthly hazard 0.02 x TRUE_HR ** (late arrivals in the 90 days before the month), as the model assumes.

    Late payments happen as often but do nothing: their interval should cover 1.
    """
    rng = random.Random(seed)
    b = Builder()
    months = _months(START, AS_OF)
    b.event(0, "order.placed", START)
    for cid in range(1, customers + 1):
        joined = START + dt.timedelta(days=rng.uniform(-365, 800))
        late: list[dt.datetime] = []
        lost = None
        for month in months:
            end = months[months.index(month) + 1] if month != months[-1] else AS_OF
            if end <= joined:
                continue
            recent = sum(1 for t in late if month - dt.timedelta(days=90) <= t < month)
            begin = max(month, joined)
            share = (end - begin) / (end - month)  # a customer joining mid-month is at risk for part of it
            if rng.random() < 1 - math.exp(-0.02 * share * TRUE_HR**recent):
                lost = begin + (end - begin) * rng.random()
                break
            span = (end - begin).total_seconds()
            for kind in ("job.late", "payment.late", "order.placed"):
                count = sum(1 for _ in range(4) if rng.random() < 0.12)
                for _ in range(count):
                    when = begin + dt.timedelta(seconds=rng.uniform(0, span))
                    b.event(cid, kind, when)
                    if kind == "job.late":
                        late.append(when)
        b.customer(cid, joined, lost=lost)
    return b.build()


def test_the_interval_covers_a_known_hazard_ratio_and_a_harmless_failure_is_not_blamed() -> None:
    report = drivers.find_drivers(_synthetic(2500, seed=11), AS_OF, window_days=90)
    by_key = {d.key: d for d in report.drivers}
    late, payment = by_key["late_arrival"], by_key["payment_problem"]
    assert late.ci_low < TRUE_HR < late.ci_high
    assert late.significant and late.department == "field"
    assert payment.ci_low < 1.0 < payment.ci_high
    assert report.drivers[0].key == "late_arrival"
    assert late.kept_per_year is not None and late.kept_low is not None and late.kept_high is not None
    assert 0 < late.kept_low < late.kept_per_year < late.kept_high
    assert late.kept_if_eliminated is not None and late.kept_if_eliminated > late.kept_per_year
    assert report.converged
    # Breslow: the model's expected losses over the last year match what happened.
    assert report.predicted_losses_per_year == pytest.approx(report.losses_last_year, rel=0.15)
    assert "missed appointments" in report.no_data
    json.dumps(report.to_dict())


def test_too_little_history_says_so_instead_of_guessing() -> None:
    b = Builder()
    b.event(1, "order.placed", START)
    b.customer(1, START, lost=START + dt.timedelta(days=200))
    b.customer(2, START)
    report = drivers.find_drivers(b.build(), AS_OF)
    assert report.drivers == []
    assert report.note.startswith("not enough history to find what drives leaving: 1 customers lost")


@pytest.mark.django_db
def test_the_demo_company_from_the_database() -> None:
    """The demo's simulator drives leaving with late and missed jobs, unanswered and slow answers and
    call-backs (history._Mood, _Simulator.leaves); late payments have no effect there."""
    from tenure.demo.generator import build_company
    from tenure.insights.extract import extract_from_database
    from tenure.insights.retention import retention_report
    from tenure.insights.scorecard import practice_scorecard

    end = dt.datetime(2026, 1, 1, tzinfo=UTC)
    build_company(seed=7, customers=1500, months=18, end=end, present=False)
    timeline = extract_from_database()
    report = drivers.find_drivers(timeline, end)
    by_key = {d.key: d for d in report.drivers}
    assert report.converged and report.losses >= 200
    late, slow, payment = by_key["late_arrival"], by_key["slow_answer"], by_key["payment_problem"]
    assert late.significant and late.hazard_ratio > 1.2 and late.department == "field"
    assert slow.hazard_ratio > 1.0
    assert payment.ci_low < 1.0 < payment.ci_high or payment.hazard_ratio < 1.0
    assert report.drivers[0].key in {"late_arrival", "slow_answer"}
    assert {d.department for d in report.departments} >= {"field", "billing"}
    retention = retention_report(timeline, end)
    assert retention.churn.trailing_12m is not None and 0.15 < retention.churn.trailing_12m < 0.45
    card = practice_scorecard(timeline, end)
    assert {m.key for m in card.metrics if m.value is None} == {"orders_acknowledged"}
    json.dumps({"drivers": report.to_dict(), "retention": retention.to_dict(), "scorecard": card.to_dict()})


def test_a_large_base_is_analysed_on_a_seeded_stratified_sample_scaled_back() -> None:
    timeline = _synthetic(2500, seed=11)
    full = drivers.find_drivers(timeline, AS_OF)
    sampled = drivers.find_drivers(timeline, AS_OF, max_customers=1200, seed=3)
    again = drivers.find_drivers(timeline, AS_OF, max_customers=1200, seed=3)
    assert sampled.to_dict() == again.to_dict()  # seeded: the same sample every time

    panel = drivers.build_panel(timeline, AS_OF, max_customers=1200, seed=3)
    whole = drivers.build_panel(timeline, AS_OF)
    assert panel.population == whole.population == sampled.customers == full.customers
    kept, everyone = set(panel.customer_id.tolist()), set(whole.customer_id.tolist())
    assert kept < everyone
    assert len(kept) == pytest.approx(len(everyone) * 1200 / 2500, rel=0.05)
    assert panel.weight == pytest.approx(2500 / 1200, rel=0.01)
    # The sample's rows are built from its customers' events only; they match the whole panel's rows.
    mine = np.lexsort((panel.month, panel.customer_id))
    in_sample = np.flatnonzero(np.isin(whole.customer_id, panel.customer_id))
    theirs = in_sample[np.lexsort((whole.month[in_sample], whole.customer_id[in_sample]))]
    for key, values in panel.columns.items():
        np.testing.assert_array_equal(values[mine], whole.columns[key][theirs], err_msg=key)
    np.testing.assert_array_equal(panel.event[mine], whole.event[theirs])
    leavers = lambda p: {c for c, e in zip(p.customer_id.tolist(), p.event.tolist(), strict=True) if e}  # noqa: E731
    # Stratified on leaving: the sample holds about the base's share of leavers.
    assert len(leavers(panel)) / len(kept) == pytest.approx(len(leavers(whole)) / len(everyone), abs=0.02)
    assert "stratified random sample of" in sampled.method

    late = {d.key: d for d in sampled.drivers}["late_arrival"]
    assert late.ci_low < TRUE_HR < late.ci_high
    full_late = {d.key: d for d in full.drivers}["late_arrival"]
    # Scaled back to the whole base, the customers kept are of the same size as the full analysis's.
    assert late.kept_per_year is not None and full_late.kept_per_year is not None
    assert late.kept_low is not None and late.kept_high is not None
    assert late.kept_low < full_late.kept_per_year < late.kept_high
    assert sampled.losses_last_year == pytest.approx(full.losses_last_year, rel=0.15)


def test_failures_since_a_date_are_the_same_rows_as_all_failures_cut_at_that_date() -> None:
    """The last year's counts read only the last year's events; a call-back in it still gets the
    department of a request received before it."""
    import polars as pl

    from tenure.insights.spans import to_us

    b = Builder()
    since = AS_OF - dt.timedelta(days=365)
    rng = random.Random(4)
    for cid in range(1, 41):
        b.customer(cid, START)
        for n in range(6):
            received = since + dt.timedelta(days=rng.uniform(-300, 300))
            ref = f"r{cid}-{n}"
            department = rng.choice(["billing", "support", None])
            b.event(cid, "request.received", received, ref=ref, department=department)
            if rng.random() < 0.7:
                hours = rng.uniform(1, 80)
                b.event(
                    cid,
                    "request.answered",
                    received + dt.timedelta(hours=hours),
                    ref=ref,
                    response_hours=hours,
                )
            if rng.random() < 0.5:
                b.event(cid, "request.callback", received + dt.timedelta(days=rng.uniform(0, 90)), ref=ref)
        b.event(cid, "payment.late", since + dt.timedelta(days=rng.uniform(-200, 200)))
    timeline = b.build()
    cut = to_us(since)
    points, requests = drivers.failure_events(timeline)
    recent_points, recent_requests = drivers.failure_events(timeline, since=cut)
    assert 0 < recent_points.height < points.height and 0 < recent_requests.height < requests.height
    assert recent_points.sort(pl.all()).equals(points.filter(pl.col("t") >= cut).sort(pl.all()))
    assert recent_requests.sort(pl.all()).equals(requests.filter(pl.col("received") >= cut).sort(pl.all()))
    carried = recent_points.filter((pl.col("failure") == "callback") & (pl.col("department") != "general"))
    assert carried.height > 0
