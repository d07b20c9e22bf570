"""Unsubscribe links (RFC 2369/8058), Twilio status callbacks and bounce reports, against real loopback servers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.status import UnknownMessage, record_bounce
from tenure.core.outbox.unsubscribe import SALT, unsubscribe_token
from tenure.core.outbox_models import OutboundMessage
from tenure.customers.models import Customer
from tests.loopback import ReceivedMail

from .test_outbox import TOKEN, SmsGateway, customer_with, kinds, mailbox, queue, sms_gateway

__all__ = ["mailbox", "sms_gateway"]  # fixtures used here by name

PUBLIC = "http://testserver"
STATUS_PATH = "/outbox/twilio/status/"


@pytest.fixture
def public_url(settings: SettingsWrapper) -> str:
    settings.TENURE_PUBLIC_URL = PUBLIC
    return PUBLIC


def unsubscribe_path(message: object) -> str:
    """The https URL from a received e-mail's List-Unsubscribe header, as a path for the test client."""
    header = str(message["List-Unsubscribe"])  # type: ignore[index]
    url = re.findall(r"<(http[^>]+)>", header)[0]
    assert url.startswith(PUBLIC)
    return urlsplit(url).path


@pytest.mark.django_db
def test_the_one_click_link_in_a_real_email_unsubscribes_from_that_purpose_only(
    mailbox: ReceivedMail, public_url: str, client: Client
) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    queue(customer, "reminder-1")
    deliver_due(timezone.now())
    [received] = mailbox.messages
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<mailto:" in received["List-Unsubscribe"]
    path = unsubscribe_path(received)

    # Opening the link (or a scanner fetching it) only asks.
    page = client.get(path)
    assert page.status_code == 200 and b"Stop receiving" in page.content
    assert Customer.objects.get(pk=customer.pk).opted_out_purposes == []

    # The mail client's RFC 8058 one-click POST: no session, no CSRF token.
    done = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    assert Customer.objects.get(pk=customer.pk).opted_out_purposes == ["reminders"]
    event = Event.objects.get(customer=customer, kind="customer.unsubscribed")
    assert event.payload == {"purpose": "reminders", "via": "one-click"}

    again = client.post(path)
    assert again.status_code == 200 and b"already" in again.content
    assert Event.objects.filter(kind="customer.unsubscribed").count() == 1

    later = queue(customer, "reminder-2")
    offer = queue(customer, "survey-1", purpose="surveys", subject="How did we do?")
    receipt = queue(customer, "receipt-1", purpose="transactional", subject="Receipt")
    deliver_due(timezone.now())
    assert OutboundMessage.objects.get(pk=later.pk).status == "suppressed"
    assert OutboundMessage.objects.get(pk=offer.pk).status == "sent"
    assert OutboundMessage.objects.get(pk=receipt.pk).status == "sent"
    by_subject = {m["Subject"]: m for m in mailbox.messages}
    assert set(by_subject) == {"Your payment is due", "How did we do?", "Receipt"}
    assert "List-Unsubscribe" not in by_subject["Receipt"]


@pytest.mark.django_db
def test_forged_tampered_and_expired_links_are_refused_and_change_nothing(client: Client) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    good = unsubscribe_token(customer.pk, "reminders")
    rest = good.partition(":")[2]
    other_purpose = f"{customer.pk}.marketing:{rest}"
    forged = signing.TimestampSigner(key="not-our-secret", salt=SALT).sign(f"{customer.pk}.reminders")

    class PastSigner(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time()) - 500 * 86400)

    expired = PastSigner(salt=SALT).sign(f"{customer.pk}.reminders")

    for token, words in [
        (other_purpose, b"not valid"),
        (forged, b"not valid"),
        ("garbage", b"not valid"),
        (expired, b"expired"),
    ]:
        response = client.post(f"/outbox/unsubscribe/{token}/", {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 400, token
        assert words in response.content
    assert Customer.objects.get(pk=customer.pk).opted_out_purposes == []
    assert not Event.objects.filter(kind="customer.unsubscribed").exists()
    assert client.get(f"/outbox/unsubscribe/{good}/").status_code == 200


def twilio_signature(url: str, form: dict[str, str], token: str) -> str:
    """Written out here from Twilio's documentation, independently of the code under test."""
    data = url + "".join(key + form[key] for key in sorted(form))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def callback(client: Client, form: dict[str, str], *, token: str = TOKEN) -> tuple[int, dict[str, object]]:
    signature = twilio_signature(PUBLIC + STATUS_PATH, form, token)
    response = client.post(STATUS_PATH, form, HTTP_X_TWILIO_SIGNATURE=signature)
    body = response.json() if response.headers.get("Content-Type") == "application/json" else {}
    return response.status_code, body


@pytest.mark.django_db
def test_twilio_status_callbacks_update_the_message_and_the_timeline(
    sms_gateway: SmsGateway, public_url: str, client: Client
) -> None:
    customer = customer_with(("phone", "+1 415 555 0199"))
    message = queue(customer, "sms-status", channel="sms", body="Your refill is ready.")
    deliver_due(timezone.now())
    [request] = sms_gateway.requests
    assert request["form"]["StatusCallback"] == PUBLIC + STATUS_PATH
    message.refresh_from_db()
    sid = message.provider_id

    assert callback(client, {"MessageSid": sid, "MessageStatus": "sent"})[0] == 204
    assert OutboundMessage.objects.get(pk=message.pk).delivery_status == ""
    assert callback(client, {"MessageSid": sid, "MessageStatus": "delivered", "AccountSid": "AC1"})[0] == 204
    assert callback(client, {"MessageSid": sid, "MessageStatus": "delivered"})[0] == 204  # Twilio retries

    message.refresh_from_db()
    assert message.delivery_status == "delivered" and message.delivery_updated_at is not None
    assert kinds(customer).count("message.delivered") == 1

    # The delivery shows on the customer's timeline page.
    staff = Client()
    from django.contrib.auth.models import Group, User

    agent = User.objects.create_user("agent-x", is_staff=True)
    agent.groups.add(Group.objects.get(name="agent"))
    staff.force_login(agent)
    page = staff.get(f"/customers/{customer.pk}/")
    assert b"message.delivered" in page.content


@pytest.mark.django_db
def test_bad_callbacks_are_refused_and_change_nothing(
    sms_gateway: SmsGateway, public_url: str, client: Client
) -> None:
    customer = customer_with(("phone", "+1 415 555 0199"))
    message = queue(customer, "sms-bad-callbacks", channel="sms")
    deliver_due(timezone.now())
    message.refresh_from_db()
    form = {"MessageSid": message.provider_id, "MessageStatus": "delivered"}

    assert callback(client, form, token="wrong-token")[0] == 403
    assert client.post(STATUS_PATH, form).status_code == 403  # no signature at all
    status, body = callback(client, {"MessageSid": "SMunknown", "MessageStatus": "delivered"})
    assert status == 404 and body["errors"] == [
        {"field": "MessageSid", "message": "no message was sent with sid SMunknown"}
    ]
    status, body = callback(client, {"MessageSid": message.provider_id})
    assert status == 400 and body["errors"][0]["field"] == "MessageStatus"  # type: ignore[index]
    assert OutboundMessage.objects.get(pk=message.pk).delivery_status == ""
    assert "message.delivered" not in kinds(customer)


@pytest.mark.django_db
def test_undelivered_to_a_landline_marks_the_number_invalid_and_falls_back_to_email(
    sms_gateway: SmsGateway, mailbox: ReceivedMail, public_url: str, client: Client
) -> None:
    customer = customer_with(("phone", "+1 415 555 0199"), ("email", "ada@customer.example"))
    message = queue(customer, "sms-landline", channel="sms", subject="Refill", body="Your refill is ready.")
    deliver_due(timezone.now())
    message.refresh_from_db()

    status, _ = callback(
        client, {"MessageSid": message.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30006"}
    )
    assert status == 204
    message.refresh_from_db()
    assert (message.status, message.channel, message.recipient) == ("queued", "email", "ada@customer.example")
    invalid = Event.objects.get(kind="identity.invalid")
    assert invalid.payload["value"] == "+14155550199" and "30006" in invalid.payload["reason"]

    deliver_due(timezone.now())
    message.refresh_from_db()
    assert message.status == "sent"
    assert [m["Subject"] for m in mailbox.messages] == ["Refill"]
    assert kinds(customer).count("message.undelivered") == 1


@pytest.mark.django_db
def test_a_hard_bounce_report_marks_the_address_invalid_and_falls_back_to_sms(
    mailbox: ReceivedMail, sms_gateway: SmsGateway
) -> None:
    customer = customer_with(("email", "ada@customer.example"), ("phone", "+1 415 555 0199"))
    message = queue(customer, "bounce-later", body="Payment due Friday.")
    deliver_due(timezone.now())
    [received] = mailbox.messages
    message_id = str(received["Message-ID"])

    with pytest.raises(UnknownMessage):
        record_bounce("<nobody@nowhere.example>", permanent=True, reason="550 5.1.1 user unknown")
    soft = record_bounce(message_id, permanent=False, reason="452 mailbox full")
    assert soft.changed and OutboundMessage.objects.get(pk=message.pk).delivery_status == "delayed"
    assert OutboundMessage.objects.get(pk=message.pk).status == "sent"

    hard = record_bounce(message_id.strip("<>"), permanent=True, reason="550 5.1.1 user unknown")
    assert hard.changed
    message.refresh_from_db()
    assert (message.status, message.channel, message.delivery_status) == ("queued", "sms", "bounced")
    assert Event.objects.get(kind="identity.invalid").payload["value"] == "ada@customer.example"

    deliver_due(timezone.now())
    message.refresh_from_db()
    assert message.status == "sent"
    assert [r["form"]["Body"] for r in sms_gateway.requests] == ["Payment due Friday."]
    assert kinds(customer).count("message.bounced") == 1
    assert kinds(customer).count("message.delayed") == 1


@pytest.mark.django_db
def test_a_link_acts_only_on_the_customer_and_purpose_it_was_made_for(
    client_as: Callable[[str], Client],
) -> None:
    """Being signed in (here as a technician) adds nothing: only the token says whose opt-out it is."""
    first = customer_with(("email", "ada@customer.example"))
    second = customer_with(("email", "bob@customer.example"))
    token = unsubscribe_token(first.pk, "marketing")
    client_as("technician").post(f"/outbox/unsubscribe/{token}/")
    assert Customer.objects.get(pk=first.pk).opted_out_purposes == ["marketing"]
    assert Customer.objects.get(pk=second.pk).opted_out_purposes == []
