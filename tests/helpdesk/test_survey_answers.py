"""The satisfaction survey after a resolved request: sent an hour later, and an unhappy answer reopens it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tenure.customers.models import Customer
from tenure.helpdesk import services
from tenure.helpdesk.models import Request, Status
from tenure.surveys.models import Survey
from tenure.surveys.services import answer, send_due

pytestmark = pytest.mark.django_db


def resolved_request(customer: Customer, agent: User, *, auto: bool = False) -> Request:
    received = services.receive_message(
        customer=customer, channel="email", subject="Boiler", body="The boiler makes a noise."
    )
    return services.resolve(request=received.request, by=agent, auto=auto)


def test_an_unhappy_answer_reopens_the_request(customer: Customer, make_staff: Callable[..., User]) -> None:
    request = resolved_request(customer, make_staff("agent"))
    survey = Survey.objects.get(subject_ref=f"request:{request.pk}")
    send_due(timezone.now() + dt.timedelta(hours=1, minutes=1))
    answer(Survey.objects.get(pk=survey.pk), score=1, comment="Still noisy")
    request.refresh_from_db()
    assert request.status == Status.OPEN
    reopened = customer.events.get(kind="request.reopened")
    assert "unhappy survey answer (1/5): Still noisy" in str(reopened.payload)


def test_a_happy_answer_leaves_it_resolved(customer: Customer, make_staff: Callable[..., User]) -> None:
    request = resolved_request(customer, make_staff("agent"))
    send_due(timezone.now() + dt.timedelta(hours=2))
    answer(Survey.objects.get(), score=4)
    request.refresh_from_db()
    assert request.status == Status.RESOLVED


def test_auto_resolved_requests_are_not_surveyed(customer: Customer, make_staff: Callable[..., User]) -> None:
    resolved_request(customer, make_staff("agent"), auto=True)
    assert not Survey.objects.exists()
