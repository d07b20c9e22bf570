"""Retention metrics from the timeline: churn by month and year, cohort table, survival curves, NRR, target.

Every function takes the extract (`insights.extract.TimelineExtract`) and an aware `as_of`, and
returns a dataclass with `to_dict()`. Months are calendar months in UTC; only complete months
count towards rates, so a half-finished month never looks like a good one.

Who is lost depends on the business (see `spans`): a subscription business loses a customer when
they are marked lost or their contract ends; a repeat-purchase business when the probability that
they are still a customer falls below a threshold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import polars as pl

from tenure.insights.serialize import JsonMixin
from tenure.insights.spans import (
    US_PER_DAY,
    US_PER_MONTH,
    US_PER_YEAR,
    Definition,
    Subscription,
    Timeline,
    customer_spans,
    events_frame,
    from_us,
    month_starts,
    observation_start,
    to_us,
)
from tenure.insights.survival import kaplan_meier

NEVER = np.iinfo(np.int64).max
REVENUE_KINDS = ("payment.received", "plan.renewed")
SYSTEM_CHANNELS = ("system", "")


def _lost_array(spans: pl.DataFrame) -> np.ndarray:
    return spans["lost"].fill_null(NEVER).to_numpy().astype(np.int64)


def _months(timeline: Timeline, as_of_us: int) -> list[int]:
    start = observation_start(timeline)
    return [] if start is None else month_starts(start, as_of_us)


# --- churn by month and year -----------------------------------------------------------------------


@dataclass
class MonthChurn:
    month: str  # "2025-03"
    active_at_start: int
    joined: int
    lost: int
    rate: float | None  # lost in the month / active at its start


@dataclass
class YearChurn:
    year: int
    months_covered: int
    active_at_start: int
    lost: int
    rate: float | None  # compounded from the year's monthly rates (annualised when months are missing)


@dataclass
class ChurnReport(JsonMixin):
    as_of: dt.datetime
    definition: str
    months: list[MonthChurn]
    years: list[YearChurn]
    trailing_12m: float | None  # 1 - product of (1 - monthly rate) over the last 12 complete months
    trailing_months_used: int
    active_a_year_ago: int
    lost_of_those: int
    year_ago_cohort_rate: float | None  # of customers active a year ago, the share lost since
    active_now: int
    headline: str
    series: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)


def _compound(rates: list[float]) -> float | None:
    if not rates:
        return None
    kept = float(np.prod([1.0 - r for r in rates]))
    return 1.0 - kept ** (12 / len(rates))


def _monthly(spans: pl.DataFrame, boundaries: list[int]) -> list[MonthChurn]:
    joined = np.sort(spans["joined"].to_numpy().astype(np.int64))
    lost = np.sort(_lost_array(spans))
    edges = np.asarray(boundaries, dtype=np.int64)
    joined_before = np.searchsorted(joined, edges, side="left")
    lost_before = np.searchsorted(lost, edges, side="left")
    active = joined_before - lost_before
    rows = []
    for i in range(len(boundaries) - 1):
        lost_count = int(lost_before[i + 1] - lost_before[i])
        start = int(active[i])
        rows.append(
            MonthChurn(
                month=from_us(boundaries[i]).strftime("%Y-%m"),
                active_at_start=start,
                joined=int(joined_before[i + 1] - joined_before[i]),
                lost=lost_count,
                rate=lost_count / start if start else None,
            )
        )
    return rows


def _trailing(months: list[MonthChurn]) -> tuple[float | None, int]:
    rates = [m.rate for m in months[-12:] if m.rate is not None]
    return _compound(rates), len(rates)


def churn_by_month(
    timeline: Timeline, as_of: dt.datetime, definition: Definition | None = None
) -> ChurnReport:
    """Churn per complete calendar month, per calendar year and over the trailing twelve months."""
    definition = definition or Subscription()
    as_of_us = to_us(as_of)
    boundaries = _months(timeline, as_of_us)
    spans = customer_spans(timeline, as_of, definition, boundaries)
    months = _monthly(spans, boundaries)
    trailing, used = _trailing(months)
    years: list[YearChurn] = []
    for year in sorted({int(m.month[:4]) for m in months}):
        in_year = [m for m in months if int(m.month[:4]) == year]
        rates = [m.rate for m in in_year if m.rate is not None]
        years.append(
            YearChurn(
                year=year,
                months_covered=len(in_year),
                active_at_start=in_year[0].active_at_start,
                lost=sum(m.lost for m in in_year),
                rate=_compound(rates),
            )
        )
    year_ago = as_of_us - US_PER_YEAR
    lost = _lost_array(spans)
    joined = spans["joined"].to_numpy()
    was_active = (joined < year_ago) & (lost >= year_ago)
    active_then = int(was_active.sum())
    lost_since = int((was_active & (lost < as_of_us)).sum())
    cohort_known = observation_start(timeline) is not None and (observation_start(timeline) or 0) <= year_ago
    cohort_rate = lost_since / active_then if active_then and cohort_known else None
    active_now = int((lost == NEVER).sum())
    if trailing is None:
        headline = "Not enough history for a churn rate yet: it needs one complete month of data."
    else:
        span = "the last 12 months" if used >= 12 else f"the last {used} months, annualised"
        headline = f"{trailing:.1%} of customers lost a year ({span}); {active_now} customers now."
    return ChurnReport(
        as_of=as_of,
        definition=definition.label,
        months=months,
        years=years,
        trailing_12m=trailing,
        trailing_months_used=used,
        active_a_year_ago=active_then,
        lost_of_those=lost_since,
        year_ago_cohort_rate=cohort_rate,
        active_now=active_now,
        headline=headline,
        series={"monthly_churn": [(m.month, m.rate) for m in months]},
    )


# --- cohort retention table ------------------------------------------------------------------------


@dataclass
class CohortRow:
    cohort: str
    customers: int
    retained: list[float | None]  # share still a customer k months after joining, k = 1..; None = not yet


@dataclass
class CohortTable(JsonMixin):
    as_of: dt.datetime
    definition: str
    headers: list[str]
    rows: list[CohortRow]
    average: list[float | None]  # customer-weighted across cohorts, per month since joining


def cohort_retention(
    timeline: Timeline, as_of: dt.datetime, definition: Definition | None = None, max_months: int = 24
) -> CohortTable:
    """Monthly join cohorts (from the first month of data) x months since joining."""
    definition = definition or Subscription()
    as_of_us = to_us(as_of)
    boundaries = _months(timeline, as_of_us)
    spans = customer_spans(timeline, as_of, definition, boundaries)
    headers = ["Joined", "Customers", *[f"Month {k}" for k in range(1, max_months + 1)]]
    if not boundaries:
        return CohortTable(as_of, definition.label, headers, [], [None] * max_months)
    joined = spans["joined"].to_numpy().astype(np.int64)
    lost = _lost_array(spans)
    edges = np.asarray([*boundaries, NEVER], dtype=np.int64)
    cohort = np.searchsorted(edges, joined, side="right") - 1  # -1: joined before the first month
    keep = cohort >= 0
    joined, lost, cohort = joined[keep], lost[keep], cohort[keep]
    groups = len(boundaries)
    sizes = np.bincount(cohort, minlength=groups)
    seen = np.zeros((groups, max_months))
    alive = np.zeros((groups, max_months))
    for k in range(1, max_months + 1):
        instant = joined + k * US_PER_MONTH
        observable = instant <= as_of_us
        seen[:, k - 1] = np.bincount(cohort[observable], minlength=groups)
        alive[:, k - 1] = np.bincount(cohort[observable & (lost > instant)], minlength=groups)
    rows = []
    for g in range(groups):
        if not sizes[g]:
            continue
        shares = [float(alive[g, k] / seen[g, k]) if seen[g, k] else None for k in range(max_months)]
        rows.append(CohortRow(from_us(boundaries[g]).strftime("%Y-%m"), int(sizes[g]), shares))
    totals_seen, totals_alive = seen.sum(axis=0), alive.sum(axis=0)
    average = [float(totals_alive[k] / totals_seen[k]) if totals_seen[k] else None for k in range(max_months)]
    return CohortTable(as_of, definition.label, headers, rows, average)


# --- Kaplan-Meier survival curves ------------------------------------------------------------------


@dataclass
class SurvivalCurve:
    segment: str
    customers: int
    losses: int
    points: list[tuple[float, float, float, float]]  # (days since joining, survival, lower 95%, upper 95%)
    median_days: float | None
    survival_at: dict[str, float]  # "90", "180", "365", "730" days -> survival


@dataclass
class SurvivalReport(JsonMixin):
    as_of: dt.datetime
    definition: str
    segment_by: str | None
    curves: list[SurvivalCurve]


def _first_channels(timeline: Timeline) -> pl.DataFrame:
    events = events_frame(timeline, columns=["channel"]).filter(
        pl.col("channel").is_not_null() & ~pl.col("channel").is_in(SYSTEM_CHANNELS)
    )
    return events.sort("t").group_by("customer_id").agg(segment=pl.col("channel").first())


def _curve(
    name: str, entry: np.ndarray, exit: np.ndarray, event: np.ndarray, max_points: int
) -> SurvivalCurve:
    km = kaplan_meier(entry, exit, event)
    picks = np.arange(km.times.size)
    if picks.size > max_points:
        picks = np.unique(np.linspace(0, km.times.size - 1, max_points).round().astype(int))
    points = [(0.0, 1.0, 1.0, 1.0)] + [
        (float(km.times[i]), float(km.survival[i]), float(km.lower[i]), float(km.upper[i])) for i in picks
    ]
    horizon = float(exit.max()) if exit.size else 0.0
    survival_at = {str(d): km.at(d) for d in (90, 180, 365, 730) if d <= horizon}
    return SurvivalCurve(name, int(entry.size), int(event.sum()), points, km.median(), survival_at)


def survival_curves(
    timeline: Timeline,
    as_of: dt.datetime,
    definition: Definition | None = None,
    segment: str | None = None,
    max_points: int = 250,
    min_customers: int = 20,
) -> SurvivalReport:
    """Kaplan-Meier curves over days since joining, overall and per segment ("kind" or "first_channel").

    Customers who joined before the data begins enter the risk set at their tenure on its first day
    (delayed entry), so an old base that survived to be seen does not inflate early survival.
    Segments with fewer than `min_customers` customers are left out.
    """
    definition = definition or Subscription()
    as_of_us = to_us(as_of)
    start = observation_start(timeline)
    boundaries = [] if start is None else month_starts(start, as_of_us)
    spans = customer_spans(timeline, as_of, definition, boundaries)
    if segment == "first_channel":
        spans = spans.join(_first_channels(timeline), on="customer_id", how="left")
    elif segment == "kind":
        spans = spans.with_columns(segment=pl.col("kind"))
    elif segment is not None:
        raise ValueError(f"unknown segment {segment!r}: use 'kind' or 'first_channel'")
    joined = spans["joined"].to_numpy().astype(np.int64)
    lost = _lost_array(spans)
    entry = (np.maximum(joined, start or 0) - joined) / US_PER_DAY
    exit = (np.minimum(lost, as_of_us) - joined) / US_PER_DAY
    event = lost <= as_of_us
    usable = exit > entry
    curves = []
    if usable.any():
        curves.append(_curve("all customers", entry[usable], exit[usable], event[usable], max_points))
    if segment is not None:
        labels = spans["segment"].fill_null("unknown").to_numpy()
        for name in sorted(set(labels[usable].tolist())):
            mask = usable & (labels == name)
            if mask.sum() >= min_customers:
                curves.append(
                    _curve(str(name) or "unknown", entry[mask], exit[mask], event[mask], max_points)
                )
    return SurvivalReport(as_of, definition.label, segment, curves)


# --- net revenue retention -------------------------------------------------------------------------


@dataclass
class RevenueRetention(JsonMixin):
    as_of: dt.datetime
    period_months: int
    customers: int  # customers active at the start of the period
    still_customers: int
    revenue_before: float  # from those customers in the period before
    revenue_now: float  # from the same customers in the latest period
    net: float | None  # revenue_now / revenue_before
    gross: float | None  # the same with each customer's growth capped at what they paid before
    note: str


def net_revenue_retention(
    timeline: Timeline,
    as_of: dt.datetime,
    definition: Definition | None = None,
    period_months: int = 12,
    revenue_kinds: tuple[str, ...] = REVENUE_KINDS,
) -> RevenueRetention:
    """Revenue this period from the customers of a period ago, against what they paid the period before."""
    definition = definition or Subscription()
    as_of_us = to_us(as_of)
    period = round(period_months * US_PER_MONTH)
    then = as_of_us - period
    start = observation_start(timeline)
    spans = customer_spans(timeline, as_of, definition)
    cohort = spans.filter((pl.col("joined") < then) & (pl.col("lost").is_null() | (pl.col("lost") >= then)))
    still = int(cohort["lost"].is_null().sum())
    if start is None or start > then - period:
        have = 0 if start is None else max(0, (as_of_us - start) // US_PER_MONTH)
        note = f"no data yet: needs {2 * period_months} months of revenue history, have {have}"
        return RevenueRetention(as_of, period_months, cohort.height, still, 0.0, 0.0, None, None, note)
    revenue = (
        events_frame(timeline, revenue_kinds, columns=["amount"])
        .filter(
            pl.col("t").is_between(then - period, as_of_us, closed="left") & pl.col("amount").is_not_null()
        )
        .join(cohort.select("customer_id"), on="customer_id", how="semi")
        .group_by("customer_id")
        .agg(
            before=pl.col("amount").filter(pl.col("t") < then).sum(),
            now=pl.col("amount").filter(pl.col("t") >= then).sum(),
        )
    )
    before = float(revenue["before"].sum())
    now = float(revenue["now"].sum())
    capped = float(revenue.select(pl.min_horizontal("before", "now")).to_series().sum())
    net = now / before if before else None
    gross = capped / before if before else None
    note = (
        f"customers of {from_us(then):%Y-%m-%d} paid {now:,.0f} in the last {period_months} months "
        f"against {before:,.0f} the {period_months} before"
    )
    return RevenueRetention(as_of, period_months, cohort.height, still, before, now, net, gross, note)


# --- target and progress ---------------------------------------------------------------------------


class Target(Protocol):
    """The fields of insights.models.RetentionTarget that progress needs."""

    baseline_annual_churn: float
    target_annual_churn: float
    start_date: dt.date
    target_date: dt.date


@dataclass
class TargetProgress(JsonMixin):
    as_of: dt.datetime
    baseline: float
    target: float
    start_date: dt.date
    target_date: dt.date
    current: float | None  # trailing-12-month churn at as_of
    expected_now: float  # where the straight path from baseline to target is today
    elapsed: float  # share of the way from start to target date
    on_track: bool | None
    gap_points: float | None  # current - expected_now, in percentage points
    customers_above_target: int | None  # customers a year we lose beyond the final target at today's rate
    path: list[tuple[str, float]]
    actual: list[tuple[str, float | None]]  # trailing-12-month churn at each month end since the start
    headline: str


def target_progress(
    timeline: Timeline, as_of: dt.datetime, target: Target, definition: Definition | None = None
) -> TargetProgress:
    """Where annual churn is against the straight path from the baseline to the target by its date."""
    report = churn_by_month(timeline, as_of, definition)
    monthly = [(m.month, m.rate) for m in report.months]
    return progress_against(target, as_of, monthly, report.trailing_12m, report.active_now)


def progress_against(
    target: Target,
    as_of: dt.datetime,
    monthly: list[tuple[str, float | None]],
    current: float | None,
    active_now: int,
) -> TargetProgress:
    """Progress from a churn report's figures: (month, rate) per complete month, the trailing-12-month
    rate and the customers now. Lets a new target be shown at once from the last stored report."""
    if target.target_date <= target.start_date:
        raise ValueError(f"target date {target.target_date} must be after its start {target.start_date}")
    days = (target.target_date - target.start_date).days
    elapsed = min(1.0, max(0.0, (as_of.date() - target.start_date).days / days))
    expected = (
        target.baseline_annual_churn + (target.target_annual_churn - target.baseline_annual_churn) * elapsed
    )
    actual: list[tuple[str, float | None]] = []
    start_month = target.start_date.strftime("%Y-%m")
    for i, (month, _) in enumerate(monthly):
        if month >= start_month:
            rates = [rate for _, rate in monthly[max(0, i - 11) : i + 1] if rate is not None]
            actual.append((month, _compound(rates)))
    on_track = None if current is None else current <= expected + 1e-12
    gap = None if current is None else (current - expected) * 100
    above = None if current is None else max(0, round((current - target.target_annual_churn) * active_now))
    if current is None:
        headline = "No churn rate yet to compare with the target."
    else:
        verdict = "on track" if on_track else f"{gap:.1f} points behind"
        headline = (
            f"Annual churn {current:.1%}; the straight path from {target.baseline_annual_churn:.0%} to "
            f"{target.target_annual_churn:.0%} by {target.target_date} is at {expected:.1%} today: {verdict}."
        )
    return TargetProgress(
        as_of=as_of,
        baseline=target.baseline_annual_churn,
        target=target.target_annual_churn,
        start_date=target.start_date,
        target_date=target.target_date,
        current=current,
        expected_now=expected,
        elapsed=elapsed,
        on_track=on_track,
        gap_points=gap,
        customers_above_target=above,
        path=[
            (target.start_date.isoformat(), target.baseline_annual_churn),
            (target.target_date.isoformat(), target.target_annual_churn),
        ],
        actual=actual,
        headline=headline,
    )


# --- everything at once ----------------------------------------------------------------------------


@dataclass
class RetentionReport(JsonMixin):
    as_of: dt.datetime
    churn: ChurnReport
    cohorts: CohortTable
    survival: SurvivalReport
    revenue: RevenueRetention
    target: TargetProgress | None


def retention_report(
    timeline: Timeline,
    as_of: dt.datetime,
    definition: Definition | None = None,
    target: Target | None = None,
    segment: str | None = "kind",
) -> RetentionReport:
    """All retention metrics for the dashboard, the HTML report and InsightSnapshot(kind="retention")."""
    return RetentionReport(
        as_of=as_of,
        churn=churn_by_month(timeline, as_of, definition),
        cohorts=cohort_retention(timeline, as_of, definition),
        survival=survival_curves(timeline, as_of, definition, segment),
        revenue=net_revenue_retention(timeline, as_of, definition),
        target=None if target is None else target_progress(timeline, as_of, target, definition),
    )
