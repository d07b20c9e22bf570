"""System checks for outbox settings that would otherwise fail quietly at send time."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from tenure.core.outbox.settings import current


def check_sending_timeout(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A send may only start if it can end before its claim expires; with a claim shorter than an adapter's
    timeout no message could ever start, and every claim would be released unsent."""
    try:
        config = current()
    except ValueError as error:
        return [Error(f"An outbox setting is not a number: {error}", id="tenure.outbox.E002")]
    longest = max(config.email_timeout, config.sms_timeout)
    if config.sending_timeout_seconds > longest:
        return []
    return [
        Error(
            f"TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS ({config.sending_timeout_seconds:g} s) must be longer than "
            f"the longest adapter timeout ({longest:g} s: TENURE_EMAIL_TIMEOUT_SECONDS / "
            "TENURE_SMS_TIMEOUT_SECONDS); otherwise no message can start sending.",
            hint="Raise the sending timeout (default 300 s) or lower the adapter timeouts.",
            id="tenure.outbox.E001",
        )
    ]


def check_connections(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """At least one lane, or no message would ever be sent."""
    try:
        config = current()
    except ValueError:
        return []  # reported by `check_sending_timeout`
    if config.connections >= 1:
        return []
    return [
        Error(
            f"TENURE_OUTBOX_CONNECTIONS ({config.connections}) must be at least 1: it is how many messages "
            "each worker sends at once, each over its own connection.",
            hint="Leave it at 1 for a provider close by; raise it for one across a network.",
            id="tenure.outbox.E003",
        )
    ]
