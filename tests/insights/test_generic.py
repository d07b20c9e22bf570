"""The generic CSV path (subscriptions + events) into the same extract and features, and its errors by line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tenure.insights.features import build_features, churn_labels
from tenure.insights.generic import GenericImportError, extract_from_csv, parse_time

UTC = dt.UTC


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def files(tmp_path: Path, subscriptions: str, events: str) -> tuple[Path, Path]:
    return write(tmp_path / "subs.csv", subscriptions), write(tmp_path / "events.csv", events)


GOOD_SUBSCRIPTIONS = """customer,start,end,monthly_value
a,2024-01-01,2024-06-30T00:00:00Z,30
a,2024-07-01T00:00:00+00:00,,45.5
b,2024-02-15T10:00:00+01:00,2024-09-01T00:00:00Z,20
c,2024-03-01,,10
"""
GOOD_EVENTS = """customer,time,type,department,ref
a,2024-05-01T09:00:00Z,request.received,billing,T1
a,2024-05-01T12:00:00Z,request.answered,,T1
b,2024-08-01T09:00:00Z,request.received,service,T2
b,2024-08-03T09:00:00Z,request.callback,service,T2
"""


def test_subscriptions_and_events_become_a_timeline(tmp_path: Path) -> None:
    extract = extract_from_csv(*files(tmp_path, GOOD_SUBSCRIPTIONS, GOOD_EVENTS))
    people = {row["external_ref"]: row for row in extract.customers.to_pylist()}
    assert set(people) == {"a", "b", "c"}
    assert people["a"]["joined_at"] == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert people["a"]["lost_at"] is None and people["a"]["lifecycle"] == "active"
    assert people["b"]["joined_at"] == dt.datetime(2024, 2, 15, 9, tzinfo=UTC)  # +01:00 read as UTC
    assert people["b"]["lost_at"] == dt.datetime(2024, 9, 1, tzinfo=UTC)
    kinds = sorted(
        (row["kind"], row["amount"])
        for row in extract.events.to_pylist()
        if row["customer_id"] == people["a"]["customer_id"]
    )
    assert kinds == [
        ("customer.created", None),
        ("plan.changed", 45.5),
        ("request.answered", None),
        ("request.received", None),
        ("subscription.started", 30.0),
    ]

    # The same features and labels as the app's own timeline, with no code of their own.
    as_of = dt.datetime(2024, 8, 15, tzinfo=UTC)
    features = {row["customer_id"]: row for row in build_features(extract, as_of).to_dicts()}
    a, b = features[people["a"]["customer_id"]], features[people["b"]["customer_id"]]
    assert a["plan_value"] == 45.5 and a["unanswered_requests_365d"] == 0
    assert b["unanswered_requests_30d"] == 1 and b["callbacks_30d"] == 1 and b["plan_value"] == 20
    labels = {row["customer_id"]: row["churned"] for row in churn_labels(extract, as_of, 30).to_dicts()}
    assert labels == {people[key]["customer_id"]: int(key == "b") for key in "abc"}


def test_events_alone_make_the_customers(tmp_path: Path) -> None:
    events = write(
        tmp_path / "e.csv",
        "customer,time,type,amount\nx,2024-01-05T00:00:00Z,order.placed,12.5\n"
        "x,2024-03-05T00:00:00Z,customer.lost,\ny,2024-02-01T00:00:00Z,order.placed,7\n",
    )
    extract = extract_from_csv(None, events)
    people = {row["external_ref"]: row for row in extract.customers.to_pylist()}
    assert people["x"]["lost_at"] == dt.datetime(2024, 3, 5, tzinfo=UTC)
    assert people["y"]["joined_at"] == dt.datetime(2024, 2, 1, tzinfo=UTC)
    assert sorted(extract.events["amount"].drop_null().to_pylist()) == [7.0, 12.5]


def test_every_bad_line_is_named(tmp_path: Path) -> None:
    subscriptions = """customer,start,end,monthly_value
a,2024-01-01T00:00:00Z,2024-06-30T00:00:00Z,30
a,2024-06-01T00:00:00Z,,40
b,2024-05-01T00:00:00Z,2024-04-01T00:00:00Z,20
c,2024-05-01 10:00:00,,20
d,2024-05-01T00:00:00Z,,lots
"""
    events = """customer,time,type
a,2024-02-01T00:00:00Z,request.received
zed,2024-02-01T00:00:00Z,request.received
a,2024-02-01T09:00,request.answered
a,2024-02-01T00:00:00Z,
d,2024-02-01T00:00:00Z,order.placed
"""
    with pytest.raises(GenericImportError) as caught:
        extract_from_csv(*files(tmp_path, subscriptions, events))
    assert caught.value.errors == [
        "subs.csv line 4: end 2024-04-01T00:00:00Z is before start 2024-05-01T00:00:00Z",
        "subs.csv line 5: start '2024-05-01 10:00:00' has no time zone (add Z or an offset such as +01:00)",
        "subs.csv line 6: monthly_value 'lots' is not a number",
        "subs.csv line 3: subscription of customer 'a' overlaps the one on line 2",
        "events.csv line 3: unknown customer 'zed' (not in the subscriptions file)",
        "events.csv line 4: time '2024-02-01T09:00' has no time zone (add Z or an offset such as +01:00)",
        "events.csv line 5: type is empty",
    ]
    assert "7 problem(s)" in str(caught.value)


def test_file_level_problems(tmp_path: Path) -> None:
    with pytest.raises(GenericImportError, match=r"subs\.csv line 1: missing column\(s\) end, monthly_value"):
        extract_from_csv(write(tmp_path / "subs.csv", "customer,start\na,2024-01-01\n"), None)
    with pytest.raises(GenericImportError, match=r"e\.csv: the file is empty"):
        extract_from_csv(None, write(tmp_path / "e.csv", ""))
    with pytest.raises(GenericImportError, match="no customers"):
        extract_from_csv(None, write(tmp_path / "e.csv", "customer,time,type\n"))
    with pytest.raises(GenericImportError, match="line 2: 2 values for 3 columns"):
        extract_from_csv(None, write(tmp_path / "e.csv", "customer,time,type\na,2024-01-01\n"))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("customer,time,type\nJosé,2024-01-01,x\n".encode("latin-1"))
    with pytest.raises(GenericImportError, match="not UTF-8"):
        extract_from_csv(None, latin)
    with pytest.raises(ValueError, match="give a subscriptions file"):
        extract_from_csv(None, None)


def test_times() -> None:
    assert parse_time("2024-03-01") == dt.datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_time(" 2024-03-01T10:00:00-05:00 ") == dt.datetime(2024, 3, 1, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_time("yesterday")
