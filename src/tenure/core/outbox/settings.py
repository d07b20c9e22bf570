"""Outbox settings: Django settings when set (tests override them), else the environment, else a default."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings as django_settings


def _get(name: str, default: str) -> str:
    value = getattr(django_settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value)


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class OutboxSettings:
    email_host: str
    email_port: int
    email_user: str
    email_password: str
    email_use_tls: bool
    email_timeout: float
    email_from: str
    # Right-hand side of the Message-IDs we make; stable across hosts so a re-send keeps its id.
    message_id_domain: str
    unsubscribe_url: str
    sms_base_url: str
    sms_account_sid: str
    sms_auth_token: str
    sms_from: str
    sms_timeout: float
    cap_per_week: int
    max_attempts: int
    retry_base_seconds: float
    sending_timeout_seconds: float
    batch_size: int
    # Messages of a batch in flight at once, each over its own connection (see `delivery.send_claimed`).
    connections: int
    public_url: str
    unsubscribe_max_age_days: int

    def unsubscribe_url_for(self, token: str) -> str:
        """The one-click URL for `token`: TENURE_UNSUBSCRIBE_URL, else one under TENURE_PUBLIC_URL, else blank."""
        if self.unsubscribe_url:
            return self.unsubscribe_url.replace("{token}", token)
        if self.public_url:
            return f"{self.public_url}/outbox/unsubscribe/{token}/"
        return ""

    @property
    def sms_status_callback_url(self) -> str:
        return f"{self.public_url}/outbox/twilio/status/" if self.public_url else ""


def current() -> OutboxSettings:
    email_from = _get(
        "TENURE_EMAIL_FROM", getattr(django_settings, "DEFAULT_FROM_EMAIL", "webmaster@localhost")
    )
    return OutboxSettings(
        email_host=_get("TENURE_EMAIL_HOST", "localhost"),
        email_port=int(_get("TENURE_EMAIL_PORT", "25")),
        email_user=_get("TENURE_EMAIL_USER", ""),
        email_password=_get("TENURE_EMAIL_PASSWORD", ""),
        email_use_tls=_bool(_get("TENURE_EMAIL_USE_TLS", "false")),
        email_timeout=float(_get("TENURE_EMAIL_TIMEOUT_SECONDS", "30")),
        email_from=email_from,
        message_id_domain=_get("TENURE_EMAIL_MESSAGE_ID_DOMAIN", email_from.rpartition("@")[2] or "tenure"),
        # A URL with "{token}" in it, e.g. https://example.org/unsubscribe/{token}; blank for mailto only.
        unsubscribe_url=_get("TENURE_UNSUBSCRIBE_URL", ""),
        sms_base_url=_get("TENURE_SMS_BASE_URL", "https://api.twilio.com").rstrip("/"),
        sms_account_sid=_get("TENURE_SMS_ACCOUNT_SID", ""),
        sms_auth_token=_get("TENURE_SMS_AUTH_TOKEN", ""),
        sms_from=_get("TENURE_SMS_FROM", ""),
        sms_timeout=float(_get("TENURE_SMS_TIMEOUT_SECONDS", "30")),
        cap_per_week=int(_get("TENURE_PROACTIVE_CAP_PER_WEEK", "3")),
        max_attempts=int(_get("TENURE_OUTBOX_MAX_ATTEMPTS", "5")),
        retry_base_seconds=float(_get("TENURE_OUTBOX_RETRY_BASE_SECONDS", "60")),
        # Longer than any adapter timeout: a row still `sending` after this is taken to be orphaned.
        sending_timeout_seconds=float(_get("TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS", "300")),
        batch_size=int(_get("TENURE_OUTBOX_BATCH_SIZE", "500")),
        connections=int(_get("TENURE_OUTBOX_CONNECTIONS", "1")),
        public_url=_get("TENURE_PUBLIC_URL", "").rstrip("/"),
        unsubscribe_max_age_days=int(_get("TENURE_UNSUBSCRIBE_MAX_AGE_DAYS", "400")),
    )
