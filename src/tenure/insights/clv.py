"""Customer value from the timeline: RFM summary, BG/NBD (or Pareto/NBD) + Gamma-Gamma, CLV over a horizon.

    summary = rfm_summary(extract, as_of)              # one row per customer with an order before as_of
    model = fit_clv(summary)                            # BG/NBD + Gamma-Gamma, stored with to_dict()
    scores = predict_clv(model, summary)                # p_alive, expected purchases, order value, clv
    scores = score_clv(extract, as_of)                  # all three, known-lost customers set to zero

A purchase occasion is a UTC calendar day with at least one order (several orders on one day are one
occasion, as in the BTYD literature and the `lifetimes` package). Times are whole days divided by
``period_days``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import polars as pl

from .clv_bgnbd import BetaGeo
from .clv_common import ArrayLike, ClvError, FloatArray, as_float_array
from .clv_gamma_gamma import GammaGamma
from .clv_pareto_nbd import ParetoNBD
from .extract import TimelineExtract

__all__ = [
    "BetaGeo",
    "ClvError",
    "ClvModel",
    "GammaGamma",
    "ParetoNBD",
    "customer_lifetime_value",
    "fit_clv",
    "predict_clv",
    "rfm_summary",
    "score_clv",
]

PURCHASE_KINDS = ("order.placed",)
MIN_CUSTOMERS = 100
MIN_REPEAT_BUYERS = 20
DAYS_PER_MONTH = 365.25 / 12
SUMMARY_SCHEMA = {
    "customer_id": pl.Int64,
    "frequency": pl.Int64,
    "recency": pl.Float64,
    "T": pl.Float64,
    "monetary_value": pl.Float64,
}


class PurchaseModel(Protocol):
    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray: ...

    def conditional_expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray: ...

    def to_dict(self) -> dict[str, float]: ...


def _utc(moment: dt.datetime, name: str) -> dt.datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ClvError(f"{name} must carry a time zone (got {moment.isoformat()})")
    return moment.astimezone(dt.UTC)


def rfm_summary(
    extract: TimelineExtract,
    as_of: dt.datetime,
    period_days: float = 7,
    *,
    kinds: Sequence[str] = PURCHASE_KINDS,
) -> pl.DataFrame:
    """Per customer with a purchase before ``as_of``: customer_id, frequency, recency, T, monetary_value.

    frequency = purchase days after the first; recency = first to last purchase day; T = first purchase
    day to the last day before ``as_of``; both in periods of ``period_days``. monetary_value = mean amount
    of the repeat purchase days (orders without an amount left out; 0 when there is none).
    """
    if period_days <= 0:
        raise ClvError(f"period_days must be > 0, got {period_days}")
    cutoff = _utc(as_of, "as_of")
    last_day = (cutoff - dt.timedelta(microseconds=1)).date()
    events = pl.from_arrow(extract.events.select(["customer_id", "kind", "occurred_at", "amount"]))
    assert isinstance(events, pl.DataFrame)
    days = (
        events.lazy()
        .filter(pl.col("kind").is_in(list(kinds)) & (pl.col("occurred_at") < cutoff))
        .filter(pl.col("customer_id").is_not_null())
        .group_by("customer_id", pl.col("occurred_at").dt.date().alias("day"))
        .agg(pl.when(pl.col("amount").count() > 0).then(pl.col("amount").sum()).alias("amount"))
        .sort("customer_id", "day")
    )
    is_repeat = pl.int_range(pl.len()) > 0
    summary = (
        days.group_by("customer_id")
        .agg(
            (pl.len() - 1).cast(pl.Int64).alias("frequency"),
            pl.col("day").min().alias("first_day"),
            pl.col("day").max().alias("last_day"),
            pl.col("amount").filter(is_repeat).mean().fill_null(0.0).alias("monetary_value"),
        )
        .select(
            "customer_id",
            "frequency",
            ((pl.col("last_day") - pl.col("first_day")).dt.total_days() / period_days).alias("recency"),
            ((pl.lit(last_day) - pl.col("first_day")).dt.total_days() / period_days).alias("T"),
            "monetary_value",
        )
        .sort("customer_id")
        .collect()
    )
    return summary.cast(SUMMARY_SCHEMA)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ClvModel:
    """A fitted purchase model and spend model, with the period length they were fitted in."""

    purchases: BetaGeo | ParetoNBD
    values: GammaGamma
    period_days: float
    customers: int
    repeat_buyers: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for storing beside a churn model or in a snapshot."""
        return {
            "purchases": {"model": _model_name(self.purchases), **self.purchases.to_dict()},
            "values": {"model": "gamma-gamma", **self.values.to_dict()},
            "period_days": self.period_days,
            "customers": self.customers,
            "repeat_buyers": self.repeat_buyers,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClvModel:
        try:
            purchases = dict(data["purchases"])
            kind = purchases.pop("model")
            classes: dict[str, type[BetaGeo] | type[ParetoNBD]] = {"bg/nbd": BetaGeo, "pareto/nbd": ParetoNBD}
            model_class = classes[kind]
            values = dict(data["values"])
            values.pop("model", None)
            return cls(
                purchases=model_class(**purchases),
                values=GammaGamma(**values),
                period_days=float(data["period_days"]),
                customers=int(data["customers"]),
                repeat_buyers=int(data["repeat_buyers"]),
            )
        except (KeyError, TypeError) as error:
            raise ClvError(f"not a stored customer-value model: {error}") from error


def _model_name(model: BetaGeo | ParetoNBD) -> str:
    return "bg/nbd" if isinstance(model, BetaGeo) else "pareto/nbd"


def fit_clv(
    summary: pl.DataFrame,
    *,
    period_days: float = 7,
    model: str = "bg/nbd",
    min_customers: int = MIN_CUSTOMERS,
    min_repeat_buyers: int = MIN_REPEAT_BUYERS,
) -> ClvModel:
    """Fit the purchase model on everyone in ``summary`` and Gamma-Gamma on its repeat buyers with a value.

    ``period_days`` must be the one the summary was built with."""
    if model not in ("bg/nbd", "pareto/nbd"):
        raise ClvError(f"unknown purchase model {model!r}: use 'bg/nbd' or 'pareto/nbd'")
    customers = summary.height
    if customers < min_customers:
        raise ClvError(
            f"not enough history to fit customer value: {customers} customers with a purchase, need {min_customers}"
        )
    frequency = summary["frequency"].to_numpy().astype(np.float64)
    monetary = summary["monetary_value"].to_numpy().astype(np.float64)
    buyers = (frequency > 0) & (monetary > 0)
    repeat_buyers = int(buyers.sum())
    if repeat_buyers < min_repeat_buyers:
        raise ClvError(
            f"not enough history to fit customer value: {repeat_buyers} customers bought again with an amount, "
            f"need {min_repeat_buyers}"
        )
    recency, age = summary["recency"].to_numpy(), summary["T"].to_numpy()
    purchases = (BetaGeo if model == "bg/nbd" else ParetoNBD).fit(frequency, recency, age)
    values = GammaGamma.fit(frequency[buyers], monetary[buyers])
    return ClvModel(purchases, values, float(period_days), customers, repeat_buyers)


def customer_lifetime_value(
    purchases: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    order_value: ArrayLike,
    *,
    horizon: float,
    step: float,
    discount_rate: float,
) -> FloatArray:
    """Discounted value of each customer's purchases in the next ``horizon`` periods.

    The horizon is cut into steps of ``step`` periods (a month, say); the purchases expected in step i are
    valued at ``order_value`` and discounted by (1 + discount_rate)^i, discount_rate being per step.
    """
    if horizon < 0 or step <= 0 or discount_rate <= -1:
        raise ClvError(
            f"need horizon >= 0, step > 0, discount_rate > -1; got {horizon}, {step}, {discount_rate}"
        )
    value = as_float_array(order_value, "order_value")
    total = np.zeros_like(value)
    previous = np.zeros_like(value)
    for i in range(1, math.ceil(horizon / step - 1e-9) + 1):
        cumulative = purchases.conditional_expected_purchases(min(i * step, horizon), frequency, recency, T)
        total += (cumulative - previous) * value / (1 + discount_rate) ** i
        previous = cumulative
    return total


def predict_clv(
    model: ClvModel,
    summary: pl.DataFrame,
    *,
    horizon_days: float = 365,
    annual_discount_rate: float = 0.10,
) -> pl.DataFrame:
    """customer_id, p_alive, expected_purchases and expected_value (undiscounted) over the horizon,
    expected_order_value, and clv (discounted monthly) for each row of ``summary``."""
    frequency = summary["frequency"].to_numpy().astype(np.float64)
    recency, age = summary["recency"].to_numpy(), summary["T"].to_numpy()
    monetary = summary["monetary_value"].to_numpy().astype(np.float64)
    horizon = horizon_days / model.period_days
    # Customers whose repeat purchases carried no amount get the population's expected order value.
    known = (frequency > 0) & (monetary > 0)
    order_value = model.values.conditional_expected_value(np.where(known, frequency, 0), monetary)
    expected = model.purchases.conditional_expected_purchases(horizon, frequency, recency, age)
    clv = customer_lifetime_value(
        model.purchases,
        frequency,
        recency,
        age,
        order_value,
        horizon=horizon,
        step=DAYS_PER_MONTH / model.period_days,
        discount_rate=(1 + annual_discount_rate) ** (1 / 12) - 1,
    )
    return pl.DataFrame(
        {
            "customer_id": summary["customer_id"],
            "p_alive": model.purchases.probability_alive(frequency, recency, age),
            "expected_purchases": expected,
            "expected_order_value": order_value,
            "expected_value": expected * order_value,
            "clv": clv,
        }
    )


def score_clv(
    extract: TimelineExtract,
    as_of: dt.datetime,
    *,
    period_days: float = 7,
    horizon_days: float = 365,
    annual_discount_rate: float = 0.10,
    model: str = "bg/nbd",
) -> tuple[ClvModel, pl.DataFrame]:
    """Fit on the history before ``as_of`` and score every customer with a purchase.

    Customers marked lost before ``as_of`` keep their expected order value but get p_alive, expected
    purchases, expected value and clv of 0: the timeline says they have gone, whatever the model infers."""
    summary = rfm_summary(extract, as_of, period_days)
    fitted = fit_clv(summary, period_days=period_days, model=model)
    scores = predict_clv(
        fitted, summary, horizon_days=horizon_days, annual_discount_rate=annual_discount_rate
    )
    customers = pl.from_arrow(extract.customers.select(["customer_id", "lost_at"]))
    assert isinstance(customers, pl.DataFrame)
    lost = customers.filter(pl.col("lost_at") < _utc(as_of, "as_of"))["customer_id"]
    gone = pl.col("customer_id").is_in(lost.implode())
    zeroed = ["p_alive", "expected_purchases", "expected_value", "clv"]
    return fitted, scores.with_columns(pl.when(gone).then(0.0).otherwise(pl.col(c)).alias(c) for c in zeroed)
