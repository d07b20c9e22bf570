"""The public contact form: CSRF, honeypot, rate limit, clear errors, and a real browser filling it in."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings as SettingsWrapper
from pytest_django.live_server_helper import LiveServer

from tenure.customers.models import Customer
from tenure.helpdesk.models import Request, RequestMessage
from tenure.inbox.models import InboundLog

FIELDS = {
    "name": "Ada Lovelace",
    "email": "Ada@Customer.Example",
    "phone": "",
    "subject": "Quote",
    "message": "Please send a quote for a new boiler.",
    "website": "",
}


def form_page(client: Client) -> tuple[str, str]:
    """(csrf token, form token) from a fresh GET, as a browser would have them."""
    response = client.get("/inbox/form/")
    assert response.status_code == 200
    html = response.content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert csrf and token
    return csrf.group(1), token.group(1)


def submit(client: Client, **changes: str) -> Any:
    csrf, token = form_page(client)
    return client.post("/inbox/form/", {**FIELDS, "csrfmiddlewaretoken": csrf, "token": token, **changes})


@pytest.fixture
def browserless() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.mark.django_db
def test_form_page_is_embeddable_and_hides_the_honeypot(browserless: Client) -> None:
    response = browserless.get("/inbox/form/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response  # meant to sit in an iframe on the business's site
    assert 'class="hp" aria-hidden="true"' in response.content.decode()
    script = browserless.get("/inbox/form/embed.js")
    assert script["Content-Type"].startswith("text/javascript")
    # The iframe URL, escaped for a JavaScript string.
    assert 'frame.src = "http://testserver/inbox/form/?embed\\u003D1"' in script.content.decode()


@pytest.mark.django_db
def test_submission_becomes_a_web_request(browserless: Client) -> None:
    response = submit(browserless)
    assert response.status_code == 200
    assert "We have your message" in response.content.decode()
    customer = Customer.objects.get(identities__value="ada@customer.example")
    message = RequestMessage.objects.get(request__customer=customer)
    assert (message.channel, message.subject, message.body) == ("web", "Quote", FIELDS["message"])
    assert message.metadata["name"] == "Ada Lovelace"


@pytest.mark.django_db
def test_double_submit_of_one_form_is_one_message(browserless: Client) -> None:
    csrf, token = form_page(browserless)
    data = {**FIELDS, "csrfmiddlewaretoken": csrf, "token": token}
    assert browserless.post("/inbox/form/", data).status_code == 200
    assert browserless.post("/inbox/form/", data).status_code == 200
    assert RequestMessage.objects.filter(direction="in").count() == 1


@pytest.mark.django_db
def test_phone_only_contact(browserless: Client) -> None:
    assert submit(browserless, email="", phone="(202) 555-0143").status_code == 200
    assert Customer.objects.get(identities__value="+12025550143").name == "Ada Lovelace"


@pytest.mark.django_db
def test_without_csrf_token_is_refused(browserless: Client) -> None:
    form_page(browserless)
    _, token = form_page(browserless)
    response = browserless.post("/inbox/form/", {**FIELDS, "token": token})
    assert response.status_code == 403
    assert not RequestMessage.objects.exists()


@pytest.mark.django_db
def test_honeypot_looks_like_success_but_stores_no_request(browserless: Client) -> None:
    response = submit(browserless, website="http://spam.example")
    assert response.status_code == 200 and "We have your message" in response.content.decode()
    assert not Customer.objects.exists() and not Request.objects.exists()
    assert InboundLog.objects.get().status == "spam"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"email": "", "phone": ""}, "Give an e-mail address or a phone number"),
        ({"email": "ada@"}, "Enter a valid email address."),
        ({"phone": "12", "email": ""}, "Enter a phone number we can call"),
        ({"message": "   "}, "This field is required."),
        ({"name": ""}, "This field is required."),
        ({"token": "forged"}, "This form was open too long"),
    ],
)
def test_clear_errors_keep_what_was_typed(browserless: Client, changes: dict[str, str], error: str) -> None:
    response = submit(browserless, **changes)
    assert response.status_code == 400
    html = response.content.decode()
    assert error in html
    assert "Please send a quote for a new boiler." in html or changes.get("message")
    assert not RequestMessage.objects.exists()


@pytest.mark.django_db
def test_rate_limit_per_address(browserless: Client, settings: SettingsWrapper) -> None:
    settings.TENURE_INBOX_FORM_RATE = "2/600"
    assert submit(browserless, message="first message about the boiler").status_code == 200
    assert submit(browserless, message="second message about the invoice").status_code == 200
    limited = submit(browserless, message="third message about something else")
    assert limited.status_code == 429
    assert "Too many messages" in limited.content.decode()
    assert RequestMessage.objects.filter(direction="in").count() == 2
    other = Client(enforce_csrf_checks=True, REMOTE_ADDR="198.51.100.7")
    assert submit(other, message="someone else entirely").status_code == 200


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_visitor_fills_in_the_embedded_form(live_server: LiveServer, page: Page) -> None:
    page.goto(f"{live_server.url}/inbox/form/")
    page.fill("#id_name", "Grace Hopper")
    page.fill("#id_email", "grace@customer.example")
    page.fill("#id_message", "")
    page.click("button[type=submit]")
    expect(page.locator("#id_message-error")).to_have_text("This field is required.")
    assert page.input_value("#id_email") == "grace@customer.example"
    expect(page.locator(".hp")).not_to_be_in_viewport()
    page.fill("#id_message", "The technician never came on Tuesday.")
    page.click("button[type=submit]")
    expect(page.locator(".thanks")).to_contain_text("We have your message")
    message = RequestMessage.objects.get(direction="in")
    assert (message.channel, message.body) == ("web", "The technician never came on Tuesday.")

    # The one-tag embed on another page puts the form in an iframe.
    page.set_content(f'<h1>Our shop</h1><script src="{live_server.url}/inbox/form/embed.js"></script>')
    frame = page.frame_locator("iframe[title='Contact form']")
    expect(frame.locator("#id_message")).to_be_visible()
