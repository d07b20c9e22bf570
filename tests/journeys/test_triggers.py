"""Events on the timeline enroll, move dated facts, and end enrollments; the built-ins are seeded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox_models import OutboundMessage
from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.journeys.builtins import seed_builtins
from tenure.journeys.models import DatedFact, Enrollment, Journey, MessageTemplate, StepRun, Task
from tenure.journeys.runner import run_due
from tenure.journeys.services import advance_process, import_yaml, save_journey

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_holdouts(db: None) -> None:
    """These tests follow messages; holdouts have their own test."""
    Journey.objects.update(holdout_percent=0)


def enrollments(key: str, customer: Customer) -> list[Enrollment]:
    return list(Enrollment.objects.filter(journey__key=key, customer=customer).order_by("id"))


def test_builtins_are_seeded_once_and_never_overwritten() -> None:
    keys = set(Journey.objects.filter(builtin=True).values_list("key", flat=True))
    assert {
        "order-acknowledgement", "mortgage-status", "payment-due-reminder", "payment-overdue", "renewal-reminder",
        "appointment-reminder", "check-in", "stay-in-touch", "anniversary", "heads-up-price", "win-back",
    } <= keys  # fmt: skip
    Journey.objects.filter(key="check-in").update(name="Edited by the owner", holdout_percent=25)
    seed_builtins()
    edited = Journey.objects.get(key="check-in")
    assert (edited.name, edited.holdout_percent) == ("Edited by the owner", 25)


def test_an_order_is_acknowledged_with_the_steps_ahead(customer: Customer) -> None:
    record_event(customer_id=customer.pk, kind="order.placed", payload={"order": "A-1001"})
    [enrollment] = enrollments("order-acknowledgement", customer)
    run_due(timezone.now())
    message = OutboundMessage.objects.get(idempotency_key=f"journey:{enrollment.pk}:acknowledge")
    assert message.subject == "We have your order A-1001"
    assert "- Work scheduled: within 2 days" in message.body
    assert "- Invoice sent: within 8 days" in message.body
    assert message.purpose == "transactional"


def test_every_mortgage_stage_sends_a_status_update(customer: Customer) -> None:
    for stage in ("documents", "underwriting", "approval", "closing"):
        advance_process(customer=customer, type_key="mortgage", ref="M-77", stage=stage)
    advance_process(
        customer=customer, type_key="mortgage", ref="M-77", stage="closing"
    )  # no change, no event
    assert len(enrollments("mortgage-status", customer)) == 4
    run_due(timezone.now())
    bodies = list(
        OutboundMessage.objects.filter(subject__startswith="Your mortgage application M-77")
        .order_by("id")
        .values_list("subject", "body")
    )
    assert [subject.split(": ")[1] for subject, _ in bodies] == [
        "Documents needed",
        "Underwriting",
        "Approval",
        "Closing",
    ]
    assert "Underwriting (about 10 days)" in bodies[0][1]
    assert "Congratulations" in bodies[3][1]
    assert Task.objects.get(customer=customer).title == "Call about the missing documents"


def test_payment_due_reminder_counts_from_the_due_date_and_payment_ends_it(customer: Customer) -> None:
    due = timezone.now() + dt.timedelta(days=10)
    record_event(
        customer_id=customer.pk,
        kind="payment.due",
        payload={"invoice": "INV-9", "due_at": due.isoformat(), "amount": "120.00"},
    )
    fact = DatedFact.objects.get(customer=customer, kind="payment_due")
    assert fact.ref == "INV-9"
    [reminder] = enrollments("payment-due-reminder", customer)
    [overdue] = enrollments("payment-overdue", customer)
    assert abs(reminder.next_step_at - (due - dt.timedelta(days=3))) < dt.timedelta(seconds=1)
    assert abs(overdue.next_step_at - (due + dt.timedelta(days=3))) < dt.timedelta(seconds=1)
    run_due(due - dt.timedelta(days=3))
    reminder.refresh_from_db()
    assert reminder.state == "completed", reminder.reason
    message = OutboundMessage.objects.get(idempotency_key=f"journey:{reminder.pk}:remind")
    assert "Amount: 120.00" in message.body and message.purpose == "reminders"
    # A payment for another invoice ends nothing; this one's ends the overdue follow-up.
    record_event(customer_id=customer.pk, kind="payment.received", payload={"invoice": "INV-8"})
    overdue.refresh_from_db()
    assert overdue.state == "active"
    record_event(customer_id=customer.pk, kind="payment.received", payload={"invoice": "INV-9"})
    overdue.refresh_from_db()
    assert overdue.state == "exited" and overdue.next_step_at is None
    assert Event.objects.filter(customer=customer, kind="journey.exited").exists()


def test_a_moved_date_reschedules(customer: Customer) -> None:
    first = timezone.now() + dt.timedelta(days=5)
    record_event(
        customer_id=customer.pk,
        kind="appointment.scheduled",
        payload={"appointment": "J1", "starts_at": first.isoformat()},
    )
    record_event(
        customer_id=customer.pk,
        kind="appointment.scheduled",
        payload={"appointment": "J1", "starts_at": (first + dt.timedelta(days=2)).isoformat()},
    )
    old, new = enrollments("appointment-reminder", customer)
    assert old.state == "exited" and new.state == "active"
    assert abs(new.next_step_at - (first + dt.timedelta(days=1))) < dt.timedelta(seconds=1)


def test_a_reply_ends_stay_in_touch_and_starts_the_count_again(customer: Customer) -> None:
    record_event(customer_id=customer.pk, kind="message.received", payload={"text": "hi"})
    [first] = enrollments("stay-in-touch", customer)
    record_event(customer_id=customer.pk, kind="message.received", payload={"text": "again"})
    first.refresh_from_db()
    assert first.state == "exited"
    second = enrollments("stay-in-touch", customer)[-1]
    assert second.state == "active" and second.next_step_at > timezone.now() + dt.timedelta(days=89)


def test_conditions_on_the_event_decide_enrollment(
    customer: Customer, hello_template: MessageTemplate
) -> None:
    save_journey(
        data={
            "key": "big-orders",
            "name": "Big orders",
            "trigger": {"event": "order.placed"},
            "conditions": [
                {"field": "event.total", "op": "gte", "value": 500},
                {"field": "customer.lifecycle", "op": "eq", "value": "active"},
            ],
            "steps": [{"id": "hi", "type": "send", "template": "hello"}],
        }
    )
    record_event(customer_id=customer.pk, kind="order.placed", payload={"order": "S", "total": 20})
    record_event(customer_id=customer.pk, kind="order.placed", payload={"order": "L", "total": 900})
    [enrollment] = enrollments("big-orders", customer)
    assert enrollment.context["event"]["order"] == "L"


def test_win_back_uses_a_rule_until_a_risk_score_exists(customer: Customer) -> None:
    record_event(customer_id=customer.pk, kind="customer.lapsed")
    assert len(enrollments("win-back", customer)) == 1


def test_holdout_customers_are_enrolled_but_not_contacted(
    make_journey: Callable[..., Journey], hello_template: MessageTemplate
) -> None:
    from tenure.customers.services import create_customer
    from tenure.journeys.holdout import is_holdout
    from tenure.journeys.services import enroll_many

    journey = make_journey(
        "held",
        holdout_percent=10,
        steps=[
            {"id": "hi", "type": "send", "template": "hello"},
            {"id": "t", "type": "task", "title": "Call"},
        ],
    )
    customers = [
        create_customer(name=f"H{i}", identities=[("email", f"h{i}@example.com")]) for i in range(200)
    ]
    enroll_many(journey=journey, customer_ids=[c.pk for c in customers], trigger_key="b")
    run_due(timezone.now())
    held = Enrollment.objects.filter(journey=journey, holdout=True)
    assert 8 <= held.count() <= 40  # 10% of 200, deterministic per customer
    assert all(is_holdout(e.customer_id, "held", 10) for e in held)
    assert StepRun.objects.filter(enrollment__in=held, status="held_out").count() == 2 * held.count()
    assert (
        OutboundMessage.objects.filter(
            idempotency_key__startswith="journey:", customer__in=[e.customer_id for e in held]
        ).count()
        == 0
    )
    assert OutboundMessage.objects.filter(template="hello:en").count() == 200 - held.count()


def test_bulk_written_history_starts_nothing(customer: Customer) -> None:
    Event.objects.bulk_create(
        [Event(customer=customer, kind="order.placed", occurred_at=timezone.now(), payload={"order": "old"})]
    )
    assert enrollments("order-acknowledgement", customer) == []


def test_a_broken_journey_never_loses_the_event(customer: Customer) -> None:
    import_yaml(
        """
journeys:
  - key: picky
    name: Picky
    trigger: {event: order.placed}
    conditions: [{field: event.total, op: gt, value: 5}]
    steps: [{id: t, type: task, title: Call}]
"""
    )
    record_event(customer_id=customer.pk, kind="order.placed", payload={"total": {"not": "a number"}})
    assert Event.objects.filter(customer=customer, kind="order.placed").count() == 1


def test_next_best_action_hook_for_insights(customer: Customer) -> None:
    from tenure.journeys.selectors import journey_for_reason
    from tenure.journeys.services import enroll_manually

    journey = journey_for_reason("no_contact")
    assert journey is not None and journey.key == "stay-in-touch"
    assert journey_for_reason("made-up") is None
    Journey.objects.filter(key="win-back").update(is_active=False)
    assert journey_for_reason("high_risk") is None
    enrollment = enroll_manually(customer=customer, journey=journey, by=None)
    assert enrollment is not None and enrollment.next_step_at is not None
