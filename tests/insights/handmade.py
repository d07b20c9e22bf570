"""Small timelines built by hand for the analytics tests (retention, drivers, scorecard)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from tenure.insights.extract import CUSTOMERS_SCHEMA, EVENTS_SCHEMA, TimelineExtract

UTC = dt.UTC


def day(year: int, month: int, d: int, hour: float = 12.0) -> dt.datetime:
    return dt.datetime(year, month, d, tzinfo=UTC) + dt.timedelta(hours=hour)


@dataclass
class Builder:
    """Collects customers and events, then makes a TimelineExtract."""

    customers: list[dict[str, Any]]
    events: list[dict[str, Any]]

    def __init__(self) -> None:
        self.customers, self.events = [], []

    def customer(
        self,
        cid: int,
        joined: dt.datetime,
        *,
        lost: dt.datetime | None = None,
        lifecycle: str | None = None,
        kind: str = "person",
        created_event: bool = True,
    ) -> None:
        self.customers.append(
            {
                "customer_id": cid,
                "joined_at": joined,
                "lifecycle": lifecycle or ("lost" if lost else "active"),
                "lost_at": lost,
                "lost_reason": "price" if lost else None,
                "kind": kind,
            }
        )
        if created_event:
            self.event(cid, "customer.created", joined, channel="system")
        if lost is not None:
            self.event(cid, "customer.lost", lost, channel="system")

    def event(self, cid: int, kind: str, at: dt.datetime, **values: Any) -> None:
        unknown = set(values) - set(EVENTS_SCHEMA.names)
        assert not unknown, unknown
        self.events.append({"customer_id": cid, "kind": kind, "occurred_at": at, **values})

    def build(self) -> TimelineExtract:
        def table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
            return pa.table(
                {f.name: pa.array([r.get(f.name) for r in rows], f.type) for f in schema}, schema=schema
            )

        return TimelineExtract(
            events=table(self.events, EVENTS_SCHEMA), customers=table(self.customers, CUSTOMERS_SCHEMA)
        )
