"""The practice scorecard: how often the business does the things that keep customers, from the timeline.

Each metric is a share with its numerator and denominator over the last `window_days` before
`as_of`. Where the timeline has none of the event kinds a metric needs (an app not in use yet), the
value is None and the label says "no data yet" instead of showing a made-up zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from tenure.insights.serialize import JsonMixin
from tenure.insights.spans import US_PER_DAY, US_PER_HOUR, Timeline, customer_spans, events_frame, to_us

ACK_KINDS = ("message.sent", "order.acknowledged")
FOLLOW_UP_KINDS = ("survey.sent", "survey.answered", "message.sent")
PROBLEM_KINDS = {
    "job.missed": "job",
    "job.not_fixed": "job",
    "request.reopened": "request",
    "request.callback": "request",
}
FIX_KINDS = {"job": "job.completed", "request": "request.answered"}
CONTACT_KINDS = (
    "request.answered",
    "message.sent",
    "order.acknowledged",
    "job.completed",
    "survey.sent",
    "request.received",
    "request.callback",
)
NO_DATA = "no data yet"


@dataclass
class Metric:
    key: str
    label: str
    value: float | None  # share 0..1, None when there is no data yet
    numerator: int
    denominator: int
    detail: str  # e.g. "median 3.2 hours" or "no data yet"


@dataclass
class Scorecard(JsonMixin):
    as_of: dt.datetime
    window_days: int
    metrics: list[Metric]
    headers: list[str]
    table: list[list[str]]


def _metric(
    key: str, label: str, numerator: int, denominator: int, detail: str = "", available: bool = True
) -> Metric:
    if not available or denominator == 0:
        return Metric(key, label, None, numerator, denominator, detail if available and detail else NO_DATA)
    return Metric(key, label, numerator / denominator, numerator, denominator, detail)


def _followed(
    anchors: pl.DataFrame, followers: pl.DataFrame, within_us: int, by: list[str] | None = None
) -> pl.DataFrame:
    """For each anchor (customer_id, t[, by]) the first follower at or after it, within `within_us`."""
    keys = ["customer_id", *(by or [])]
    left = anchors.sort("t").with_columns(pl.col("t").alias("anchor_t"))
    right = followers.sort("t").select(*keys, "t", follow_t=pl.col("t"))
    joined = left.join_asof(
        right, on="t", by=keys, strategy="forward", tolerance=within_us, check_sortedness=False
    )
    return joined.with_columns(followed=pl.col("follow_t").is_not_null())


def practice_scorecard(
    timeline: Timeline,
    as_of: dt.datetime,
    window_days: int = 90,
    ack_hours: float = 24.0,
    explain_hours: float = 24.0,
    follow_up_days: float = 2.0,
    fix_days: float = 7.0,
    sla_hours: float = 8.0,
) -> Scorecard:
    """Seven practices, each as a share of the cases it applies to in the window."""
    as_of_us = to_us(as_of)
    since = as_of_us - window_days * US_PER_DAY
    events = events_frame(timeline, columns=["ref", "response_hours"]).filter(pl.col("t") < as_of_us)
    present = set(events["kind"].unique().to_list())
    in_window = events.filter(pl.col("t") >= since)

    def of(frame: pl.DataFrame, *kinds: str) -> pl.DataFrame:
        return frame.filter(pl.col("kind").is_in(kinds))

    metrics = []
    # 1. New customers who asked something: answered by a person, and how fast.
    spans = customer_spans(timeline, as_of).filter(pl.col("joined") >= since)
    first_requests = (
        of(events, "request.received")
        .join(spans.select("customer_id", "joined"), on="customer_id")
        .filter(pl.col("t") >= pl.col("joined"))
        .group_by("customer_id")
        .agg(t=pl.col("t").min())
    )
    answered = _followed(first_requests, of(events, "request.answered"), as_of_us - since)
    hours = ((answered["follow_t"] - answered["anchor_t"]) / US_PER_HOUR).drop_nulls()
    median = (
        f"median {float(np.median(hours.to_numpy())):.1f} hours to the first answer" if hours.len() else ""
    )
    metrics.append(
        _metric(
            "new_customers_answered",
            "New customers who asked something and got a personal answer",
            int(answered["followed"].sum()),
            answered.height,
            median,
            available="request.answered" in present,
        )
    )
    # 2. Orders acknowledged in writing within ack_hours.
    orders = of(in_window, "order.placed").filter(pl.col("t") < as_of_us - int(ack_hours * US_PER_HOUR))
    acked = _followed(orders, of(events, *ACK_KINDS), int(ack_hours * US_PER_HOUR))
    metrics.append(
        _metric(
            "orders_acknowledged",
            f"Orders acknowledged in writing within {ack_hours:g} hours",
            int(acked["followed"].sum()),
            acked.height,
            available=bool(present & set(ACK_KINDS)),
        )
    )
    # 3. Process and timeframe explained: a scheduled visit (with its window) soon after the order.
    orders = of(in_window, "order.placed").filter(pl.col("t") < as_of_us - int(explain_hours * US_PER_HOUR))
    explained = _followed(orders, of(events, "job.scheduled"), int(explain_hours * US_PER_HOUR))
    metrics.append(
        _metric(
            "process_explained",
            f"Orders given a visit window within {explain_hours:g} hours",
            int(explained["followed"].sum()),
            explained.height,
            available="job.scheduled" in present,
        )
    )
    # 4. Fulfilled orders followed up within follow_up_days.
    follow_us = int(follow_up_days * US_PER_DAY)
    completed = of(in_window, "job.completed").filter(pl.col("t") < as_of_us - follow_us)
    followed = _followed(completed, of(events, *FOLLOW_UP_KINDS), follow_us)
    metrics.append(
        _metric(
            "orders_followed_up",
            f"Completed jobs followed up (survey or message) within {follow_up_days:g} days",
            int(followed["followed"].sum()),
            followed.height,
            available=bool(present & set(FOLLOW_UP_KINDS)),
        )
    )
    # 5. Problems fixed rather than left: a missed/not-fixed job completed, a chased/reopened request answered.
    fix_us = int(fix_days * US_PER_DAY)
    problems = (
        of(in_window, *PROBLEM_KINDS)
        .filter(pl.col("t") < as_of_us - fix_us)
        .with_columns(area=pl.col("kind").replace_strict(PROBLEM_KINDS))
    )
    fixes = of(events, *FIX_KINDS.values()).with_columns(
        area=pl.col("kind").replace_strict({kind: area for area, kind in FIX_KINDS.items()})
    )
    # Match on what the event is about (the job or request) when the timeline records it.
    problems = problems.with_columns(ref=pl.col("ref").fill_null(""))
    fixes = fixes.with_columns(ref=pl.col("ref").fill_null(""))
    fixed = _followed(problems, fixes, fix_us, by=["area", "ref"])
    metrics.append(
        _metric(
            "problems_fixed",
            f"Problems (missed or not-fixed jobs, chased or reopened requests) put right within {fix_days:g} days",
            int(fixed["followed"].sum()),
            fixed.height,
        )
    )
    # 6. Customers in touch in the last 90 days (a two-way contact or a visit).
    live = customer_spans(timeline, as_of).filter(pl.col("lost").is_null())
    touched = of(events, *CONTACT_KINDS).filter(pl.col("t") >= as_of_us - 90 * US_PER_DAY)
    contacted = live.join(touched.select("customer_id").unique(), on="customer_id", how="semi").height
    metrics.append(
        _metric(
            "customers_contacted",
            "Customers we were in touch with in the last 90 days",
            contacted,
            live.height,
        )
    )
    # 7. Requests answered within the SLA (hours, not business hours).
    received = of(in_window, "request.received").filter(pl.col("t") < as_of_us - int(sla_hours * US_PER_HOUR))
    answers = of(events, "request.answered").select("customer_id", "ref", answer_t=pl.col("t"))
    if received["ref"].null_count() < received.height:
        matched = (
            received.join(answers, on=["customer_id", "ref"], how="left")
            .group_by("customer_id", "ref", "t")
            .agg(answer_t=pl.col("answer_t").min())
        )
        in_sla = int(
            ((matched["answer_t"] - matched["t"]) <= int(sla_hours * US_PER_HOUR)).fill_null(False).sum()
        )
    else:
        in_sla = int((of(in_window, "request.answered")["response_hours"] <= sla_hours).sum())
    metrics.append(
        _metric(
            "requests_within_sla",
            f"Requests answered within {sla_hours:g} hours",
            in_sla,
            received.height,
            available="request.answered" in present,
        )
    )
    table = [
        [
            m.label,
            NO_DATA if m.value is None else f"{m.value:.0%}",
            f"{m.numerator} of {m.denominator}",
            m.detail,
        ]
        for m in metrics
    ]
    return Scorecard(as_of, window_days, metrics, ["Practice", "Share", "Cases", "Detail"], table)
