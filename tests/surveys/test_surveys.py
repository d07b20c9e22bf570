"""Surveys after resolved requests and finished jobs: scheduled from the timeline, sent through the real
outbox to a real SMTP server, answered from the link or by a text reply."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.surveys import hooks
from tenure.surveys.models import Survey, SurveyKind, SurveyStatus
from tenure.surveys.services import (
    AnswerError,
    answer,
    answer_from_text,
    parse_reply,
    send_due,
    survey_for_token,
)
from tenure.surveys.settings import current
from tests.loopback import ReceivedMail

pytestmark = pytest.mark.django_db(transaction=True)

LINK = re.compile(r"https?://\S+/surveys/a/(\S+)/")


@pytest.fixture
def customer() -> Customer:
    return create_customer(name="Grace Hopper", identities=[("email", "grace@home.example")])


@pytest.fixture
def unhappy_calls() -> Iterator[list[Survey]]:
    calls: list[Survey] = []
    previous = {kind: hooks.unhappy_handler(kind) for kind in ("request", "appointment")}
    hooks.on_unhappy("request", calls.append)
    hooks.on_unhappy("appointment", calls.append)
    yield calls
    for kind, handler in previous.items():
        if handler is not None:
            hooks.on_unhappy(kind, handler)


def resolved(customer: Customer, request_id: int, **payload: object) -> Event:
    with transaction.atomic():
        return record_event(
            customer_id=customer.pk, kind="request.resolved", payload={"request_id": request_id, **payload}
        )


def completed(customer: Customer, appointment_id: int) -> Event:
    with transaction.atomic():
        return record_event(
            customer_id=customer.pk, kind="job.completed", payload={"appointment_id": appointment_id}
        )


def test_a_resolved_request_schedules_one_survey_an_hour_later(customer: Customer) -> None:
    event = resolved(customer, 12)
    survey = Survey.objects.get()
    assert survey.kind == SurveyKind.REQUEST_CSAT
    assert survey.subject_ref == "request:12"
    assert survey.due_at == event.occurred_at + dt.timedelta(hours=1)
    # The timeline says when it will go out.
    assert Event.objects.filter(kind="survey.scheduled", customer=customer).count() == 1
    # Saving the same event again (a re-delivered signal) schedules nothing new.
    event.save()
    assert Survey.objects.count() == 1


def test_auto_resolved_requests_get_no_survey(customer: Customer) -> None:
    resolved(customer, 13, auto=True)
    assert not Survey.objects.exists()


def test_a_finished_job_is_followed_up_within_15_minutes(customer: Customer) -> None:
    event = completed(customer, 7)
    survey = Survey.objects.get()
    assert survey.kind == SurveyKind.JOB_FOLLOW_UP
    assert survey.due_at is not None
    assert dt.timedelta(0) <= survey.due_at - event.occurred_at <= dt.timedelta(minutes=15)


def test_a_job_delay_over_15_minutes_is_refused(settings: SettingsWrapper) -> None:
    settings.TENURE_SURVEY_JOB_DELAY_MINUTES = 20
    with pytest.raises(ImproperlyConfigured, match="at most 15"):
        current()
    settings.TENURE_SURVEY_JOB_DELAY_MINUTES = "soon"
    with pytest.raises(ImproperlyConfigured, match="must be a number"):
        current()


def test_survey_mail_link_answer_and_unhappy_reopen(
    customer: Customer, smtp_server: ReceivedMail, unhappy_calls: list[Survey]
) -> None:
    resolved(customer, 21)
    assert send_due(timezone.now()) == 0  # not due yet
    assert send_due(timezone.now() + dt.timedelta(hours=1, seconds=1)) == 1
    assert deliver_due(timezone.now()) == 1
    [mail] = smtp_server.to("grace@home.example")
    body = mail.get_content()
    assert "1 (poor) to 5 (great)" in body
    token = LINK.search(body)
    assert token is not None

    client = Client()
    url = f"/surveys/a/{token.group(1)}/"
    page = client.get(url)
    assert page.status_code == 200
    assert b"How did we do" in page.content
    refused = client.post(url, {"score": "9"})
    assert refused.status_code == 400
    assert Survey.objects.get().status == SurveyStatus.SENT  # nothing taken from a bad answer

    thanks = client.post(url, {"score": "2", "comment": "Took three calls."})
    assert thanks.status_code == 200
    survey = Survey.objects.get()
    assert (survey.status, survey.score, survey.comment) == (SurveyStatus.ANSWERED, 2, "Took three calls.")
    assert [s.pk for s in unhappy_calls] == [survey.pk]
    answered = Event.objects.get(kind="survey.answered")
    assert answered.payload["csat"] == 2 and answered.payload["about"] == "request:21"
    # A second answer through the same link is not taken twice.
    assert b"already have your answer" in client.post(url, {"score": "5"}).content
    assert Event.objects.filter(kind="survey.answered").count() == 1


def test_a_happy_answer_hands_nothing_back(customer: Customer, unhappy_calls: list[Survey]) -> None:
    resolved(customer, 22)
    send_due(timezone.now() + dt.timedelta(hours=2))
    answer(Survey.objects.get(), score=5)
    assert unhappy_calls == []


def test_not_fixed_by_text_reply_sends_the_job_back(customer: Customer, unhappy_calls: list[Survey]) -> None:
    completed(customer, 8)
    send_due(timezone.now() + dt.timedelta(minutes=16))
    assert answer_from_text(customer, "thanks for coming", channel="sms") is None
    survey = answer_from_text(customer, "Still not fixed, 2", channel="sms")
    assert survey is not None
    assert (survey.fixed, survey.score, survey.channel) == (False, 2, "sms")
    assert [s.pk for s in unhappy_calls] == [survey.pk]


def test_forged_or_expired_links_are_refused(customer: Customer, settings: SettingsWrapper) -> None:
    resolved(customer, 30)
    send_due(timezone.now() + dt.timedelta(hours=2))
    response = Client().get("/surveys/a/not-a-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content
    from tenure.surveys.services import answer_token

    token = answer_token(Survey.objects.get())
    settings.TENURE_SURVEY_ANSWER_DAYS = 0
    with pytest.raises(AnswerError, match="expired"):
        survey_for_token(token)


def test_opted_out_customers_are_not_asked(customer: Customer) -> None:
    customer.opted_out_purposes = ["surveys"]
    customer.save()
    resolved(customer, 40)
    send_due(timezone.now() + dt.timedelta(hours=2))
    survey = Survey.objects.get()
    assert survey.status == SurveyStatus.SKIPPED
    assert "opted out" in survey.skip_reason


def test_answers_out_of_range_are_refused(customer: Customer) -> None:
    resolved(customer, 50)
    send_due(timezone.now() + dt.timedelta(hours=2))
    survey = Survey.objects.get()
    with pytest.raises(AnswerError, match="1 to 5"):
        answer(survey, score=0)
    with pytest.raises(AnswerError, match="does not ask"):
        answer(survey, score=3, fixed=True)
    assert Survey.objects.get().status == SurveyStatus.SENT


@pytest.mark.parametrize(
    ("text", "asks_fixed", "expected"),
    [
        ("4", False, (4, None)),
        ("5 thanks!", True, (5, None)),
        ("yes, all good 5", True, (5, True)),
        ("not fixed", True, (None, False)),
        ("NO", True, (None, False)),
        ("call me tomorrow", True, None),
        ("the radiator is still cold", True, None),
        ("Still not fixed, 2", True, (2, False)),
        ("no", False, None),
        ("3 4", False, None),
        ("10", False, None),
        ("", False, None),
        ("x" * 500, False, None),
    ],
)
def test_parse_reply(text: str, asks_fixed: bool, expected: tuple[int | None, bool | None] | None) -> None:
    assert parse_reply(text, asks_fixed=asks_fixed) == expected
