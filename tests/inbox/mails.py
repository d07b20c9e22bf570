"""Builders for the e-mails the tests send: plain, HTML, replies, auto-replies, bounces."""

from __future__ import annotations

import email.policy
import email.utils
from email.message import EmailMessage

CUSTOMER = "ada.lovelace@customer.example"


def mail(
    *,
    sender: str = f"Ada Lovelace <{CUSTOMER}>",
    subject: str = "My boiler is leaking",
    text: str | None = "Hello,\n\nthe boiler in the basement is leaking since this morning.\n\nAda",
    html: str | None = None,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = "support@shop.example"
    message["Subject"] = subject
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = message_id or email.utils.make_msgid(domain="customer.example")
    for name, value in (headers or {}).items():
        message[name] = value
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def dsn(*, failed: str, original_message_id: str, status: str = "5.1.1", action: str = "failed") -> bytes:
    """A multipart/report delivery status notification as Postfix writes it."""
    boundary = "dsn-boundary-1"
    return (
        "From: MAILER-DAEMON@mx.customer.example (Mail Delivery System)\r\n"
        "To: care@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='mx.customer.example')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "From: care@shop.example\r\n"
        f"To: {failed}\r\n"
        f"Message-ID: {original_message_id}\r\n"
        "Subject: Your request\r\n\r\n"
        f"--{boundary}--\r\n"
    ).encode()
