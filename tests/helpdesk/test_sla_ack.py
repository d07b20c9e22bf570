"""SLA clocks in business hours (warn at 75%, breach once, pause while waiting) and the written acknowledgement
delivered through the outbox to a real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from tenure.core.models import BusinessCalendar, Event, Team
from tenure.core.outbox.delivery import deliver_due
from tenure.core.sweeper import registered_sweepers
from tenure.customers.models import Customer
from tenure.helpdesk import ack, services, sla
from tenure.helpdesk.models import (
    AcknowledgementTemplate,
    Department,
    Priority,
    Request,
    SlaPolicy,
    StaffNotification,
    Status,
)
from tenure.helpdesk.selectors import request_token
from tests.loopback import ReceivedMail

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def next_weekday(weekday: int, hour: int) -> dt.datetime:
    """The next local `weekday` (Monday 0) at `hour`, at least a week from now, in Berlin."""
    day = timezone.now().astimezone(BERLIN).date() + dt.timedelta(days=7)
    while day.weekday() != weekday:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BERLIN)


@pytest.fixture
def service_desk(make_staff: Callable[..., User]) -> Department:
    calendar = BusinessCalendar.objects.create(
        name="Office",
        time_zone="Europe/Berlin",
        weekly_hours={str(d): [["09:00", "17:00"]] for d in range(5)},
    )
    team = Team.objects.create(name="Service team", calendar=calendar)
    department = Department.objects.get(slug="service")
    department.team = team
    department.lead = make_staff("manager", "lead")
    department.save()
    SlaPolicy.objects.create(
        name="Service",
        department=department,
        first_response_minutes=120,
        resolution_minutes=16 * 60,
        position=1,
    )
    return department


def test_deadlines_are_counted_in_the_teams_business_hours(
    customer: Customer, service_desk: Department, make_agent: Callable[..., User]
) -> None:
    agent = make_agent("ann")
    friday = next_weekday(4, 16)
    got = services.receive_message(customer=customer, channel="email", body="x", received_at=friday)
    services.set_department(request=got.request, department=service_desk, by=agent)
    request = Request.objects.get(pk=got.request.pk)
    monday = friday + dt.timedelta(days=3)
    assert request.first_response_due == monday.replace(hour=10)
    assert request.first_response_warn_at == monday.replace(hour=9, minute=30)
    assert request.resolution_due == (monday + dt.timedelta(days=1)).replace(hour=16)


def test_warning_at_75_percent_and_breach_recorded_once_and_escalated(
    customer: Customer, service_desk: Department, make_agent: Callable[..., User]
) -> None:
    agent = make_agent("ann")
    friday = next_weekday(4, 16)
    got = services.receive_message(customer=customer, channel="email", body="x", received_at=friday)
    services.set_department(request=got.request, department=service_desk, by=agent)
    request = Request.objects.get(pk=got.request.pk)
    assert request.assignee == agent
    monday = friday + dt.timedelta(days=3)

    assert sla.sweep(monday.replace(hour=9, minute=29)) == 0
    sla.sweep(monday.replace(hour=9, minute=31))
    warned = StaffNotification.objects.filter(kind="sla.warning")
    assert sorted(n.user.username for n in warned) == ["ann", "lead"]
    sla.sweep(monday.replace(hour=9, minute=45))
    assert StaffNotification.objects.filter(kind="sla.warning").count() == 2

    sla.sweep(monday.replace(hour=10, minute=1))
    sla.sweep(monday.replace(hour=10, minute=2))
    breaches = Event.objects.filter(kind="request.sla_breached")
    assert breaches.count() == 1
    assert breaches[0].payload["clock"] == "first_response" and breaches[0].payload["department"] == "service"
    assert breaches[0].payload["escalated_to"] == ["lead"]
    request.refresh_from_db()
    assert request.priority == Priority.URGENT and request.first_response_breached_at is not None
    assert StaffNotification.objects.filter(kind="sla.breach").count() == 2
    assert sla.met(request, "first_response") is False


def test_waiting_on_the_customer_pauses_the_clock_by_the_business_time_left(customer: Customer) -> None:
    start = dt.datetime(2030, 1, 7, 8, tzinfo=dt.UTC)
    request = Request(customer=customer, channel="email", created_at=start, last_message_at=start)
    request.customer = customer
    sla.apply_policy(request, start)  # seeded Standard policy, around the clock: 8 h first response
    assert request.first_response_due == start + dt.timedelta(hours=8)
    request.status = Status.WAITING
    sla.pause(request, start + dt.timedelta(hours=1))
    assert request.sla_check_at is None and request.next_due_at is None
    request.status = Status.OPEN
    sla.resume(request, start + dt.timedelta(hours=5))
    assert request.first_response_due == start + dt.timedelta(hours=12)
    assert request.sla_check_at == start + dt.timedelta(hours=10)  # the 75% warning (6 h) moved with it


def test_tier_and_priority_pick_the_most_specific_policy(make_customer: Callable[..., Customer]) -> None:
    gold = SlaPolicy.objects.create(
        name="Gold", tier="gold", first_response_minutes=30, resolution_minutes=240
    )
    vip = make_customer("Vip", tier="gold")
    normal = make_customer("Normal")
    assert services.receive_message(customer=vip, channel="sms", body="hi").request.sla_policy == gold
    plain = services.receive_message(customer=normal, channel="sms", body="hi").request
    assert plain.sla_policy is not None and plain.sla_policy.name == "Standard"
    urgent = services.receive_message(
        customer=normal, channel="sms", body="Gas leak, smells terrible, help"
    ).request
    assert (
        urgent.priority == Priority.URGENT
        and urgent.sla_policy is not None
        and urgent.sla_policy.name == "Urgent"
    )


def test_acknowledgement_reaches_the_customer_by_smtp_with_number_and_reply_by(
    customer: Customer, service_desk: Department, smtp_server: ReceivedMail
) -> None:
    assert "helpdesk.ack" in registered_sweepers()
    friday = next_weekday(4, 16)
    got = services.receive_message(
        customer=customer,
        channel="email",
        subject="Washing machine broken",
        body="It will not spin.",
        external_id="<m1@example.org>",
        received_at=friday,
    )
    services.set_department(request=got.request, department=service_desk, by=None)
    now = timezone.now()
    assert ack.sweep(now) == 1
    assert ack.sweep(now) == 0
    deliver_due(timezone.now())
    assert len(smtp_server.messages) == 1
    mail = smtp_server.messages[0]
    token = request_token(got.request)
    assert token in mail["Subject"] and mail["In-Reply-To"] == "<m1@example.org>"
    text = mail.get_content()
    assert got.request.reference in text and "Monday" in text and "10:00" in text and "Service" in text
    # The customer's answer to the acknowledgement threads back onto the same request.
    answer = services.receive_message(
        customer=customer, channel="email", body="ok", references=[mail["Message-ID"]], subject="Re: whatever"
    )
    assert answer.request.pk == got.request.pk
    assert Event.objects.filter(kind="request.acknowledged").count() == 1


def test_no_acknowledgement_for_auto_replies_or_after_an_agent_answered(
    customer: Customer, make_staff: Callable[..., User], smtp_server: ReceivedMail
) -> None:
    auto = services.receive_message(
        customer=customer, channel="email", body="I am out of office", metadata={"auto_reply": True}
    )
    assert auto.request.ack_due_at is None
    answered = services.receive_message(customer=customer, channel="email", body="Need help", subject="Other")
    services.reply(request=answered.request, author=make_staff("agent"), body="Here to help")
    assert ack.sweep(timezone.now()) == 0
    deliver_due(timezone.now())
    assert [m["Subject"] for m in smtp_server.messages] == [f"Re: Other {request_token(answered.request)}"]


def test_edited_template_is_used_on_sms(customer: Customer) -> None:
    AcknowledgementTemplate.objects.create(
        channel="sms", body="Got it! Ref {{ request_number }}. Answer by {{ reply_by }}."
    )
    got = services.receive_message(customer=customer, channel="sms", body="Where is my technician?")
    ack.sweep(timezone.now())
    message = got.request.messages.get(metadata__acknowledgement=True)
    assert message.body.startswith(f"Got it! Ref {got.request.reference}. Answer by ")
    assert message.outbound is not None and message.outbound.channel == "sms"
