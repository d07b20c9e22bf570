"""Inbound SMS in Twilio's wire format and the generic signed webhook, through the real views."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox import twilio
from tenure.customers.models import Customer, Purpose
from tenure.customers.services import create_customer
from tenure.helpdesk.models import Attachment, Request, RequestMessage
from tenure.inbox.models import InboundLog, WebhookSource
from tenure.inbox.signatures import webhook_signature

pytestmark = pytest.mark.django_db

TOKEN = "twilio-auth-token"
SMS_URL = "http://testserver/inbox/sms/twilio/"
NUMBER = "+12025550143"


@pytest.fixture(autouse=True)
def twilio_token(settings: SettingsWrapper) -> None:
    settings.TENURE_SMS_AUTH_TOKEN = TOKEN


def sms(
    client: Client,
    *,
    sid: str = "SM0001",
    body: str = "My heating is off",
    forged: bool = False,
    **extra: str,
) -> Any:
    form = {
        "MessageSid": sid,
        "AccountSid": "AC123",
        "From": NUMBER,
        "To": "+14155550123",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }
    signature = twilio.signature(SMS_URL, list(form.items()), TOKEN if not forged else "guessed")
    return client.post("/inbox/sms/twilio/", form, HTTP_X_TWILIO_SIGNATURE=signature)


def test_sms_becomes_a_request_and_answers_empty_twiml(client: Client) -> None:
    response = sms(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    customer = Customer.objects.get(identities__value=NUMBER)
    message = RequestMessage.objects.get(request__customer=customer)
    assert (message.channel, message.body, message.external_id) == ("sms", "My heating is off", "SM0001")
    assert Event.objects.filter(customer=customer, kind="request.received").exists()
    # Twilio retries a webhook it thinks failed: the same MessageSid is one message.
    assert sms(client).status_code == 200
    assert RequestMessage.objects.filter(direction="in").count() == 1


def test_forged_or_missing_signature_is_403_and_stores_nothing(client: Client) -> None:
    assert sms(client, forged=True).status_code == 403
    unsigned = client.post("/inbox/sms/twilio/", {"MessageSid": "SM9", "From": NUMBER, "Body": "hi"})
    assert unsigned.status_code == 403
    # A valid signature over different parameters does not cover a tampered body.
    form = {"MessageSid": "SM2", "From": NUMBER, "Body": "original"}
    signature = twilio.signature(SMS_URL, list(form.items()), TOKEN)
    tampered = client.post(
        "/inbox/sms/twilio/", {**form, "Body": "changed"}, HTTP_X_TWILIO_SIGNATURE=signature
    )
    assert tampered.status_code == 403
    assert not Customer.objects.exists() and not InboundLog.objects.exists() and not Request.objects.exists()


def test_picture_message_keeps_the_media_links(client: Client) -> None:
    response = sms(
        client,
        body="",
        NumMedia="1",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC123/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
    )
    assert response.status_code == 200
    message = RequestMessage.objects.get()
    assert message.body.startswith("(picture message)")
    assert "image/jpeg https://api.twilio.com/" in message.body
    assert message.metadata["media"][0]["content_type"] == "image/jpeg"


def test_stop_opts_out_and_start_restores(client: Client) -> None:
    customer = create_customer(
        name="Ada", identities=[("phone", NUMBER)], opted_out_purposes=[Purpose.MARKETING]
    )
    assert sms(client, sid="SM10", body=" Stop ").status_code == 200
    customer.refresh_from_db()
    assert sorted(customer.opted_out_purposes) == sorted(Purpose.values)
    assert not Request.objects.exists()  # a keyword is not a request
    assert Event.objects.filter(customer=customer, kind="sms.opted_out").exists()
    assert sms(client, sid="SM11", body="START").status_code == 200
    customer.refresh_from_db()
    assert customer.opted_out_purposes == [Purpose.MARKETING]
    assert list(InboundLog.objects.order_by("id").values_list("status", flat=True)) == ["opt_out", "opt_out"]


def test_bad_sender_number_is_a_400_naming_the_field(client: Client) -> None:
    response = sms(client, From="not-a-number")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "From"
    assert not Customer.objects.exists()


def test_public_url_setting_rebuilds_the_signed_url(client: Client, settings: SettingsWrapper) -> None:
    settings.TENURE_PUBLIC_URL = "https://support.shop.example"
    form = {"MessageSid": "SM77", "From": NUMBER, "Body": "behind a proxy"}
    signature = twilio.signature("https://support.shop.example/inbox/sms/twilio/", list(form.items()), TOKEN)
    assert client.post("/inbox/sms/twilio/", form, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 200


# -- generic webhook ---------------------------------------------------------------------------------

SECRET = "whsec-test-0123456789"


@pytest.fixture
def source() -> WebhookSource:
    return WebhookSource.objects.create(slug="instagram", name="Instagram bridge", secret=SECRET)


def post_event(
    client: Client,
    payload: Any,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    raw: bytes | None = None,
) -> Any:
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return client.post(
        "/inbox/webhook/instagram/",
        body,
        content_type="application/json",
        HTTP_X_TENURE_TIMESTAMP=stamp,
        HTTP_X_TENURE_SIGNATURE=webhook_signature(secret, stamp, body),
    )


EVENT = {
    "id": "evt-1",
    "occurred_at": "2026-03-02T09:30:00Z",
    "sender": {"channel": "social", "address": "instagram:@ada.lovelace", "name": "Ada Lovelace"},
    "subject": "Booking",
    "body": "Can you come on Friday?",
    "thread": "dm-42",
    "attachments": [
        {
            "filename": "plan.txt",
            "content_type": "text/plain",
            "data_base64": base64.b64encode(b"floor plan").decode(),
        }
    ],
}


def test_signed_event_becomes_a_request_once(client: Client, source: WebhookSource) -> None:
    response = post_event(client, EVENT)
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "accepted"
    customer = Customer.objects.get(identities__value="instagram:ada.lovelace")
    assert customer.name == "Ada Lovelace"
    message = RequestMessage.objects.get(request__customer=customer)
    assert (message.channel, message.body, message.subject) == (
        "webhook",
        "Can you come on Friday?",
        "Booking",
    )
    assert message.created_at.isoformat() == "2026-03-02T09:30:00+00:00"
    assert Attachment.objects.get(message=message).filename == "plan.txt"
    again = post_event(client, EVENT)
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert RequestMessage.objects.filter(direction="in").count() == 1


def test_next_event_of_a_thread_joins_the_same_request(client: Client, source: WebhookSource) -> None:
    post_event(client, EVENT)
    follow_up = {
        **EVENT,
        "id": "evt-2",
        "body": "Or Saturday morning, whatever suits you best.",
        "attachments": [],
    }
    follow_up.pop("occurred_at")
    assert post_event(client, follow_up).status_code == 201
    assert Request.objects.count() == 1
    assert RequestMessage.objects.filter(direction="in").count() == 2


def test_signature_failures(client: Client, source: WebhookSource) -> None:
    assert post_event(client, EVENT, secret="wrong").status_code == 403
    assert post_event(client, EVENT, timestamp=int(time.time()) - 3600).status_code == 403  # replayed
    unsigned = client.post("/inbox/webhook/instagram/", json.dumps(EVENT), content_type="application/json")
    assert unsigned.status_code == 401
    assert unsigned.json()["errors"][0]["field"] == "X-Tenure-Timestamp"
    assert client.post("/inbox/webhook/nobody/", b"{}", content_type="application/json").status_code == 404
    assert not Customer.objects.exists() and not InboundLog.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        ({**EVENT, "id": ""}, "id"),
        ({**EVENT, "sender": "ada"}, "sender"),
        ({**EVENT, "sender": {"channel": "pigeon", "address": "x"}}, "sender.channel"),
        ({**EVENT, "sender": {"channel": "email", "address": "not-an-address"}}, "sender.address"),
        ({**EVENT, "body": "", "attachments": []}, "body"),
        ({**EVENT, "occurred_at": "yesterday"}, "occurred_at"),
        ({**EVENT, "attachments": [{"filename": "x", "data_base64": "***"}]}, "attachments.0.data_base64"),
        ({**EVENT, "body": 42}, "body"),
    ],
)
def test_bad_json_is_400_with_the_field(
    client: Client, source: WebhookSource, payload: Any, field: str
) -> None:
    raw = payload if isinstance(payload, bytes) else None
    response = post_event(client, None if raw else payload, raw=raw)
    assert response.status_code == 400, response.content
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not Customer.objects.exists() and not RequestMessage.objects.exists()


def test_html_body_is_sanitised(client: Client, source: WebhookSource) -> None:
    event = {
        **EVENT,
        "id": "evt-html",
        "body": "",
        "attachments": [],
        "html": "<p>Hi</p><script>alert(1)</script>",
    }
    assert post_event(client, event).status_code == 201
    message = RequestMessage.objects.get()
    assert "<script" not in message.html and "alert" not in message.body


def test_a_reply_to_a_follow_up_answers_it_instead_of_opening_a_request(client: Client) -> None:
    import datetime as dt

    from django.utils import timezone

    from tenure.core.services import record_event
    from tenure.surveys.models import Survey, SurveyStatus
    from tenure.surveys.services import send_due

    customer = create_customer(name="Lin", identities=[("phone", NUMBER)], preferred_channel="phone")
    record_event(customer_id=customer.pk, kind="job.completed", payload={"appointment_id": 5})
    send_due(timezone.now() + dt.timedelta(minutes=16))
    assert Survey.objects.get().status == SurveyStatus.SENT

    assert sms(client, sid="SM10", body="the radiator is still cold").status_code == 200
    assert sms(client, sid="SM11", body="Not fixed, 2").status_code == 200
    survey = Survey.objects.get()
    assert (survey.status, survey.fixed, survey.score) == (SurveyStatus.ANSWERED, False, 2)
    assert InboundLog.objects.get(external_id="SM11").status == "survey_answer"
    # Only the reply that did not read as an answer became a request.
    assert [m.body for m in RequestMessage.objects.filter(direction="in")] == ["the radiator is still cold"]
