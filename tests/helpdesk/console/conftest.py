"""A small help desk to drive the console with: two teams, agents, customers on several channels."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Team
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.helpdesk import services as helpdesk
from tenure.helpdesk.models import Request


@dataclass
class Desk:
    ann: User  # agent in the boilers team
    bob: User  # agent in the billing team
    boilers: Team
    billing: Team
    ada: Customer  # e-mail and phone
    cy: Customer  # chat only
    counter: list[int]

    def request(
        self,
        customer: Customer | None = None,
        *,
        body: str = "",
        team: Team | None = None,
        assignee: User | None = None,
        **fields: object,
    ) -> Request:
        self.counter[0] += 1
        n = self.counter[0]
        customer = customer or self.ada
        channel = "chat" if customer == self.cy else "email"
        received = helpdesk.receive_message(
            customer=customer,
            channel=channel,
            body=body or f"Question number {n} about something entirely different, item {n}",
            subject=f"Question {n}" if channel == "email" else "",
            external_id=f"<q{n}@test>" if channel == "email" else f"vchatvisitor01:q{n}",
            sender="ada@example.com" if channel == "email" else "vchatvisitor01",
        )
        request = received.request
        updates = {"team": team, "assignee": assignee, "needs_triage": False, **fields}
        Request.objects.filter(pk=request.pk).update(**updates)
        request.refresh_from_db()
        return request


@pytest.fixture(autouse=True)
def no_repeat_linking(settings: SettingsWrapper) -> None:
    """These tests make many look-alike requests for one customer; none should fold into another."""
    settings.TENURE_HELPDESK_REPEAT_SIMILARITY = 1.01


@pytest.fixture
def desk(make_staff: Callable[..., User]) -> Desk:
    ann = make_staff("agent", "ann")
    ann.first_name = "Ann"
    ann.save()
    bob = make_staff("agent", "bob")
    boilers = Team.objects.create(name="Boilers")
    billing = Team.objects.create(name="Billing")
    boilers.members.add(ann)
    billing.members.add(bob)
    ada = create_customer(
        name="Ada Lovelace", identities=[("email", "ada@example.com"), ("phone", "+14155550100")]
    )
    cy = create_customer(name="Cy Chat", identities=[("chat", "vchatvisitor01")])
    return Desk(ann, bob, boilers, billing, ada, cy, [0])


def soon(hours: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)
