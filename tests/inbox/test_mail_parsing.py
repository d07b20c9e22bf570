"""MIME parsing, quoted-history stripping, HTML sanitising and auto-reply/bounce/loop recognition."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import pytest

from tenure.inbox.html import html_to_text, sanitize_html
from tenure.inbox.mail.classify import classify
from tenure.inbox.mail.parse import parse_email
from tenure.inbox.mail.quotes import strip_quoted

from .mails import CUSTOMER, dsn, mail

LIMIT = 10 * 1024 * 1024


def classified(raw: bytes, *, max_received: int = 30) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    verdict = classify(
        message,
        own_domain="shop.example",
        own_addresses=frozenset({"care@shop.example"}),
        max_received=max_received,
    )
    return verdict.kind, verdict.reason


def test_plain_message_with_attachment() -> None:
    raw = mail(attachments=(("photo.jpg", "image/jpeg", b"\xff\xd8\xff" + b"x" * 1000),))
    parsed = parse_email(raw, max_attachment_bytes=LIMIT)
    assert parsed.from_address == CUSTOMER
    assert parsed.from_name == "Ada Lovelace"
    assert parsed.subject == "My boiler is leaking"
    assert parsed.message_id.endswith("@customer.example>")
    assert "boiler in the basement is leaking" in parsed.text
    assert [(a.filename, a.content_type, len(a.data)) for a in parsed.attachments] == [
        ("photo.jpg", "image/jpeg", 1003)
    ]
    assert parsed.date is not None and parsed.date.tzinfo is not None


def test_threading_headers() -> None:
    raw = mail(
        headers={
            "In-Reply-To": "<ack-1@shop.example>",
            "References": "<first@customer.example> <ack-1@shop.example>",
        }
    )
    parsed = parse_email(raw, max_attachment_bytes=LIMIT)
    assert parsed.in_reply_to == "<ack-1@shop.example>"
    assert parsed.references == ("<first@customer.example>", "<ack-1@shop.example>")


def test_attachment_over_the_limit_is_noted_and_the_message_kept() -> None:
    big = b"\0" * (2 * 1024 * 1024)
    raw = mail(attachments=(("small.txt", "text/plain", b"ok"), ("video.mp4", "video/mp4", big)))
    parsed = parse_email(raw, max_attachment_bytes=1024 * 1024)
    assert [a.filename for a in parsed.attachments] == ["small.txt"]
    assert "video.mp4" in parsed.notes[0] and "2.0 MB" in parsed.notes[0]
    assert "boiler" in parsed.text


def test_html_only_message_is_sanitised_and_flattened() -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        '<p onclick="steal()">Hello <b>team</b>,</p><p>the <a href="javascript:alert(1)">heater</a> is cold.</p>'
        '<img src=x onerror="alert(2)"><iframe src="https://evil.example"></iframe>'
        "<blockquote>On Monday you wrote: old text</blockquote></body></html>"
    )
    parsed = parse_email(mail(text=None, html=html), max_attachment_bytes=LIMIT)
    for dangerous in ("<script", "alert(", "onclick", "onerror", "javascript:", "<iframe", "<style"):
        assert dangerous not in parsed.html
    assert "<b>team</b>" in parsed.html
    assert "the heater is cold." in parsed.text
    assert "old text" not in parsed.text  # the blockquote was quoted history
    assert "alert" not in parsed.text and "color:red" not in parsed.text


def test_sanitize_keeps_safe_links() -> None:
    cleaned = sanitize_html('<a href="https://shop.example/x" target="_blank">x</a><form><input></form>')
    assert 'href="https://shop.example/x"' in cleaned
    assert "<form" not in cleaned and "<input" not in cleaned
    assert html_to_text("<p>a</p><p>b &amp; c</p>") == "a\n\nb & c"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Thanks, that works.\n\nOn Tue, 3 Mar 2026 at 10:00, Shop <care@shop.example> wrote:\n> Did it work?\n> Bye",
            "Thanks, that works.",
        ),
        (
            "Thanks.\n\nOn Tue, 3 Mar 2026 at 10:00, Shop Support\n<care@shop.example> wrote:\n> old",
            "Thanks.",
        ),
        (
            "Yes please.\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\nSubject: x\n\nold",
            "Yes please.",
        ),
        (
            "Tomorrow is fine.\n\n________________________________\nFrom: Shop <care@shop.example>\nSent: Monday, 2 March 2026 09:00\nTo: Ada\nSubject: Visit\n\nold",
            "Tomorrow is fine.",
        ),
        ("Ja, danke.\n\nAm 03.03.2026 um 10:00 schrieb Shop <care@shop.example>:\n> alt", "Ja, danke."),
        ("> quoted first\nmy answer below", "my answer below"),
        ("> only a quote\n> nothing new", "> only a quote\n> nothing new"),
    ],
)
def test_quoted_history_is_stripped(body: str, expected: str) -> None:
    assert strip_quoted(body) == expected


def test_malformed_mime_never_loses_the_text() -> None:
    raw = (
        b"From: Ada <ada@customer.example>\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="never-closed"\r\n\r\n'
        b"--never-closed\r\nContent-Type: text/plain; charset=x-klingon\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64 at all\xff\xfe\r\n"
    )
    parsed = parse_email(raw, max_attachment_bytes=LIMIT)
    assert parsed.from_address == "ada@customer.example"
    assert parsed.text.strip()
    assert parsed.notes  # the agent is told the message was malformed


def test_garbage_bytes_still_parse() -> None:
    parsed = parse_email(b"\x00\x01 not an e-mail \xff at all", max_attachment_bytes=LIMIT)
    assert parsed.text


def test_unknown_language_and_charset() -> None:
    text = "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ — ᎤᏍᏗ ᎠᏂᏴᏫ 𐌰𐌱𐌲 ✓"
    raw = mail(text=text)
    parsed = parse_email(raw, max_attachment_bytes=LIMIT)
    assert parsed.text == text
    latin = (
        b"From: x@customer.example\r\nSubject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n"
        b"Content-Type: text/plain; charset=unknown-8bit\r\n\r\nGr\xfc\xdfe aus K\xf6ln\r\n"
    )
    parsed = parse_email(latin, max_attachment_bytes=LIMIT)
    assert parsed.subject == "Grüße"
    assert "aus K" in parsed.text


def test_person_mail_is_ok() -> None:
    assert classified(mail()) == ("", "")


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
        {"X-Auto-Response-Suppress": "All"},
    ],
)
def test_auto_reply_headers(headers: dict[str, str]) -> None:
    assert classified(mail(headers=headers))[0] == "auto_reply"


@pytest.mark.parametrize(
    "subject", ["Out of Office: My boiler", "Automatic reply: x", "Auto: x", "Abwesenheitsnotiz", "Vacation"]
)
def test_vacation_subjects(subject: str) -> None:
    assert classified(mail(subject=subject))[0] == "auto_reply"


def test_auto_submitted_no_is_a_person() -> None:
    assert classified(mail(headers={"Auto-Submitted": "no"}))[0] == ""


def test_bounce_report_names_the_failed_recipient_and_our_message() -> None:
    raw = dsn(failed="gone@customer.example", original_message_id="<abc@shop.example>")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    verdict = classify(message, own_domain="shop.example", own_addresses=frozenset(), max_received=30)
    assert verdict.kind == "bounce"
    assert [(f.address, f.action, f.status, f.hard) for f in verdict.failed] == [
        ("gone@customer.example", "failed", "5.1.1", True)
    ]
    assert verdict.original_message_id == "<abc@shop.example>"


def test_mailer_daemon_without_report_is_a_bounce() -> None:
    assert classified(mail(sender="MAILER-DAEMON@mx.example", subject="failure notice"))[0] == "bounce"


def test_loops() -> None:
    assert classified(mail(message_id="<x1@shop.example>"))[0] == "loop"
    assert classified(mail(headers={"X-Loop": "care@shop.example"}))[0] == "loop"
    hops = mail()
    hops = (
        b"".join(
            b"Received: from relay%d.example by relay.example; Mon, 1 Jan 2026 00:00:00 +0000\r\n" % i
            for i in range(5)
        )
        + hops
    )
    assert classified(hops, max_received=4)[0] == "loop"
    assert classified(hops, max_received=30)[0] == ""
