"""A manager opens the help desk report in a real headless Chromium from the navigation and changes the period."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tenure.customers.services import create_customer
from tenure.helpdesk import services
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_the_report_with_its_chart(
    live_server: LiveServer,
    page: Page,
    make_staff: Callable[..., User],
) -> None:
    manager = make_staff("manager")
    agent = make_staff("agent")
    customer = create_customer(name="Ada", identities=[("email", "ada@example.org")])
    request = services.receive_message(customer=customer, channel="email", body="Where is my order?").request
    services.reply(request=request, author=agent, body="On its way")
    services.resolve(request=request, by=agent)

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", manager.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")
    page.click("nav >> text=Help desk")
    page.wait_for_url(f"{live_server.url}/helpdesk/report/")
    expect(page.locator("svg.chart rect")).to_have_count(1)
    expect(page.locator("#helpdesk-metrics")).to_contain_text("First-contact resolution")
    expect(page.locator("#by-department tbody tr")).to_have_count(1)
    page.select_option("select[name=days]", "7")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(f"{live_server.url}/helpdesk/report/?days=7")
    expect(page.locator("select[name=days]")).to_have_value("7")
