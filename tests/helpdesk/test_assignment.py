"""Assignment: least-loaded and round-robin with capacity and skills, retries, and two concurrent assigners on
PostgreSQL that never assign a request twice nor push an agent past capacity."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.sweeper import claim_due
from tenure.customers.models import Customer
from tenure.helpdesk import assignment, services
from tenure.helpdesk.models import OPEN_STATUSES, AgentProfile, Department, Request


def open_request(customer: Customer, subject: str = "help") -> Request:
    now = timezone.now()
    return Request.objects.create(
        customer=customer,
        channel="email",
        subject=subject,
        created_at=now,
        last_message_at=now,
        assignment_due_at=now,
    )


@pytest.mark.django_db
def test_least_loaded_agent_with_skills_gets_the_request(
    customer: Customer, make_agent: Callable[..., User]
) -> None:
    busy = make_agent("busy")
    make_agent("billing-only", departments=("billing",))
    free = make_agent("free")
    open_request(customer).__class__.objects.update(assignee=busy)  # busy already has one open request
    got = services.receive_message(customer=customer, channel="email", subject="Boiler", body="no heat")
    assert got.request.assignee == free
    assigned = Event.objects.get(kind="request.assigned")
    assert assigned.payload["assignee"] == "free" and assigned.payload["automatic"] is True


@pytest.mark.django_db
def test_round_robin_takes_turns(
    make_customer: Callable[..., Customer], make_agent: Callable[..., User], settings: SettingsWrapper
) -> None:
    settings.TENURE_HELPDESK_ASSIGNMENT = "round_robin"
    agents = [make_agent(name) for name in ("a", "b", "c")]
    # A customer each, so no message is taken for a repeat contact of the one before.
    owners = [
        services.receive_message(
            customer=make_customer(), channel="sms", body=f"question {n}"
        ).request.assignee
        for n in range(6)
    ]
    assert owners == agents + agents


@pytest.mark.django_db
def test_nobody_available_then_the_sweeper_assigns_when_someone_is(
    customer: Customer, make_agent: Callable[..., User]
) -> None:
    away = make_agent("away", available=False)
    got = services.receive_message(customer=customer, channel="email", body="hello")
    request = Request.objects.get(pk=got.request.pk)
    assert request.assignee is None and request.assignment_due_at is not None
    AgentProfile.objects.filter(user=away).update(available=True)
    assert assignment.retry_unassigned_now() == 1
    assert assignment.sweep(timezone.now()) == 1
    assert Request.objects.get(pk=request.pk).assignee == away


@pytest.mark.django_db
def test_capacity_holds_and_skills_are_respected(customer: Customer, make_agent: Callable[..., User]) -> None:
    make_agent("small", max_open=2, departments=("billing",))
    billing = Department.objects.get(slug="billing")
    requests = [open_request(customer) for _ in range(4)]
    Request.objects.filter(pk__in=[r.pk for r in requests]).update(department=billing)
    other = open_request(customer)
    Request.objects.filter(pk=other.pk).update(department=Department.objects.get(slug="sales"))
    assert assignment.sweep(timezone.now()) == 2
    assert Request.objects.filter(assignee__isnull=False).count() == 2
    assert Request.objects.get(pk=other.pk).assignee is None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_assigners_fill_every_seat_once_without_overfilling(
    make_agent: Callable[..., User], make_customer: Callable[..., Customer]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED claims are a PostgreSQL feature; SQLite runs one writer at a time")
    agents = [make_agent(f"agent{n}", max_open=4) for n in range(3)]
    customer = make_customer()
    requests = [open_request(customer, f"r{n}") for n in range(20)]
    now = timezone.now()
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait()
            # Rounds a retry interval apart: a request that found every seat taken at that moment is tried
            # again, as the sweeper does, so in the end every seat is filled.
            for round_ in range(12):
                assignment.sweep(now + dt.timedelta(seconds=61 * round_), limit=2)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    events = Counter(
        Event.objects.filter(kind="request.assigned").values_list("payload__request_id", flat=True)
    )
    assert events and max(events.values()) == 1  # no request assigned twice
    loads = Counter(
        Request.objects.filter(status__in=OPEN_STATUSES, assignee__isnull=False).values_list(
            "assignee_id", flat=True
        )
    )
    # Every seat filled, nobody over capacity, each assignment once (and no deadlock: `errors` is empty).
    assert sum(loads.values()) == len(events) == 12
    assert all(loads[agent.pk] == 4 for agent in agents)
    unassigned = Request.objects.filter(pk__in=[r.pk for r in requests], assignee__isnull=True).count()
    assert unassigned == len(requests) - sum(loads.values())


@pytest.mark.django_db(transaction=True)
def test_a_claimed_request_does_not_hide_the_same_customers_other_requests(
    make_customer: Callable[..., Customer],
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED claims are a PostgreSQL feature; SQLite runs one writer at a time")
    customer = make_customer()
    first, second = open_request(customer, "first"), open_request(customer, "second")
    due = Request.objects.filter(assignee__isnull=True).select_related("customer")
    holding, done = threading.Event(), threading.Event()
    held: list[int] = []

    def hold_one() -> None:
        try:
            with transaction.atomic():
                held.extend(r.pk for r in claim_due(due, "assignment_due_at", timezone.now(), limit=1))
                holding.set()
                done.wait(timeout=60)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_one)
    holder.start()
    try:
        assert holding.wait(timeout=60)
        with transaction.atomic():
            # The customer row is joined but must not be locked: only the claimed request is.
            other = [r.pk for r in claim_due(due, "assignment_due_at", timezone.now(), limit=1)]
    finally:
        done.set()
        holder.join()
    assert held and other and {*held, *other} == {first.pk, second.pk}
