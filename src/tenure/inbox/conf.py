"""Inbox settings: Django settings when set (tests override them), else the environment, else a default."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings as django_settings


def _get(name: str, default: str) -> str:
    value = getattr(django_settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value)


def _rate(value: str, name: str) -> tuple[int, int]:
    count, _, seconds = value.partition("/")
    try:
        return int(count), int(seconds)
    except ValueError:
        raise ValueError(f"{name} must look like COUNT/SECONDS, e.g. 5/600, not {value!r}") from None


@dataclass(frozen=True)
class InboxSettings:
    max_received_headers: int
    imap_batch: int
    imap_timeout: float
    imap_ca_file: str
    form_rate: tuple[int, int]
    sms_auth_token: str
    public_url: str


def current() -> InboxSettings:
    return InboxSettings(
        # More hops than this and the message has most likely been bouncing between two auto-responders.
        max_received_headers=int(_get("TENURE_INBOX_MAX_RECEIVED_HEADERS", "30")),
        imap_batch=int(_get("TENURE_INBOX_IMAP_BATCH", "100")),
        imap_timeout=float(_get("TENURE_INBOX_IMAP_TIMEOUT_SECONDS", "60")),
        # A mail server whose certificate comes from a private CA: trust that CA's PEM file (only it).
        imap_ca_file=_get("TENURE_INBOX_IMAP_CA_FILE", ""),
        form_rate=_rate(_get("TENURE_INBOX_FORM_RATE", "5/600"), "TENURE_INBOX_FORM_RATE"),
        # Twilio signs webhooks with the account's auth token, the same one outbound SMS uses.
        sms_auth_token=_get("TENURE_SMS_AUTH_TOKEN", ""),
        # The public base URL (https://support.example.com) when a proxy hides it from Django; used to
        # rebuild the exact URL a provider signed.
        public_url=_get("TENURE_PUBLIC_URL", "").rstrip("/"),
    )
