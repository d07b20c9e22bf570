"""An agent signs in with a real browser, opens a customer and filters the timeline with htmx."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tenure.core.services import record_event
from tenure.customers.services import create_customer
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_agent_signs_in_and_filters_a_customer_timeline(
    live_server: LiveServer, page: Page, make_staff: Callable[[str], User]
) -> None:
    agent = make_staff("agent")
    customer = create_customer(
        name="Ada Fixture", identities=[("email", "ada@example.com")], assigned_rep_id=agent.pk
    )
    start = timezone.now() - dt.timedelta(days=10)
    for day, (kind, channel) in enumerate(
        [
            ("note.added", "web"),
            ("request.opened", "email"),
            ("note.added", "phone"),
            ("payment.received", "web"),
        ]
    ):
        record_event(
            customer_id=customer.pk, kind=kind, channel=channel, occurred_at=start + dt.timedelta(days=day)
        )
    expected_kinds = sorted(
        ["customer.created", "note.added", "request.opened", "note.added", "payment.received"]
    )

    login = page.goto(f"{live_server.url}/accounts/login/")
    assert login is not None and login.ok, f"the login page answered {login and login.status}"
    page.fill("input[name=username]", agent.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")

    detail = page.goto(f"{live_server.url}/customers/{customer.pk}/")
    assert detail is not None and detail.ok, f"the customer page answered {detail and detail.status}"
    events = page.locator("section#timeline .event")
    expect(events).to_have_count(len(expected_kinds))
    assert sorted(events.evaluate_all("els => els.map(e => e.dataset.kind)")) == expected_kinds

    # A marker on window survives an htmx swap but not a page load.
    page.evaluate("window.__noReload = true")
    with page.expect_response(lambda response: "/timeline/" in response.url):
        page.select_option("form#timeline-filters select[name=kind]", "note.added")
    expect(events).to_have_count(2)
    assert events.evaluate_all("els => els.map(e => e.dataset.kind)") == ["note.added", "note.added"]
    assert page.evaluate("window.__noReload === true")
