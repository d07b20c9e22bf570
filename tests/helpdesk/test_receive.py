"""receive_message and reply: threading, idempotency, reopen window, linked requests, timeline events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox_models import OutboundMessage
from tenure.customers.models import Customer
from tenure.helpdesk import services
from tenure.helpdesk.models import Direction, Request, RequestMessage, Status
from tenure.helpdesk.selectors import find_token, request_token

pytestmark = pytest.mark.django_db


def kinds(customer: Customer) -> list[str]:
    return list(Event.objects.filter(customer=customer).order_by("id").values_list("kind", flat=True))


def test_new_email_makes_a_request_a_message_and_a_received_event(customer: Customer) -> None:
    got = services.receive_message(
        customer=customer,
        channel="email",
        subject="Invoice is wrong",
        body="You charged me twice this month.",
        external_id="<a1@example.org>",
        sender="jane@example.org",
    )
    assert got.created and not got.reopened and got.linked_from is None
    assert got.request.status == Status.NEW
    assert got.message.direction == Direction.INBOUND
    event = Event.objects.get(customer=customer, kind="request.received")
    assert event.payload["request"] == got.request.reference
    assert "department" in event.payload and event.payload["subject"] == "Invoice is wrong"
    assert got.request.ack_due_at is not None
    assert got.request.first_response_due is not None  # the seeded Standard policy


def test_same_external_id_twice_returns_the_first_result_and_changes_nothing(customer: Customer) -> None:
    first = services.receive_message(customer=customer, channel="sms", body="hello", external_id="SM1")
    events = Event.objects.count()
    second = services.receive_message(customer=customer, channel="sms", body="hello again", external_id="SM1")
    assert second.request.pk == first.request.pk and second.message.pk == first.message.pk
    assert not second.created
    assert RequestMessage.objects.count() == 1 and Event.objects.count() == events


def test_token_in_subject_and_references_thread_onto_the_request(
    customer: Customer, make_staff: Callable[..., User]
) -> None:
    first = services.receive_message(
        customer=customer, channel="email", subject="Boiler", body="It makes noise"
    )
    token = request_token(first.request)
    assert find_token(f"Re: Boiler {token}") == first.request.pk
    by_token = services.receive_message(
        customer=customer, channel="email", subject=f"Re: Boiler {token}", body="Still noisy"
    )
    assert by_token.request.pk == first.request.pk and not by_token.created

    agent = make_staff("agent")
    answer = services.reply(request=first.request, author=agent, body="We'll send someone.")
    outbound = answer.outbound
    assert isinstance(outbound, OutboundMessage)
    assert token in outbound.subject and outbound.channel == "email"
    by_reference = services.receive_message(
        customer=customer,
        channel="email",
        subject="Re: Boiler",
        body="Thanks",
        references=[answer.external_id],
    )
    assert by_reference.request.pk == first.request.pk
    request = Request.objects.get(pk=first.request.pk)
    assert request.status == Status.OPEN and request.first_response_at is not None
    assert request.ack_due_at is None  # answered before the acknowledgement went out
    assert "request.answered" in kinds(customer)


def test_a_stranger_cannot_thread_onto_someone_elses_request_with_a_token(
    customer: Customer, make_customer: Callable[..., Customer]
) -> None:
    first = services.receive_message(customer=customer, channel="email", subject="Mine", body="private")
    stranger = make_customer("Mallory")
    got = services.receive_message(
        customer=stranger, channel="email", subject=f"Re: {request_token(first.request)}", body="let me in"
    )
    assert got.created and got.request.pk != first.request.pk and got.request.customer_id == stranger.pk


def test_reply_within_the_window_reopens_and_after_it_starts_a_linked_request(
    customer: Customer, make_staff: Callable[..., User], settings: SettingsWrapper
) -> None:
    settings.TENURE_HELPDESK_REOPEN_WINDOW_DAYS = 7
    agent = make_staff("agent")
    first = services.receive_message(customer=customer, channel="email", subject="Leak", body="Tap drips")
    services.resolve(request=first.request, by=agent)
    token = request_token(first.request)
    again = services.receive_message(
        customer=customer, channel="email", subject=f"Re: {token}", body="Drips again"
    )
    assert again.reopened and again.request.pk == first.request.pk
    request = Request.objects.get(pk=first.request.pk)
    assert request.status == Status.OPEN and request.reopened_count == 1
    assert "request.reopened" in kinds(customer)

    services.resolve(request=request, by=agent)
    Request.objects.filter(pk=request.pk).update(resolved_at=timezone.now() - dt.timedelta(days=8))
    late = services.receive_message(
        customer=customer, channel="email", subject=f"Re: {token}", body="Back again"
    )
    assert late.created and late.linked_from is not None and late.linked_from.pk == request.pk
    assert late.request.linked_from_id == request.pk


def test_bad_input_names_the_field_and_stores_nothing(customer: Customer) -> None:
    with pytest.raises(ValidationError) as error:
        services.receive_message(customer=customer, channel="pigeon", body="coo")
    assert "channel" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        services.receive_message(customer=customer, channel="email", body="  ")
    assert "body" in error.value.message_dict
    assert Request.objects.count() == 0
