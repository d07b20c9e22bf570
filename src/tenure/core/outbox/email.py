"""E-mail over SMTP with Django's SMTP backend, one connection per batch."""

from __future__ import annotations

import hashlib
import smtplib
from urllib.parse import quote

from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

from tenure.core.outbox.base import PermanentSendError, SendError
from tenure.core.outbox.settings import OutboxSettings
from tenure.core.outbox_models import OutboundMessage


def message_id_for(idempotency_key: str, domain: str) -> str:
    """The same key always gives the same Message-ID, so a re-send after a crash is the same message."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def unsubscribe_token(message: OutboundMessage) -> str:
    return hashlib.sha256(
        f"{message.customer_id}:{message.purpose}:{message.idempotency_key}".encode()
    ).hexdigest()[:32]


def build_email(message: OutboundMessage, config: OutboxSettings) -> EmailMessage:
    message_id = message_id_for(message.idempotency_key, config.message_id_domain)
    headers = {"Message-ID": message_id}
    if message.in_reply_to:
        headers["In-Reply-To"] = message.in_reply_to
        headers["References"] = message.in_reply_to
    if not message.is_transactional:
        token = unsubscribe_token(message)
        subject = quote(f"unsubscribe {message.purpose} {token}")
        targets = [f"<mailto:{config.email_from}?subject={subject}>"]
        if config.unsubscribe_url:
            targets.insert(0, f"<{config.unsubscribe_url.replace('{token}', token)}>")
        headers["List-Unsubscribe"] = ", ".join(targets)
    return EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=config.email_from,
        to=[message.recipient],
        headers=headers,
    )


class EmailAdapter:
    def __init__(self, config: OutboxSettings) -> None:
        self.config = config
        self._backend: EmailBackend | None = None

    def _connection(self) -> EmailBackend:
        if self._backend is None:
            self._backend = EmailBackend(
                host=self.config.email_host,
                port=self.config.email_port,
                username=self.config.email_user or None,
                password=self.config.email_password or None,
                use_tls=self.config.email_use_tls,
                timeout=self.config.email_timeout,
                fail_silently=False,
            )
            # Opened here, the connection stays up for the whole batch instead of one per message.
            self._backend.open()
        return self._backend

    def send(self, message: OutboundMessage) -> str:
        email = build_email(message, self.config)
        try:
            self._connection().send_messages([email])
        except smtplib.SMTPRecipientsRefused as error:
            self.close()
            code, reply = next(iter(error.recipients.values()), (0, b""))
            text = f"SMTP {code} for {message.recipient}: {reply.decode(errors='replace')}"
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
        return email.extra_headers["Message-ID"]

    def close(self) -> None:
        if self._backend is not None:
            try:
                self._backend.close()
            finally:
                self._backend = None
