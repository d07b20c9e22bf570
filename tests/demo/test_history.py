"""The simulated company, in memory: deterministic per seed and shaped like a real business."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

import phonenumbers
import pytest

from tenure.customers.identities import normalize_identity
from tenure.demo.history import DemoData, simulate
from tenure.demo.summary import shape_from_data

END = dt.datetime(2026, 11, 1, 15, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def medium() -> DemoData:
    return simulate(seed=11, customers=1500, months=18, end=END)


def _fingerprint(data: DemoData) -> tuple[object, ...]:
    return (
        [(c.ref, c.name, c.lifecycle, c.lost_at, tuple(c.identities)) for c in data.customers],
        [(e.customer, e.kind, e.occurred_at, e.key) for e in data.events],
        [(s.username, s.password) for s in data.staff],
    )


def test_same_seed_gives_the_same_company() -> None:
    first = simulate(seed=3, customers=150, months=6, end=END)
    second = simulate(seed=3, customers=150, months=6, end=END)
    assert _fingerprint(first) == _fingerprint(second)


def test_another_seed_gives_another_company() -> None:
    first = simulate(seed=3, customers=150, months=6, end=END)
    other = simulate(seed=4, customers=150, months=6, end=END)
    assert [c.name for c in first.customers] != [c.name for c in other.customers]
    assert len(first.events) != len(other.events)


def test_staff_roles_and_admin_login() -> None:
    staff = simulate(seed=3, customers=10, months=2, end=END).staff
    assert Counter(member.role for member in staff) == {
        "admin": 1, "manager": 1, "agent": 4, "dispatcher": 1, "technician": 6,
    }  # fmt: skip
    assert staff[0].username == "admin"
    assert len({member.username for member in staff}) == len(staff)
    assert all(len(member.password) >= 10 for member in staff)


def test_shape_of_a_medium_company(medium: DemoData) -> None:
    shape = shape_from_data(medium)
    assert 0.20 <= shape.churn_12m <= 0.40
    assert 0.05 <= shape.callback_share <= 0.30
    assert set(shape.lifecycle) == {"prospect", "active", "lapsed", "lost"}
    assert shape.lifecycle["active"] > shape.lifecycle["lost"] > shape.lifecycle["lapsed"]
    kinds = shape.events_by_kind
    for kind in (
        "customer.created", "order.placed", "job.scheduled", "job.completed", "job.late", "request.received",
        "request.answered", "request.callback", "payment.received", "payment.late", "invoice.sent",
        "survey.answered", "plan.renewed", "customer.lost",
    ):  # fmt: skip
        assert kinds.get(kind, 0) > 0, kind
    assert 20 <= shape.events / shape.customers <= 80
    companies = sum(1 for c in medium.customers if c.kind == "company")
    assert 0.05 <= companies / len(medium.customers) <= 0.2
    assert all(c.contacts for c in medium.customers if c.kind == "company")


def test_every_customer_has_a_created_event_first(medium: DemoData) -> None:
    timelines: dict[int, list[tuple[dt.datetime, str]]] = defaultdict(list)
    for event in medium.events:
        timelines[event.customer].append((event.occurred_at, event.kind))
        assert event.occurred_at <= medium.end
    assert len(timelines) == len(medium.customers)
    for index, customer in enumerate(medium.customers):
        kinds = [kind for _, kind in timelines[index]]
        assert kinds.count("customer.created") == 1
        assert min(timelines[index])[1] == "customer.created"
        assert min(timelines[index])[0] == customer.created_at


def test_identities_are_valid_normalised_and_unique(medium: DemoData) -> None:
    seen: set[tuple[str, str]] = set()
    for customer in medium.customers:
        assert customer.identities
        for channel, value in customer.identities:
            assert normalize_identity(channel, value) == value
            if channel == "phone":
                assert phonenumbers.is_valid_number(phonenumbers.parse(value))
            assert (channel, value) not in seen
            seen.add((channel, value))
        for contact in customer.contacts:
            assert normalize_identity("email", contact.email) == contact.email
            assert normalize_identity("phone", contact.phone) == contact.phone


def test_lifecycles_are_consistent(medium: DemoData) -> None:
    lapse = dt.timedelta(days=180)
    by_customer: dict[int, list[str]] = defaultdict(list)
    for event in medium.events:
        by_customer[event.customer].append(event.kind)
    for index, customer in enumerate(medium.customers):
        kinds = by_customer[index]
        assert customer.last_activity_at is not None
        if customer.lifecycle == "lost":
            assert customer.lost_at is not None and customer.lost_reason
            assert kinds.count("customer.lost") == 1
        else:
            assert customer.lost_at is None and not customer.lost_reason
        if customer.lifecycle == "prospect":
            assert "order.placed" not in kinds
        if customer.lifecycle == "lapsed":
            assert medium.end - customer.last_activity_at > lapse
            assert customer.lapse_due_at is None
        if customer.lifecycle == "active":
            assert medium.end - customer.last_activity_at <= lapse
            assert customer.lapse_due_at == customer.last_activity_at + lapse


def test_idempotency_keys_are_unique(medium: DemoData) -> None:
    keys = [event.key for event in medium.events]
    assert len(set(keys)) == len(keys)


def test_bad_experiences_drive_churn(medium: DemoData) -> None:
    """Customers who left had more late jobs, slow or missing answers and call-backs per month."""
    bad_kinds = {"job.late", "job.missed", "request.callback"}
    bad: Counter[int] = Counter(e.customer for e in medium.events if e.kind in bad_kinds)
    months: dict[int, float] = {}
    for index, customer in enumerate(medium.customers):
        start = max(customer.created_at, medium.start)
        stop = customer.lost_at or medium.end
        months[index] = max(1.0, (stop - start).days / 30.4)
    lost = [i for i, c in enumerate(medium.customers) if c.lifecycle == "lost"]
    kept = [i for i, c in enumerate(medium.customers) if c.lifecycle == "active"]
    rate_lost = sum(bad[i] / months[i] for i in lost) / len(lost)
    rate_kept = sum(bad[i] / months[i] for i in kept) / len(kept)
    assert rate_lost > 1.3 * rate_kept
    reasons = Counter(medium.customers[i].lost_reason for i in lost)
    assert {"moved away", "price", "poor service", "slow response"} <= set(reasons)


def test_callbacks_follow_slow_answers(medium: DemoData) -> None:
    answer_hours: dict[str, float] = {}
    called_back: set[str] = set()
    for event in medium.events:
        if event.kind == "request.answered":
            answer_hours[event.payload["request"]] = event.payload["response_hours"]
        elif event.kind == "request.callback":
            called_back.add(event.payload["request"])
    slow = [r for r, hours in answer_hours.items() if hours > 24]
    fast = [r for r, hours in answer_hours.items() if hours < 4]
    share_slow = sum(r in called_back for r in slow) / len(slow)
    share_fast = sum(r in called_back for r in fast) / len(fast)
    assert share_slow > 3 * share_fast


def test_sizes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        simulate(seed=1, customers=0, months=6)
