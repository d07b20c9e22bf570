"""A manager edits a journey and previews a template in a real headless Chromium (htmx checks as they type)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tenure.customers.services import create_customer
from tenure.journeys.models import Journey
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD = "key: welcome\nname: Welcome\ntrigger: {event: customer.created}\nsteps:\n  - {id: hi, type: fax}\n"


def sign_in(page: Page, live_server: LiveServer, user: User) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/customers/")


def test_manager_writes_a_journey_with_live_checks_and_previews_a_template(
    live_server: LiveServer, page: Page, make_staff: Callable[[str], User]
) -> None:
    manager = make_staff("manager")
    customer = create_customer(name="Grace Hopper", identities=[("email", "grace@example.com")])
    sign_in(page, live_server, manager)

    page.click("nav >> text=Journeys")
    expect(page.locator("#journeys")).to_contain_text("Payment due reminder")
    page.goto(f"{live_server.url}/journeys/new/")
    page.fill("#document", "")
    page.type("#document", BAD, delay=0)
    expect(page.locator("#problems")).to_contain_text("unknown step type 'fax'")
    page.fill("#document", BAD.replace("type: fax", "type: send, template: check-in"))
    page.type("#document", " ")
    expect(page.locator("#problems")).to_contain_text("No problems found")
    page.click("#journey-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/journeys/welcome/")
    assert Journey.objects.get(key="welcome").steps[0]["template"] == "check-in"

    page.goto(f"{live_server.url}/journeys/templates/check-in/en/")
    page.fill("input[name=customer]", str(customer.pk))
    page.click("button:has-text('Preview')")
    expect(page.locator("#preview")).to_contain_text("Hello Grace,")
