"""Raw RFC 5322 bytes → the parts a request needs. Never raises: broken mail still yields a readable message."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message

from tenure.inbox.html import html_to_text, sanitize_html
from tenure.inbox.mail.quotes import strip_quoted

_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")
_MAX_TEXT = 200_000


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class ParsedEmail:
    message: EmailMessage
    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    subject: str = ""
    from_address: str = ""
    from_name: str = ""
    date: dt.datetime | None = None
    text: str = ""  # the new part, quoted history stripped
    full_text: str = ""
    html: str = ""  # sanitised
    attachments: list[Attachment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was dropped or repaired, for the agent to see


def _safe_header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a header the parser chokes on is as good as missing
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _decode(part: Message) -> str:
    """Text of a part; unknown or lying charsets fall back to UTF-8 with replacement, then Latin-1."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError, KeyError):
        pass
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _ids(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_MESSAGE_ID.findall(value)))


def _date(message: Message) -> dt.datetime | None:
    raw = _safe_header(message, "Date")
    if not raw:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _filename(part: Message, index: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    cleaned = re.sub(r"[\x00-\x1f/\\]", "_", str(name or "")).strip()[:200]
    return cleaned or f"attachment-{index}"


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment":
        return True
    return part.get_content_maintype() not in ("text", "multipart") and not part.is_multipart()


def _walk(parsed: ParsedEmail, max_attachment_bytes: int) -> tuple[list[str], list[str]]:
    plain: list[str] = []
    html: list[str] = []
    index = 0
    for part in parsed.message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        if _is_attachment(part) or content_type.startswith("message/"):
            index += 1
            data = part.get_payload(decode=True)
            if not isinstance(data, bytes):
                data = str(part.get_payload() or "").encode()
            name = _filename(part, index)
            if len(data) > max_attachment_bytes:
                parsed.notes.append(
                    f"Attachment {name!r} ({len(data) / 1_048_576:.1f} MB) was not kept: the limit is "
                    f"{max_attachment_bytes / 1_048_576:.1f} MB. Ask the customer for another way to send it."
                )
                continue
            parsed.attachments.append(Attachment(name, content_type, data))
        elif content_type == "text/html":
            html.append(_decode(part))
        elif content_type.startswith("text/"):
            plain.append(_decode(part))
    return plain, html


def parse_email(raw: bytes, *, max_attachment_bytes: int) -> ParsedEmail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parsed = ParsedEmail(message=message)
    parsed.message_id = next(iter(_ids(_safe_header(message, "Message-ID"))), "")
    parsed.in_reply_to = next(iter(_ids(_safe_header(message, "In-Reply-To"))), "")
    parsed.references = tuple(
        dict.fromkeys((*_ids(_safe_header(message, "References")), *_ids(parsed.in_reply_to)))
    )
    parsed.subject = _safe_header(message, "Subject")[:300]
    name, address = email.utils.parseaddr(_safe_header(message, "Reply-To") or _safe_header(message, "From"))
    parsed.from_name, parsed.from_address = name, address
    parsed.date = _date(message)
    try:
        plain, html = _walk(parsed, max_attachment_bytes)
    except Exception as error:  # a structure too broken to walk: keep the raw text rather than nothing
        parsed.notes.append(
            f"The message structure could not be read ({type(error).__name__}); shown as raw text."
        )
        plain, html = [raw.decode("utf-8", errors="replace")], []
    if message.defects:
        parsed.notes.append(
            "The message was malformed: " + "; ".join(type(d).__name__ for d in message.defects[:5])
        )
    parsed.html = sanitize_html("\n".join(html))[:_MAX_TEXT] if html else ""
    full = "\n\n".join(text.strip() for text in plain if text.strip())
    if not full and html:
        full = html_to_text("\n".join(html))
    parsed.full_text = full[:_MAX_TEXT]
    parsed.text = strip_quoted(parsed.full_text) if parsed.full_text else ""
    if not parsed.text:
        parsed.text = "(no text)" if not parsed.attachments else "(attachments only)"
    return parsed
