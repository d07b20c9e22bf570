"""In a real Chromium: a dispatcher moves jobs on the board (refused, then allowed) without a page reload,
and a technician on a phone-sized screen taps "On my way" and "Arrived"."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from tenure.field.models import Status
from tenure.field.routing.planning import replan
from tests.conftest import PASSWORD
from tests.field.test_pages_tech import route_today
from tests.field.test_routing_planning import DAY, FAST, FieldDay, at

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page: Page, live_server: LiveServer, user: User) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_load_state()


def test_dispatcher_moves_a_job_on_the_board(
    live_server: LiveServer, page: Page, make_staff: Callable[..., User]
) -> None:
    day = FieldDay.create()
    day.technician("Ann", ["boiler"])
    bob = day.technician("Bob", ["boiler", "gas"], home=(51.53, -0.08))
    gas = day.job("gas-safety", 9)
    service = day.job("service", 10)
    replan(DAY, now=at(6), options=FAST)
    dispatcher = make_staff("dispatcher")

    sign_in(page, live_server, dispatcher)
    response = page.goto(f"{live_server.url}/field/board/?date={DAY.isoformat()}")
    assert response is not None and response.ok
    expect(page.locator(".lane[data-technician] .job")).to_have_count(2)
    expect(page.locator("svg.route-map polyline.route")).to_have_count(2)
    page.evaluate("window.__noReload = true")

    page.select_option("#move select[name=appointment]", str(gas.pk))
    page.select_option("#move select[name=technician]", label="Ann")
    page.fill("#move input[name=start]", "09:15")
    page.click("#move button[type=submit]")
    expect(page.locator("#refused")).to_contain_text("Ann lacks the skill gas")

    page.select_option("#move select[name=appointment]", str(service.pk))
    page.select_option("#move select[name=technician]", label="Bob")
    page.fill("#move input[name=start]", "10:30")
    page.click("#move button[type=submit]")
    expect(page.locator("#notice")).to_contain_text(f"{service.reference} now starts 10:30 with Bob")
    expect(page.locator(f'.lane[data-technician="{bob.pk}"] .job[data-job="{service.pk}"]')).to_have_count(1)
    assert page.evaluate("window.__noReload === true")
    service.refresh_from_db()
    assert service.technician_id == bob.pk


def test_technician_reports_from_a_phone(
    live_server: LiveServer, browser: Browser, make_staff: Callable[..., User]
) -> None:
    day = FieldDay.create()
    tina_user = make_staff("technician", "tina")
    tina = day.technician("Tina", ["boiler"], user=tina_user)
    first, second = route_today(day, tina, 2)

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, tina_user)
        page.goto(f"{live_server.url}/field/today/")
        stops = page.locator("article.stop")
        expect(stops).to_have_count(2)
        assert stops.evaluate_all("els => els.map(e => Number(e.dataset.job))") == [first.pk, second.pk]
        # Phone layout: the page does not scroll sideways and the buttons are thumb-sized.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        go = page.locator(f'article[data-job="{first.pk}"] button[name=go]')
        assert go.bounding_box()["height"] >= 44  # type: ignore[index]

        go.tap()
        expect(page.locator("#done")).to_contain_text("on the way")
        expect(page.locator(f'article[data-job="{first.pk}"]')).to_have_attribute("data-status", "en_route")
        page.locator(f'article[data-job="{first.pk}"] button[name=arrive]').tap()
        expect(page.locator(f'article[data-job="{first.pk}"]')).to_have_attribute("data-status", "on_site")
        first.refresh_from_db()
        assert first.status == Status.ON_SITE and first.arrived_at is not None
    finally:
        context.close()
