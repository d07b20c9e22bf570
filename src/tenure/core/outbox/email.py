"""E-mail over SMTP: one connection per batch, messages written as RFC 5322 bytes without the MIME machinery.

Django's `EmailMessage` spends about half a millisecond building each message, which is most of the
time a batch of a few hundred short texts takes; a plain-text message needs only a few headers and a body.
Where the server offers PIPELINING (RFC 2920; most do), MAIL, RCPT and DATA go out in one write, behind
the end of the message before when the lane says which message comes next, so a message costs one round
trip instead of four: to a relay across the internet that is most of the time a message takes.
"""

from __future__ import annotations

import contextlib
import email.utils
import hashlib
import quopri
import re
import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email.header import Header
from typing import Protocol
from urllib.parse import quote

from tenure.core.outbox.base import PermanentSendError, SendError
from tenure.core.outbox.settings import OutboxSettings
from tenure.core.outbox.unsubscribe import unsubscribe_token
from tenure.core.outbox_models import MessageChannel, OutboundMessage

MAX_LINE = 998  # RFC 5322 line limit, without CRLF
ADDRESS = re.compile(r"[^@\s<>]+@[^@\s<>]+")
LEADING_DOT = re.compile(rb"(?m)^\.")


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The same key always gives the same Message-ID, so a re-send after a crash is the same message."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def unsubscribe_headers(message: OutboundMessage, config: OutboxSettings) -> dict[str, str]:
    """RFC 2369 `List-Unsubscribe` and RFC 8058 one-click for proactive messages; none for transactional."""
    if message.is_transactional:
        return {}
    token = unsubscribe_token(message.customer_id, message.purpose)
    subject = quote(f"unsubscribe {message.purpose} {token}")
    targets = [f"<mailto:{config.email_from}?subject={subject}>"]
    url = config.unsubscribe_url_for(token)
    if not url:
        return {"List-Unsubscribe": ", ".join(targets)}
    return {
        "List-Unsubscribe": ", ".join([f"<{url}>", *targets]),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _header(value: str) -> str:
    if value.isascii() and "\n" not in value and "\r" not in value:
        return value
    # Header folds and RFC 2047-encodes; newlines in a value would otherwise start a new header.
    return Header(" ".join(value.splitlines()), "utf-8").encode()


def _body(text: str) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, CRLF body): 7bit when it fits, else quoted-printable UTF-8."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if text.isascii() and all(len(line) <= MAX_LINE for line in lines):
        # A line of only "." would end DATA early; smtplib dot-stuffs it, so nothing to do here.
        return "7bit", "\r\n".join(lines).encode() + b"\r\n"
    encoded = quopri.encodestring("\n".join(lines).encode())
    return "quoted-printable", encoded.replace(b"\n", b"\r\n").rstrip(b"\r\n") + b"\r\n"


def build_email(message: OutboundMessage, config: OutboxSettings, message_id: str = "") -> bytes:
    """`message_id`: the message's Message-ID if the caller has it already (`message_id_for`)."""
    encoding, body = _body(message.body)
    headers: dict[str, str] = {
        "From": config.email_from,
        "To": message.recipient,
        "Subject": _header(message.subject),
        "Date": email.utils.formatdate(usegmt=True),
        "Message-ID": message_id or message_id_for(message.idempotency_key, config.message_id_domain),
    }
    if message.in_reply_to:
        headers["In-Reply-To"] = _header(message.in_reply_to)
        headers["References"] = headers["In-Reply-To"]
    headers.update(unsubscribe_headers(message, config))
    headers.update(
        {
            "MIME-Version": "1.0",
            "Content-Type": 'text/plain; charset="utf-8"',
            "Content-Transfer-Encoding": encoding,
        }
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return head.encode() + b"\r\n" + body


@dataclass(frozen=True)
class Prepared:
    """An e-mail ready for the wire."""

    recipient: str
    data: bytes
    message_id: str


class EndNotes(Protocol):
    """Where a lane notes each message whose end went out whole, before the server's reply is read
    (`journal.LaneNotes`). The line is made before the write of the end, so that only the note's own
    write comes between the two."""

    def line_for(self, message: OutboundMessage, provider_id: str) -> bytes: ...

    def write(self, line: bytes) -> None: ...


@contextlib.contextmanager
def held_back(smtp: smtplib.SMTP) -> Iterator[None]:
    """Inside the block the kernel holds back what is written (TCP_CORK, where the platform has it), so
    writing a message's end wakes no server process: on the same machine, a wakeup can suspend the worker
    right after that write, before its note. A kill inside the block still delivers the data: the kernel
    sends a closed socket's pending data before its FIN."""
    sock = smtp.sock
    cork = getattr(socket, "TCP_CORK", None)
    if sock is None or cork is None:
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # the connection may be gone; the send has said so already
            sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


class EmailAdapter:
    def __init__(self, config: OutboxSettings, notes: EndNotes | None = None) -> None:
        self.config = config
        self.notes = notes
        self._smtp: smtplib.SMTP | None = None
        # A transaction whose MAIL, RCPT and DATA went out behind the previous message's end: its replies
        # are the next ones on the connection.
        self._opened: Prepared | None = None

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            config = self.config
            smtp = smtplib.SMTP(config.email_host, config.email_port, timeout=config.email_timeout)
            try:
                if config.email_use_tls:
                    smtp.starttls()
                if config.email_user:
                    smtp.login(config.email_user, config.email_password)
                smtp.ehlo_or_helo_if_needed()  # the server's extensions, PIPELINING among them
            except BaseException:
                smtp.close()
                raise
            self._smtp = smtp
        return self._smtp

    def _prepare(self, message: OutboundMessage) -> Prepared:
        if not ADDRESS.fullmatch(message.recipient):
            # Also keeps a stray CR/LF in a hand-typed recipient from becoming a header of its own.
            raise PermanentSendError(f"not an e-mail address: {message.recipient!r}", bad_address=True)
        message_id = message_id_for(message.idempotency_key, self.config.message_id_domain)
        return Prepared(message.recipient, build_email(message, self.config, message_id), message_id)

    def _commands(self, smtp: smtplib.SMTP, mail: Prepared) -> list[str]:
        size = f" SIZE={len(mail.data)}" if smtp.has_extn("size") else ""
        return [f"MAIL FROM:<{self.config.email_from}>{size}", f"RCPT TO:<{mail.recipient}>", "DATA"]

    def _envelope(self, smtp: smtplib.SMTP, mail: Prepared) -> bytes:
        return "".join(f"{command}\r\n" for command in self._commands(smtp, mail)).encode()

    def _opened_for(self, message: OutboundMessage) -> Prepared | None:
        """The transaction opened early for `message`, if any; one opened for another message is dropped."""
        if self._opened is None:
            return None
        if self._opened.message_id == message_id_for(message.idempotency_key, self.config.message_id_domain):
            return self._opened
        self.close()  # opened for a message that is not coming after all
        return None

    def _ahead(self, smtp: smtplib.SMTP, following: OutboundMessage | None) -> Prepared | None:
        if following is None or following.channel != MessageChannel.EMAIL or not smtp.has_extn("pipelining"):
            return None
        try:
            return self._prepare(following)
        except PermanentSendError:
            return None  # it fails on its own turn

    def _open(self, smtp: smtplib.SMTP, mail: Prepared) -> None:
        """MAIL, RCPT and DATA, up to the server's 354; raises smtplib's own errors, as `sendmail` would.
        Where the server offers PIPELINING the three go out in one write (unless they went out behind the
        message before) and their replies are read together; else one at a time, stopping at a refusal."""
        if smtp.has_extn("pipelining"):
            if self._opened is not mail:
                smtp.send(self._envelope(smtp, mail))
            self._opened = None
            # Every reply of the group is read, failed or not, so the next transaction starts in step.
            replies = [smtp.getreply() for _ in range(3)]
        else:
            replies = []
            for command in self._commands(smtp, mail):
                replies.append(smtp.docmd(command))
                if replies[-1][0] not in (250, 251, 354):
                    break
        (mail_code, mail_reply), *rest = replies
        rcpt_code, rcpt_reply = rest[0] if rest else (0, b"")
        data_code, data_reply = rest[1] if len(rest) > 1 else (0, b"")
        if data_code == 354 and (mail_code != 250 or rcpt_code not in (250, 251)):
            # RFC 2920 forbids a 354 here, but should a server give one, end the empty message it opened.
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail_code != 250:
            smtp.rset()
            raise smtplib.SMTPSenderRefused(mail_code, mail_reply, self.config.email_from)
        if rcpt_code not in (250, 251):
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused({mail.recipient: (rcpt_code, rcpt_reply)})
        if data_code != 354:
            smtp.rset()
            raise smtplib.SMTPDataError(data_code, data_reply)

    def _transaction(
        self, smtp: smtplib.SMTP, message: OutboundMessage, mail: Prepared, following: OutboundMessage | None
    ) -> None:
        """One mail transaction; raises smtplib's own errors. With `following`, the next message's MAIL, RCPT
        and DATA follow this one's end in the same write (RFC 2920 allows commands after the message
        content in one group), so each message after the first costs one round trip."""
        self._open(smtp, mail)
        # `data` ends with CRLF (build_email); a line starting with "." gets a second one (RFC 5321 4.5.2).
        content = LEADING_DOT.sub(b"..", mail.data) + b".\r\n"
        ahead = self._ahead(smtp, following)
        notes = self.notes
        note = notes.line_for(message, mail.message_id) if notes is not None else b""
        with held_back(smtp):
            smtp.send(content + self._envelope(smtp, ahead) if ahead else content)
            if notes is not None:
                notes.write(note)
        self._opened = ahead
        code, reply = smtp.getreply()
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)

    def send(self, message: OutboundMessage, following: OutboundMessage | None = None) -> str:
        # Opened early: built already, and its MAIL (SIZE included), RCPT and DATA are out.
        mail = self._opened_for(message) or self._prepare(message)
        try:
            self._transaction(self._connection(), message, mail, following)
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            code, reply = next(iter(error.recipients.values()), (0, b""))
            text = f"SMTP {code} for {mail.recipient}: {reply.decode(errors='replace')}"
            if code >= 500:
                raise PermanentSendError(text, bad_address=True) from error
            raise SendError(text) from error
        except smtplib.SMTPResponseException as error:
            self.close()
            detail = error.smtp_error
            text = f"SMTP {error.smtp_code}: {detail.decode(errors='replace') if isinstance(detail, bytes) else detail}"
            if error.smtp_code >= 500:
                raise PermanentSendError(text) from error
            raise SendError(text) from error
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            raise SendError(f"SMTP {self.config.email_host}:{self.config.email_port}: {error}") from error
        return mail.message_id

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            if self._opened is not None:
                # The server is waiting for a message that will not come: a QUIT now would be read as its
                # content. Without its final "." the server drops it when the connection closes.
                self._opened = None
                smtp.close()
                return
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
