"""The outbox against a real SMTP server (aiosmtpd) and a loopback HTTP server speaking Twilio's format."""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.email import EmailAdapter, message_id_for
from tenure.core.outbox.services import queue_message
from tenure.core.outbox.settings import current
from tenure.core.outbox_models import OutboundMessage
from tenure.core.sweeper import registered_sweepers
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tests.loopback import SENDER, ReceivedMail, free_port

from .conftest import WorkerProcess

FROM = SENDER
BOUNCING = "gone@customer.example"
BAD_NUMBER = "+12025550143"
SID = "AC0123456789"
TOKEN = "secret-token"


@dataclass
class SmsGateway:
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def make_gateway_handler(gateway: SmsGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            gateway.requests.append({"path": self.path, "headers": dict(self.headers), "form": form})
            if form.get("To") == BAD_NUMBER:
                status, body = 400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400}
            else:
                status, body = 201, {"sid": f"SM{len(gateway.requests):032d}", "status": "queued"}
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def mailbox(smtp_server: ReceivedMail) -> ReceivedMail:
    """The shared loopback SMTP server, refusing one address with a hard bounce."""
    smtp_server.refused.add(BOUNCING)
    return smtp_server


@pytest.fixture
def sms_gateway(settings: SettingsWrapper) -> Iterator[SmsGateway]:
    gateway = SmsGateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_gateway_handler(gateway))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    gateway.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.TENURE_SMS_BASE_URL = gateway.url
    settings.TENURE_SMS_ACCOUNT_SID = SID
    settings.TENURE_SMS_AUTH_TOKEN = TOKEN
    settings.TENURE_SMS_FROM = "+14155550123"
    yield gateway
    server.shutdown()
    server.server_close()


def customer_with(*identities: tuple[str, str], **fields: Any) -> Customer:
    return create_customer(name="Ada Customer", identities=identities, **fields)


def queue(customer: Customer, key: str, *, purpose: str = "reminders", **fields: Any) -> OutboundMessage:
    defaults: dict[str, Any] = {
        "channel": "email",
        "subject": "Your payment is due",
        "body": "Due on Friday.",
    }
    return queue_message(customer=customer, purpose=purpose, idempotency_key=key, **{**defaults, **fields})


def kinds(customer: Customer) -> list[str]:
    return list(Event.objects.filter(customer=customer).order_by("id").values_list("kind", flat=True))


def test_the_outbox_sweeper_is_registered() -> None:
    assert "core.outbox" in registered_sweepers()


@pytest.mark.django_db
def test_one_row_and_one_email_per_key_with_threading_and_unsubscribe_headers(mailbox: ReceivedMail) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    first = queue(customer, "payment-due:42", in_reply_to="<order-42@shop.example>")
    again = queue(customer, "payment-due:42", body="A different body is ignored.")
    receipt = queue(customer, "order-ack:42", purpose="transactional", subject="Thanks for your order")

    assert again.pk == first.pk
    assert OutboundMessage.objects.count() == 2
    assert deliver_due(timezone.now()) == 2
    assert deliver_due(timezone.now()) == 0

    assert len(mailbox.messages) == 2
    by_subject = {message["Subject"]: message for message in mailbox.messages}
    reminder = by_subject["Your payment is due"]
    assert reminder["Message-ID"] == message_id_for("payment-due:42", "shop.example")
    assert reminder["To"] == "ada@customer.example"
    assert reminder["From"] == FROM
    assert reminder["In-Reply-To"] == "<order-42@shop.example>"
    assert reminder["References"] == "<order-42@shop.example>"
    assert (
        reminder["List-Unsubscribe"].strip().startswith(f"<mailto:{FROM}?subject=unsubscribe%20reminders%20")
    )
    assert reminder.get_content().strip() == "Due on Friday."
    assert "List-Unsubscribe" not in by_subject["Thanks for your order"]

    first.refresh_from_db()
    receipt.refresh_from_db()
    assert (first.status, first.attempts, first.provider_id) == ("sent", 1, reminder["Message-ID"])
    assert first.sent_at is not None and first.send_after is None
    assert receipt.status == "sent"
    assert kinds(customer).count("message.queued") == 2
    sent = Event.objects.get(kind="message.sent", payload__message_id=first.pk)
    assert sent.payload["channel"] == "email" and sent.payload["purpose"] == "reminders"


@pytest.mark.django_db
def test_rolled_back_caller_leaves_no_message() -> None:
    customer = customer_with(("email", "ada@customer.example"))
    with pytest.raises(RuntimeError), transaction.atomic():
        queue(customer, "never")
        raise RuntimeError("the caller changed its mind")
    assert not OutboundMessage.objects.exists()
    assert "message.queued" not in kinds(customer)


@pytest.mark.django_db
def test_bad_input_names_the_field() -> None:
    customer = customer_with(("email", "ada@customer.example"))
    with pytest.raises(ValidationError) as error:
        queue(customer, "k1", purpose="gossip")
    assert "purpose" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        queue(customer, "k2", channel="pigeon")
    assert "channel" in error.value.message_dict
    assert not OutboundMessage.objects.exists()


def in_quiet_hours(zone: str) -> dt.datetime:
    tz = zoneinfo.ZoneInfo(zone)
    tomorrow = timezone.now().astimezone(tz).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(23, 30), tzinfo=tz)


@pytest.mark.django_db
def test_quiet_hours_defer_proactive_messages_to_their_end_in_the_customers_zone(
    mailbox: ReceivedMail,
) -> None:
    customer = customer_with(
        ("email", "ada@customer.example"),
        time_zone="Europe/Berlin",
        quiet_hours_start=dt.time(22, 0),
        quiet_hours_end=dt.time(7, 0),
    )
    reminder = queue(customer, "reminder")
    receipt = queue(customer, "receipt", purpose="transactional", subject="Receipt")
    night = in_quiet_hours("Europe/Berlin")

    deliver_due(night)

    reminder.refresh_from_db()
    receipt.refresh_from_db()
    assert receipt.status == "sent"
    assert reminder.status == "deferred"
    morning = dt.datetime.combine(night.date() + dt.timedelta(days=1), dt.time(7, 0), tzinfo=night.tzinfo)
    assert reminder.send_after == morning
    assert [m["Subject"] for m in mailbox.messages] == ["Receipt"]

    deliver_due(morning)
    reminder.refresh_from_db()
    assert reminder.status == "sent"
    assert len(mailbox.messages) == 2


@pytest.mark.django_db
def test_weekly_cap_defers_the_fourth_proactive_message_but_not_a_transactional_one(
    mailbox: ReceivedMail, settings: SettingsWrapper
) -> None:
    settings.TENURE_PROACTIVE_CAP_PER_WEEK = 3
    customer = customer_with(("email", "ada@customer.example"))
    proactive = [queue(customer, f"touch-{n}", subject=f"Touch {n}") for n in range(4)]
    queue(customer, "receipt", purpose="transactional", subject="Receipt")
    now = timezone.now()

    deliver_due(now)

    statuses = [OutboundMessage.objects.get(pk=m.pk).status for m in proactive]
    assert statuses == ["sent", "sent", "sent", "deferred"]
    assert sorted(m["Subject"] for m in mailbox.messages) == ["Receipt", "Touch 0", "Touch 1", "Touch 2"]
    # Decided while the first three were still in flight: look again shortly.
    fourth = OutboundMessage.objects.get(pk=proactive[3].pk)
    assert fourth.send_after == now + dt.timedelta(minutes=5)
    deliver_due(now + dt.timedelta(minutes=5))
    # Now they are sent: wait until the first of them leaves the 7-day window.
    fourth.refresh_from_db()
    assert fourth.status == "deferred"
    first_sent = OutboundMessage.objects.get(pk=proactive[0].pk).sent_at
    assert first_sent is not None and fourth.send_after == first_sent + dt.timedelta(days=7)
    assert "per 7 days" in fourth.last_error

    assert deliver_due(now + dt.timedelta(days=6)) == 0
    deliver_due(now + dt.timedelta(days=7, minutes=1))
    assert OutboundMessage.objects.get(pk=fourth.pk).status == "sent"
    assert len(mailbox.messages) == 5


@pytest.mark.django_db
def test_opted_out_purpose_is_suppressed_with_its_reason(mailbox: ReceivedMail) -> None:
    customer = customer_with(("email", "ada@customer.example"), opted_out_purposes=["marketing"])
    offer = queue(customer, "offer", purpose="marketing")
    receipt = queue(customer, "receipt", purpose="transactional")

    deliver_due(timezone.now())

    offer.refresh_from_db()
    assert offer.status == "suppressed" and offer.send_after is None
    assert "opted out of marketing" in offer.last_error
    assert OutboundMessage.objects.get(pk=receipt.pk).status == "sent"
    assert len(mailbox.messages) == 1
    event = Event.objects.get(kind="message.suppressed")
    assert event.payload["message_id"] == offer.pk and event.payload["purpose"] == "marketing"


@pytest.mark.django_db
def test_sms_goes_out_in_twilios_wire_format(sms_gateway: SmsGateway) -> None:
    customer = customer_with(("phone", "+1 415 555 0199"))
    message = queue(customer, "sms:1", channel="sms", body="Your refill is ready.")

    deliver_due(timezone.now())

    [request] = sms_gateway.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["form"] == {"To": "+14155550199", "From": "+14155550123", "Body": "Your refill is ready."}
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["i-twilio-idempotency-token"] == "sms:1"
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_id == f"SM{1:032d}"


@pytest.mark.django_db
def test_hard_bounce_marks_the_address_invalid_and_falls_back_to_sms(
    mailbox: ReceivedMail, sms_gateway: SmsGateway
) -> None:
    customer = customer_with(("email", BOUNCING), ("phone", "+1 415 555 0199"), preferred_channel="email")
    message = queue(customer, "bounce-me")

    deliver_due(timezone.now())

    message.refresh_from_db()
    assert (message.status, message.channel, message.recipient) == ("queued", "sms", "+14155550199")
    assert "550" in message.last_error
    invalid = Event.objects.get(kind="identity.invalid")
    assert invalid.payload["channel"] == "email" and invalid.payload["value"] == BOUNCING

    deliver_due(timezone.now())
    message.refresh_from_db()
    assert message.status == "sent"
    assert [r["form"]["To"] for r in sms_gateway.requests] == ["+14155550199"]
    assert mailbox.messages == []

    # The bounced address stays skipped for the next message too.
    later = queue(customer, "after-bounce")
    deliver_due(timezone.now())
    later.refresh_from_db()
    assert (later.status, later.channel) == ("sent", "sms")


@pytest.mark.django_db
def test_invalid_number_falls_back_to_email(mailbox: ReceivedMail, sms_gateway: SmsGateway) -> None:
    customer = customer_with(
        ("phone", BAD_NUMBER), ("email", "ada@customer.example"), preferred_channel="phone"
    )
    message = queue(customer, "sms-bad", channel="sms")

    deliver_due(timezone.now())
    deliver_due(timezone.now())

    message.refresh_from_db()
    assert (message.status, message.channel) == ("sent", "email")
    assert "21211" in Event.objects.get(kind="identity.invalid").payload["reason"]
    assert len(mailbox.messages) == 1


@pytest.mark.django_db
def test_no_reachable_address_fails_with_a_clear_reason(mailbox: ReceivedMail) -> None:
    customer = customer_with(("email", BOUNCING))
    message = queue(customer, "nowhere")

    deliver_due(timezone.now())

    message.refresh_from_db()
    assert message.status == "failed"
    assert "no other reachable address" in message.last_error
    failed = Event.objects.get(kind="message.failed")
    assert failed.payload["message_id"] == message.pk

    nobody = create_customer(name="No Address")
    orphan = queue(nobody, "orphan")
    deliver_due(timezone.now())
    orphan.refresh_from_db()
    assert orphan.status == "failed" and "no reachable address" in orphan.last_error


@pytest.mark.django_db
def test_row_left_sending_by_a_crashed_worker_is_sent_again_once_with_the_same_message_id(
    mailbox: ReceivedMail,
) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    message = queue(customer, "crash:1", recipient="ada@customer.example")
    now = timezone.now()
    # A worker claimed the row, handed the e-mail to the server and died before marking it sent.
    OutboundMessage.objects.filter(pk=message.pk).update(status="sending", attempts=1, send_after=now)
    message.refresh_from_db()
    EmailAdapter(current()).send(message)
    # A row another worker claimed a moment ago is not touched.
    busy = queue(customer, "busy:1")
    OutboundMessage.objects.filter(pk=busy.pk).update(
        status="sending", attempts=1, send_after=now + dt.timedelta(minutes=5)
    )

    deliver_due(now + dt.timedelta(seconds=1))
    deliver_due(now + dt.timedelta(seconds=2))

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 2)
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert ids == [message_id_for("crash:1", "shop.example")] * 2
    assert OutboundMessage.objects.get(pk=busy.pk).status == "sending"
    assert Event.objects.filter(kind="message.sent").count() == 1


@pytest.mark.django_db
def test_unreachable_server_retries_with_backoff_then_fails(settings: SettingsWrapper) -> None:
    settings.TENURE_EMAIL_HOST = "127.0.0.1"
    settings.TENURE_EMAIL_PORT = free_port()  # nothing listens there
    settings.TENURE_OUTBOX_MAX_ATTEMPTS = 2
    settings.TENURE_OUTBOX_RETRY_BASE_SECONDS = 60
    customer = customer_with(("email", "ada@customer.example"))
    message = queue(customer, "retry")

    before = timezone.now()
    deliver_due(before)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 1)
    assert message.send_after is not None and message.send_after >= before + dt.timedelta(seconds=60)
    assert message.last_error.startswith("SMTP 127.0.0.1:")

    deliver_due(message.send_after)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("failed", 2)
    assert "gave up after 2 attempts" in message.last_error
    assert "message.failed" in kinds(customer)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_queued_mail_through_the_sweep(
    mailbox: ReceivedMail, start_worker: Callable[..., WorkerProcess], settings: SettingsWrapper
) -> None:
    customer = customer_with(("email", "ada@customer.example"))
    message = queue(customer, "via-worker")
    env = {
        "TENURE_EMAIL_HOST": "127.0.0.1",
        "TENURE_EMAIL_PORT": str(settings.TENURE_EMAIL_PORT),
        "TENURE_EMAIL_FROM": FROM,
    }

    worker = start_worker("--batch", env=env)

    assert worker.wait_exit() == 0, worker.output()
    message.refresh_from_db()
    assert message.status == "sent", worker.output()
    assert [m["Message-ID"] for m in mailbox.messages] == [message_id_for("via-worker", "shop.example")]


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_send_each_message_once_and_keep_the_cap(
    mailbox: ReceivedMail, settings: SettingsWrapper
) -> None:
    settings.TENURE_OUTBOX_BATCH_SIZE = 2
    customer = customer_with(("email", "ada@customer.example"))
    for n in range(6):
        queue(customer, f"touch-{n}", subject=f"Touch {n}")
    for n in range(4):
        queue(customer, f"receipt-{n}", purpose="transactional", subject=f"Receipt {n}")
    now = timezone.now()
    errors: list[BaseException] = []

    def sweep_until_idle() -> None:
        try:
            while deliver_due(now):
                pass
        except BaseException as error:  # the assertion below reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep_until_idle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    subjects = sorted(m["Subject"] for m in mailbox.messages)
    assert len(subjects) == len(set(subjects)) == 7
    assert sum(subject.startswith("Touch") for subject in subjects) == 3
    assert OutboundMessage.objects.filter(status="deferred").count() == 3


@pytest.mark.django_db
def test_a_proactive_message_waiting_to_retry_still_counts_toward_the_cap(
    mailbox: ReceivedMail, settings: SettingsWrapper
) -> None:
    """Its first try may have reached the customer before the connection failed."""
    settings.TENURE_PROACTIVE_CAP_PER_WEEK = 1
    customer = customer_with(("email", "ada@customer.example"))
    tried = queue(customer, "touch-0", subject="Touch 0")
    OutboundMessage.objects.filter(pk=tried.pk).update(
        attempts=1, send_after=timezone.now() + dt.timedelta(hours=1), last_error="connection reset"
    )
    later = queue(customer, "touch-1", subject="Touch 1")

    deliver_due(timezone.now())

    assert OutboundMessage.objects.get(pk=later.pk).status == "deferred"
    assert mailbox.messages == []
