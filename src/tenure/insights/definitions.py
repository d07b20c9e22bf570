"""Who counts as lost, as the business chose it (`InsightsSettings`): the churn definition every
retention figure uses.

* subscription: lost when marked lost or the contract ends (`spans.Subscription`);
* repeat purchase: lost once BG/NBD's probability that the customer still buys falls below the threshold,
  evaluated at every month start with a model fitted only on the purchases before that instant
  (`spans.RepeatPurchase`), or when marked lost.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from tenure.insights.clv import ClvError, fit_clv, rfm_summary
from tenure.insights.spans import Definition, PAlive, RepeatPurchase, Subscription, Timeline

SUBSCRIPTION, REPEAT_PURCHASE = "subscription", "repeat_purchase"
EMPTY = pl.DataFrame(schema={"customer_id": pl.Int64, "p_alive": pl.Float64})


def p_alive_at(timeline: Timeline, when: dt.datetime) -> pl.DataFrame:
    """customer_id, p_alive from a BG/NBD fitted on the purchases before ``when``.

    Too little purchase history at that instant (a young business, an early month) judges nobody lost by
    the model: an empty frame, not a guess."""
    summary = rfm_summary(timeline, when)  # type: ignore[arg-type]
    try:
        model = fit_clv(summary)
    except ClvError:
        return EMPTY
    p_alive = model.purchases.probability_alive(summary["frequency"], summary["recency"], summary["T"])
    return pl.DataFrame({"customer_id": summary["customer_id"], "p_alive": p_alive})


def _memoised(compute: PAlive) -> PAlive:
    """One report asks for the same month starts several times (churn, cohorts, survival, target)."""
    cache: dict[tuple[int, dt.datetime], pl.DataFrame] = {}

    def cached(timeline: Timeline, when: dt.datetime) -> pl.DataFrame:
        key = (id(timeline), when)
        if key not in cache:
            cache[key] = compute(timeline, when)
        return cache[key]

    return cached


def churn_definition(business_model: str, threshold: float) -> Definition:
    if business_model == SUBSCRIPTION:
        return Subscription()
    if business_model == REPEAT_PURCHASE:
        if not 0 < threshold < 1:
            raise ValueError(f"the p_alive threshold must be between 0 and 1, got {threshold}")
        return RepeatPurchase(
            p_alive=_memoised(p_alive_at),
            threshold=threshold,
            label=f"lost = probability still buying below {threshold:.0%} (BG/NBD), or marked lost",
        )
    raise ValueError(
        f"unknown business model {business_model!r}: use {SUBSCRIPTION!r} or {REPEAT_PURCHASE!r}"
    )
