"""Triage of new requests: rules first, then the classifier trained on our own resolved requests (retrain),
the triage queue below the threshold, urgency and sentiment from the lexicon; repeat contacts."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.customers.models import Customer
from tenure.helpdesk import services
from tenure.helpdesk.lexicon import read_tone
from tenure.helpdesk.models import (
    Department,
    Direction,
    Request,
    RequestMessage,
    Status,
    TriageModel,
    TriageRule,
    TriageSource,
)
from tenure.helpdesk.selectors import requests_for_view

pytestmark = pytest.mark.django_db

EXAMPLES = {
    "billing": [
        "I was charged twice on my last invoice",
        "Please refund the overpayment on my bill",
        "Why is my monthly payment higher than agreed",
        "The invoice amount is wrong",
        "Can I pay my bill by bank transfer",
        "My direct debit failed, how do I pay",
        "I need a copy of last month's invoice",
        "You billed me for a service I cancelled",
    ],
    "scheduling": [
        "Can I move my appointment to Thursday",
        "I need to reschedule the technician visit",
        "What time will the engineer arrive tomorrow",
        "Please book a service visit next week",
        "Cancel my appointment on Monday",
        "Is there an earlier slot for the inspection",
        "The technician did not show up at the booked time",
        "I'd like to book an annual maintenance visit",
    ],
    "sales": [
        "I want to buy a new heat pump, what does it cost",
        "Do you offer solar panels for my roof",
        "Send me a quote for a new boiler",
        "What plans do you offer for a small business",
        "I'd like to upgrade to the premium plan",
        "How much is installation of an air conditioner",
        "Do you have any discounts for new customers",
        "Interested in buying a second unit for the garage",
    ],
}


def resolved_history(customer: Customer) -> None:
    now = timezone.now()
    for slug, texts in EXAMPLES.items():
        department = Department.objects.get(slug=slug)
        for text in texts:
            request = Request.objects.create(
                customer=customer,
                channel="email",
                subject=text,
                status=Status.RESOLVED,
                department=department,
                created_at=now,
                last_message_at=now,
                resolved_at=now,
            )
            RequestMessage.objects.create(
                request=request, direction=Direction.INBOUND, channel="email", body=text, created_at=now
            )


def test_a_rule_decides_before_anything_else(customer: Customer) -> None:
    TriageRule.objects.create(
        name="Complaints",
        keywords="unacceptable, complaint",
        department=Department.objects.get(slug="complaint"),
        priority="high",
    )
    TriageRule.objects.create(
        name="SMS to scheduling", channel="sms", department=Department.objects.get(slug="scheduling")
    )
    got = services.receive_message(customer=customer, channel="email", body="This is unacceptable service.")
    assert got.request.department is not None and got.request.department.slug == "complaint"
    assert got.request.triage_source == TriageSource.RULE and got.request.priority == "high"
    assert got.request.sentiment == "negative"
    sms = services.receive_message(
        customer=customer, channel="sms", body="Hello there, a question on my plan"
    )
    assert sms.request.department is not None and sms.request.department.slug == "scheduling"
    event = Event.objects.filter(kind="request.received").order_by("id").first()
    assert event is not None and event.payload["department"] == "complaint"


def test_without_a_model_or_rule_the_request_waits_in_the_triage_queue(customer: Customer) -> None:
    got = services.receive_message(customer=customer, channel="web", body="Bonjour, j'ai une question")
    assert got.request.department is None and got.request.needs_triage
    assert list(requests_for_view("triage")) == [got.request]
    assert got.message.body == "Bonjour, j'ai une question"  # an unknown language loses nothing


def test_retrain_learns_departments_from_resolved_requests_and_routes_new_ones(
    customer: Customer, make_customer: Callable[..., Customer]
) -> None:
    resolved_history(customer)
    out = io.StringIO()
    call_command("triage", "retrain", stdout=out)
    result = json.loads(out.getvalue())
    assert result["trained_rows"] == 24 and result["labels"] == ["billing", "sales", "scheduling"]
    assert 0.0 <= result["accuracy"] <= 1.0
    assert TriageModel.objects.filter(active=True).count() == 1

    someone = make_customer()
    got = services.receive_message(
        customer=someone, channel="email", body="I think my invoice charged me twice"
    )
    assert got.request.department is not None and got.request.department.slug == "billing"
    assert got.request.triage_source == TriageSource.CLASSIFIER and got.request.triage_confidence


def test_below_the_threshold_goes_to_the_queue_not_a_guess(
    customer: Customer, settings: SettingsWrapper
) -> None:
    resolved_history(customer)
    call_command("triage", "retrain", stdout=io.StringIO())
    settings.TENURE_HELPDESK_TRIAGE_THRESHOLD = 0.99
    got = services.receive_message(customer=customer, channel="email", body="Hello")
    assert got.request.department is None and got.request.needs_triage
    assert got.request.triage_confidence is not None and got.request.triage_confidence < 0.99


def test_retrain_with_too_little_history_says_why() -> None:
    with pytest.raises(CommandError, match="need at least 20 resolved requests"):
        call_command("triage", "retrain", stdout=io.StringIO())


def test_lexicon_reads_urgency_and_sentiment() -> None:
    assert read_tone("Water is flooding the basement, come immediately!").urgency == "high"
    assert read_tone("Thanks, great job, very happy").sentiment == "positive"
    assert read_tone("I am not happy, this is terrible").sentiment == "negative"
    assert read_tone("Quando arriva il tecnico?").sentiment == "neutral"


def test_a_new_contact_about_the_same_open_matter_is_a_repeat_contact(customer: Customer) -> None:
    first = services.receive_message(
        customer=customer,
        channel="email",
        subject="Boiler leaking",
        body="My boiler is leaking water in the kitchen.",
    )
    again = services.receive_message(
        customer=customer,
        channel="phone",
        body="The boiler is still leaking water and nobody has come to fix it.",
    )
    assert not again.created and again.request.pk == first.request.pk
    assert Request.objects.get(pk=first.request.pk).repeat_contacts == 1
    chased = Event.objects.get(
        kind="request.callback"
    )  # a phone call chasing the matter, as insights reads it
    assert chased.payload["request"] == first.request.reference and "hours_waiting" in chased.payload
    other = services.receive_message(
        customer=customer, channel="email", body="Can I change my invoice address?"
    )
    assert other.created and other.request.pk != first.request.pk
    sms = services.receive_message(
        customer=customer, channel="sms", body="Boiler still dripping water everywhere!"
    )
    assert sms.request.pk == first.request.pk
    assert Event.objects.filter(kind="request.repeat_contact").count() == 1
