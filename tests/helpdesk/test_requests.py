"""Attachments with limits, sanitised HTML, merge and split, call-backs with reminders, saved views in a
bounded number of queries, and the metrics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenure.core.models import Event, Team
from tenure.customers.models import Customer
from tenure.helpdesk import callbacks, metrics, services
from tenure.helpdesk.attachments import IncomingAttachment, open_attachment
from tenure.helpdesk.models import Callback, Request, RequestMessage, StaffNotification, Status
from tenure.helpdesk.selectors import VIEWS, open_callbacks, requests_for_view

pytestmark = pytest.mark.django_db


def test_a_30_mb_attachment_is_refused_with_its_reason_and_the_message_kept(customer: Customer) -> None:
    big = IncomingAttachment("scan.pdf", "application/pdf", b"\0" * (30 * 1024 * 1024))
    small = IncomingAttachment("../../etc/passwd", "text/plain", b"hello")
    got = services.receive_message(
        customer=customer, channel="email", body="See files", attachments=[big, small]
    )
    refused, stored = got.message.attachments.order_by("id")
    assert refused.refused_reason.startswith("31,457,280 bytes is over") and not refused.stored_name
    assert stored.refused_reason == "" and ".." not in stored.stored_name
    assert open_attachment(stored) == b"hello"
    assert RequestMessage.objects.get(pk=got.message.pk).body == "See files"


def test_html_is_sanitised_and_scripts_never_survive(customer: Customer) -> None:
    got = services.receive_message(
        customer=customer,
        channel="email",
        body="",
        html='<p onclick="steal()">Hi<script>alert(1)</script> <a href="javascript:x()">link</a></p>',
    )
    assert "script" not in got.message.html and "onclick" not in got.message.html
    assert "javascript" not in got.message.html
    assert got.message.body.startswith("Hi")


def test_merge_moves_the_thread_and_later_replies_follow_it(
    customer: Customer, make_staff: Callable[..., User], make_customer: Callable[..., Customer]
) -> None:
    agent = make_staff("agent")
    keep = services.receive_message(
        customer=customer, channel="email", subject="Oven", body="Oven broken"
    ).request
    dup = services.receive_message(
        customer=customer, channel="sms", subject="Parking", body="Where do I park?"
    ).request
    merged = services.merge_requests(keep=keep, merge=dup, by=agent)
    assert merged.messages.count() == 2
    dup.refresh_from_db()
    assert dup.merged_into_id == keep.pk and dup.status == Status.CLOSED
    follow = services.receive_message(
        customer=customer, channel="email", subject=f"Re: [#R-{dup.pk:06d}]", body="any news?"
    )
    assert follow.request.pk == keep.pk
    stranger = services.receive_message(customer=make_customer(), channel="email", body="mine").request
    with pytest.raises(ValidationError, match="same customer"):
        services.merge_requests(keep=keep, merge=stranger, by=agent)


def test_split_moves_chosen_messages_to_a_linked_request(
    customer: Customer, make_staff: Callable[..., User]
) -> None:
    agent = make_staff("agent")
    first = services.receive_message(
        customer=customer, channel="email", subject="Two things", body="Fix the oven"
    )
    second = services.receive_message(
        customer=customer,
        channel="email",
        subject=f"Re: Two things [#R-{first.request.pk:06d}]",
        body="Also: invoice?",
    )
    new = services.split_request(
        request=first.request, message_ids=[second.message.pk], by=agent, subject="Invoice"
    )
    assert new.linked_from_id == first.request.pk and new.subject == "Invoice"
    assert list(new.messages.values_list("pk", flat=True)) == [second.message.pk]
    with pytest.raises(ValidationError):
        services.split_request(request=first.request, message_ids=[first.message.pk], by=agent)


def test_callbacks_remind_their_owner_and_show_up_overdue(
    customer: Customer, make_agent: Callable[..., User], make_staff: Callable[..., User]
) -> None:
    owner = make_agent("ann")
    make_staff("manager", "lead")
    request = services.receive_message(customer=customer, channel="phone", body="Call me back please").request
    due = timezone.now() + dt.timedelta(minutes=10)
    callback = services.schedule_callback(request=request, due_at=due, by=owner, phone="+12025550123")
    assert callback.owner == owner
    assert [r.pk for r in requests_for_view("callbacks_due")] == [request.pk]
    assert callbacks.sweep(timezone.now()) == 1  # reminder 15 min before: already due
    assert callbacks.sweep(timezone.now()) == 0
    assert StaffNotification.objects.get(kind="callback.reminder").user == owner
    assert list(open_callbacks(overdue_only=True)) == []
    assert list(open_callbacks(overdue_only=True, owner_id=owner.pk)) == []
    assert not StaffNotification.objects.filter(kind="callback.overdue").exists()
    assert callbacks.sweep(due + dt.timedelta(minutes=1)) == 1  # past due and not done: overdue
    overdue = StaffNotification.objects.filter(kind="callback.overdue")
    assert sorted(n.user.username for n in overdue) == ["ann", "lead"]  # owner and the managers
    assert callbacks.sweep(due + dt.timedelta(minutes=2)) == 0
    Callback.objects.filter(pk=callback.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    assert [c.pk for c in open_callbacks(overdue_only=True)] == [callback.pk]
    callback.refresh_from_db()
    services.complete_callback(callback=callback, by=owner, outcome="reached, fixed")
    assert list(open_callbacks()) == []
    assert Event.objects.get(kind="callback.completed").payload["late"] is True
    with pytest.raises(ValidationError):
        services.complete_callback(callback=callback, by=owner)


@pytest.mark.parametrize("view", VIEWS)
def test_every_saved_view_runs_in_a_fixed_number_of_queries(
    view: str, make_staff: Callable[..., User], make_customer: Callable[..., Customer]
) -> None:
    agent = make_staff("agent")
    team = Team.objects.create(name="T")
    team.members.add(agent)

    def fill(n: int) -> None:
        for i in range(n):
            got = services.receive_message(customer=make_customer(), channel="email", body=f"n{i}")
            Request.objects.filter(pk=got.request.pk).update(
                assignee=agent if i % 2 else None,
                team=team,
                needs_triage=True,
                first_response_breached_at=timezone.now(),
                next_due_at=timezone.now() + dt.timedelta(hours=1),
            )
            services.set_tags(request=got.request, names=["a", "b"], by=agent)
            services.schedule_callback(request=got.request, due_at=timezone.now(), by=agent)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            rows: list[Any] = list(requests_for_view(view, agent))
            for row in rows:
                _ = (
                    row.customer.name,
                    row.assignee,
                    row.department,
                    row.team,
                    [t.name for t in row.tags.all()],
                )
        return len(queries), len(rows)

    fill(3)
    few, rows_few = count()
    fill(6)
    many, rows_many = count()
    assert rows_many > rows_few > 0
    assert few == many <= 3


def test_metrics_count_repeat_contacts_first_contact_resolution_and_reopens(
    customer: Customer, make_staff: Callable[..., User], make_customer: Callable[..., Customer]
) -> None:
    agent = make_staff("agent")
    one = services.receive_message(customer=make_customer(), channel="email", body="Question A").request
    services.reply(request=one, author=agent, body="Answer A")
    services.resolve(request=one, by=agent)  # first-contact resolution
    two = services.receive_message(customer=make_customer(), channel="email", body="Question B").request
    services.reply(request=two, author=agent, body="Answer B")
    services.resolve(request=two, by=agent)
    services.reopen(two, "customer unhappy", by=agent)
    services.reply(request=two, author=agent, body="Answer B again")
    services.resolve(request=two, by=agent)
    three = services.receive_message(customer=make_customer(), channel="email", body="Question C").request
    Request.objects.filter(pk=three.pk).update(repeat_contacts=1)
    now = timezone.now()
    report = metrics.compute(now - dt.timedelta(days=1), now + dt.timedelta(minutes=1))
    assert report.requests == 3 and report.resolved == 2
    assert report.first_contact_resolution == 0.5 and report.reopen_rate == 0.5
    assert report.repeat_contact_rate == round(1 / 3, 4)
    assert report.first_response_met_pct == 100.0
    assert report.first_response_hours_median is not None and report.first_response_hours_median < 1
