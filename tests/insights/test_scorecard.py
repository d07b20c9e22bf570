"""The practice scorecard on hand-built timelines with known shares, and "no data yet" where kinds are absent."""

from __future__ import annotations

import datetime as dt
import json

from tenure.insights.scorecard import practice_scorecard

from .handmade import Builder

UTC = dt.UTC
AS_OF = dt.datetime(2024, 7, 1, tzinfo=UTC)


def at(days_before: float) -> dt.datetime:
    return AS_OF - dt.timedelta(days=days_before)


def test_each_practice_counts_its_cases() -> None:
    b = Builder()
    b.customer(1, at(60))  # new, asks, answered after 2 hours
    b.event(1, "request.received", at(50), ref="R1", department="service")
    b.event(1, "request.answered", at(50) + dt.timedelta(hours=2), ref="R1", response_hours=2.0)
    b.customer(2, at(40))  # new, asks, never answered; chases it
    b.event(2, "request.received", at(30), ref="R2", department="billing")
    b.event(2, "request.callback", at(29), ref="R2", department="billing")
    b.customer(3, at(400))  # old customer: not "new"; answered after 20 hours (outside an 8-hour SLA)
    b.event(3, "request.received", at(20), ref="R3")
    b.event(3, "request.answered", at(20) + dt.timedelta(hours=20), ref="R3", response_hours=20.0)
    b.customer(4, at(500))  # not contacted for 200 days
    b.event(4, "order.placed", at(200), ref="O4")
    # Orders: two scheduled within a day, one not; one acknowledged in writing.
    for cid, ref in ((1, "O1"), (3, "O3"), (2, "O2")):
        b.event(cid, "order.placed", at(10), ref=ref)
    b.event(1, "job.scheduled", at(10) + dt.timedelta(hours=1), ref="J1")
    b.event(3, "job.scheduled", at(10) + dt.timedelta(hours=3), ref="J3")
    b.event(2, "job.scheduled", at(7), ref="J2")
    b.event(1, "message.sent", at(10) + dt.timedelta(hours=5))
    # Jobs: one missed then completed (fixed), one completed and surveyed a day later.
    b.event(2, "job.missed", at(9), ref="J2")
    b.event(2, "job.completed", at(8.5), ref="J2")
    b.event(1, "job.completed", at(9), ref="J1")
    b.event(1, "survey.answered", at(8), nps=9.0)
    metrics = {m.key: m for m in practice_scorecard(b.build(), AS_OF).metrics}

    def share(key: str) -> tuple[int, int]:
        return metrics[key].numerator, metrics[key].denominator

    assert share("new_customers_answered") == (1, 2)
    assert metrics["new_customers_answered"].detail == "median 2.0 hours to the first answer"
    assert share("orders_acknowledged") == (1, 3)
    assert share("process_explained") == (2, 3)
    assert share("orders_followed_up") == (1, 2)
    # The missed job was completed the next day; the chased request R2 was never answered.
    assert share("problems_fixed") == (1, 2)
    assert share("customers_contacted") == (3, 4)
    assert share("requests_within_sla") == (1, 3)
    assert metrics["requests_within_sla"].value == 1 / 3


def test_absent_kinds_show_no_data_rather_than_zero() -> None:
    b = Builder()
    b.customer(1, at(100))
    b.event(1, "order.placed", at(20))
    card = practice_scorecard(b.build(), AS_OF)
    metrics = {m.key: m for m in card.metrics}
    for key in ("orders_acknowledged", "process_explained", "orders_followed_up", "new_customers_answered"):
        assert metrics[key].value is None and metrics[key].detail == "no data yet", key
    assert metrics["customers_contacted"].value == 0.0  # the kinds exist in principle; nobody was contacted
    assert card.table[1][1] == "no data yet"
    json.dumps(card.to_dict())
