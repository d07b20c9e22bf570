"""An agent works the console in a real browser while a visitor chats through the widget on another site.

Both run in headless Chromium against uvicorn (websockets need an ASGI server, so not live_server):
the visitor's page is a stand-in shop site with the one script tag, served by a tiny HTTP server of its
own on another loopback port (Chromium refuses a page without an address loading from loopback).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Browser, Page, expect

from tenure.helpdesk.models import Direction, RequestMessage
from tests.conftest import PASSWORD
from tests.helpdesk.console.asgi_server import asgi_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with asgi_server(tmp_path) as url:
        yield url


@pytest.fixture
def shop(server: str) -> Iterator[str]:
    """The business's own web site: one page carrying the chat widget's one tag."""
    page = (
        "<!doctype html><html><body><h1>Acme Heating</h1>"
        f'<script src="{server}/static/inbox/chat.js" data-tenure="{server}" defer></script>'
        "</body></html>"
    ).encode()

    class Shop(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("localhost", 0), Shop)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def shop_page(browser: Browser, shop: str) -> Page:
    page = browser.new_context().new_page()
    page.goto(shop)
    return page


def visitor_says(visitor: Page, text: str) -> None:
    visitor.fill("#tenure-chat textarea[name=body]", text)
    visitor.press("#tenure-chat textarea[name=body]", "Enter")
    # Acknowledged by the server: the bubble is no longer pending.
    expect(visitor.locator("#tenure-chat .msg.visitor", has_text=text)).not_to_have_class(
        "msg visitor pending"
    )


def sign_in(browser: Browser, server: str, user: User) -> Page:
    page = browser.new_context().new_page()
    page.goto(f"{server}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(f"{server}/customers/")
    return page


def test_agent_answers_a_live_chat_from_the_console(
    browser: Browser, server: str, shop: str, make_staff: Callable[..., User]
) -> None:
    ann = make_staff("agent", "ann")
    ann.first_name = "Ann"
    ann.save()
    bob = make_staff("agent", "bob")

    visitor = shop_page(browser, shop)
    visitor.click("#tenure-chat .launcher")
    visitor_says(visitor, "Hi, my radiator is cold")
    request_id = RequestMessage.objects.get(direction=Direction.INBOUND).request_id

    agent = sign_in(browser, server, ann)
    agent.goto(f"{server}/console/?view=unassigned")
    expect(agent.locator(f'#queue tr.row[data-request="{request_id}"]')).to_be_visible()
    agent.keyboard.press("j")
    expect(agent.locator("#queue tr.row.selected")).to_have_count(1)
    agent.keyboard.press("Enter")
    agent.wait_for_url(f"{server}/console/requests/{request_id}/")
    expect(agent.locator("#console[data-live=on]")).to_have_count(1)
    expect(agent.locator("#thread .msg.in", has_text="my radiator is cold")).to_be_visible()

    # A marker on window survives live updates but not a reload.
    agent.evaluate("window.__noReload = true")
    visitor_says(visitor, "It started this morning")
    expect(agent.locator("#thread .msg.in", has_text="It started this morning")).to_be_visible()
    assert agent.evaluate("window.__noReload === true")

    # Another agent opens the same request: Ann is warned.
    other = sign_in(browser, server, bob)
    other.goto(f"{server}/console/requests/{request_id}/")
    expect(agent.locator("#presence")).to_contain_text("bob is viewing")

    agent.keyboard.press("r")
    expect(agent.locator("#reply-form textarea[name=body]")).to_be_focused()
    agent.keyboard.type("Sorry to hear that, a technician can come at 2pm.")
    agent.select_option("#reply-form select[name=channel]", "chat")
    agent.click("#reply-form button[type=submit]")
    expect(agent.locator("#thread .msg.out", has_text="a technician can come at 2pm")).to_be_visible()
    expect(
        visitor.locator("#tenure-chat .msg.agent", has_text="a technician can come at 2pm")
    ).to_be_visible()
    expect(visitor.locator("#tenure-chat .msg.agent .who")).to_have_text("Ann")

    agent.locator("body").click()
    agent.keyboard.press("?")
    expect(agent.locator("dialog#shortcuts")).to_be_visible()
