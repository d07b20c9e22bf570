"""Who was a customer when: join and loss times under a churn definition, shared by retention and drivers.

Times are handled as int64 microseconds since the epoch (UTC) so the arithmetic is plain numpy.
A "customer" here is anyone on the customer table who is not a prospect and joined before `as_of`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
US_PER_DAY = 86_400 * 1_000_000
US_PER_HOUR = 3_600 * 1_000_000
DAYS_PER_MONTH = 30.4375
US_PER_MONTH = int(DAYS_PER_MONTH * US_PER_DAY)
US_PER_YEAR = 365 * US_PER_DAY


class Timeline(Protocol):
    """What the analytics read: `TimelineExtract` from insights.extract satisfies it."""

    @property
    def events(self) -> pa.Table: ...

    @property
    def customers(self) -> pa.Table: ...


@dataclass(frozen=True)
class TimelinePart:
    """Part of a timeline (some customers, some events, or only the columns a caller read). Unlike
    `TimelineExtract` it does not insist on every column of the extract's schema."""

    events: pa.Table
    customers: pa.Table


def restricted_to(timeline: Timeline, customer_ids: np.ndarray) -> TimelinePart:
    """The timeline of these customers only, so later joins and group-bys touch only their rows."""
    wanted = pa.array(customer_ids, type=timeline.events.schema.field("customer_id").type)

    def keep(table: pa.Table) -> pa.Table:
        return table.filter(pc.is_in(table["customer_id"], value_set=wanted))

    return TimelinePart(keep(timeline.events), keep(timeline.customers))


def events_since(timeline: Timeline, since: int) -> TimelinePart:
    """The timeline with only the events at or after `since` (µs), so later work skips the rest."""
    occurred = timeline.events["occurred_at"]
    start = pa.scalar(from_us(since), type=occurred.type)
    return TimelinePart(timeline.events.filter(pc.greater_equal(occurred, start)), timeline.customers)


def to_us(when: dt.datetime, name: str = "as_of") -> int:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must carry a time zone, got {when.isoformat()}")
    return (when.astimezone(UTC) - EPOCH) // dt.timedelta(microseconds=1)


def from_us(us: int | np.integer[Any]) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(us))


def month_starts(first_us: int, last_us: int) -> list[int]:
    """First-of-month instants (UTC) from the first one at or after `first_us` up to `last_us` inclusive."""
    first = from_us(first_us)
    month = dt.datetime(first.year, first.month, 1, tzinfo=UTC)
    if month < first:
        month = _next_month(month)
    out: list[int] = []
    while (us := to_us(month)) <= last_us:
        out.append(us)
        month = _next_month(month)
    return out


def _next_month(month: dt.datetime) -> dt.datetime:
    return (
        month.replace(year=month.year + 1, month=1)
        if month.month == 12
        else month.replace(month=month.month + 1)
    )


def events_frame(
    timeline: Timeline, kinds: Iterable[str] | None = None, columns: Iterable[str] = ()
) -> pl.DataFrame:
    """Events (optionally of some kinds) as customer_id, kind, t (µs) plus the requested columns."""
    table = timeline.events
    if kinds is not None:
        table = table.filter(
            pc.is_in(table["kind"], value_set=pa.array(sorted(set(kinds)), type=pa.string()))
        )
    wanted = ["customer_id", "kind", "occurred_at", *[c for c in columns if c not in ("customer_id", "kind")]]
    frame = pl.from_arrow(table.select(wanted))
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(t=pl.col("occurred_at").dt.epoch("us")).drop("occurred_at")


def observation_start(timeline: Timeline) -> int | None:
    """When the data begins: the first event that is not a customer.* status change (the created
    and lapsed events of an old customer base are back-dated to their true dates), else the first join."""
    events = timeline.events
    status = pc.starts_with(events["kind"], pattern="customer.")
    other = events.filter(pc.invert(pc.fill_null(status, False)))["occurred_at"]
    first = pc.min(other).as_py() if len(other) else None
    if first is None and len(timeline.customers):
        first = pc.min(timeline.customers["joined_at"]).as_py()
    return None if first is None else to_us(first, "first event time")


@dataclass(frozen=True)
class Subscription:
    """Lost when the customer is marked lost (lost_at, a customer.lost event) or the contract ends."""

    end_kinds: tuple[str, ...] = ("customer.lost", "subscription.ended", "contract.ended")
    label: str = "lost = marked lost or contract ended"


PAlive = Callable[[Timeline, dt.datetime], pl.DataFrame]


@dataclass(frozen=True)
class RepeatPurchase:
    """Lost once the probability of being alive falls below `threshold` (or when marked lost).

    `p_alive` is either a frame (customer_id, p_alive) computed at `as_of` — then only the status at
    `as_of` is known — or a callable (timeline, when) -> that frame, evaluated at every month start so
    that churn by month can be traced (e.g. the BG/NBD P(alive) from insights.clv).
    """

    p_alive: PAlive | pl.DataFrame
    threshold: float = 0.5
    label: str = "lost = probability still a customer below the threshold"


Definition = Subscription | RepeatPurchase


def customer_spans(
    timeline: Timeline,
    as_of: dt.datetime,
    definition: Definition | None = None,
    checkpoints: list[int] | None = None,
) -> pl.DataFrame:
    """One row per customer who joined before `as_of`: customer_id, joined, lost (µs, null while
    still a customer at `as_of`), kind. `checkpoints` are the instants a repeat-purchase
    definition is evaluated at (month starts); `as_of` is always one of them."""
    definition = definition or Subscription()
    as_of_us = to_us(as_of)
    frame = pl.from_arrow(
        timeline.customers.select(["customer_id", "joined_at", "lifecycle", "lost_at", "kind"])
    )
    assert isinstance(frame, pl.DataFrame)
    customers = frame.with_columns(
        joined=pl.col("joined_at").dt.epoch("us"), marked_lost=pl.col("lost_at").dt.epoch("us")
    ).filter((pl.col("lifecycle").fill_null("") != "prospect") & (pl.col("joined") < as_of_us))
    end_kinds = definition.end_kinds if isinstance(definition, Subscription) else ("customer.lost",)
    ends = (
        events_frame(timeline, end_kinds)
        .filter(pl.col("t") <= as_of_us)
        .group_by("customer_id")
        .agg(ended=pl.col("t").min())
    )
    customers = customers.join(ends, on="customer_id", how="left").with_columns(
        lost=pl.min_horizontal(
            pl.when(pl.col("marked_lost") <= as_of_us).then(pl.col("marked_lost")), pl.col("ended")
        )
    )
    if isinstance(definition, RepeatPurchase):
        customers = _apply_p_alive(timeline, customers, definition, as_of_us, checkpoints or [])
    # A loss recorded before the join (bad data) would give negative tenure: treat it as at the join.
    customers = customers.with_columns(
        lost=pl.when(pl.col("lost").is_not_null()).then(pl.max_horizontal("lost", "joined"))
    )
    return customers.select("customer_id", "joined", "lost", pl.col("kind").fill_null("")).sort("customer_id")


def _apply_p_alive(
    timeline: Timeline,
    customers: pl.DataFrame,
    definition: RepeatPurchase,
    as_of_us: int,
    checkpoints: list[int],
) -> pl.DataFrame:
    if isinstance(definition.p_alive, pl.DataFrame):
        evaluations = [(as_of_us, definition.p_alive)]
    else:
        instants = sorted({*(c for c in checkpoints if c < as_of_us), as_of_us})
        evaluations = [(c, definition.p_alive(timeline, from_us(c))) for c in instants]
    drops = []
    for instant, scores in evaluations:
        if not {"customer_id", "p_alive"} <= set(scores.columns):
            raise ValueError(f"p_alive frame needs columns customer_id and p_alive, got {scores.columns}")
        drops.append(
            scores.filter(pl.col("p_alive") < definition.threshold).select(
                "customer_id", dropped=pl.lit(instant)
            )
        )
    first_drop = pl.concat(drops).group_by("customer_id").agg(dropped=pl.col("dropped").min())
    return (
        customers.join(first_drop, on="customer_id", how="left")
        .with_columns(
            dropped=pl.when(pl.col("dropped") > pl.col("joined")).then(pl.col("dropped")),
        )
        .with_columns(lost=pl.min_horizontal("lost", "dropped"))
    )


def active_at(instant_us: int) -> pl.Expr:
    """A customer at an instant: joined before it and not lost by then."""
    return (pl.col("joined") < instant_us) & (pl.col("lost").is_null() | (pl.col("lost") >= instant_us))
