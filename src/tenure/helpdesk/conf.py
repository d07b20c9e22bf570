"""Help desk settings: a Django setting when set (tests override them), else the environment, else a default."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings as django_settings


def _get(name: str, default: str) -> str:
    value = getattr(django_settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value)


@dataclass(frozen=True)
class HelpdeskSettings:
    # A customer reply within this many days of resolution reopens; later it starts a linked request.
    reopen_window_days: float
    # A new contact within this many days of an open request's last message, about the same matter
    # (cosine similarity of sentence embeddings at least `repeat_similarity`), is a repeat contact.
    repeat_window_days: float
    repeat_similarity: float
    # Seconds after a new request before its written acknowledgement is queued.
    ack_delay_seconds: float
    # "least_loaded" or "round_robin".
    assignment_strategy: str
    # Unassigned open requests are tried again this often.
    assignment_retry_seconds: float
    max_attachment_bytes: int
    max_attachments_per_message: int
    # Below this classifier confidence a request goes to the triage queue.
    triage_threshold: float
    callback_reminder_minutes: float


def current() -> HelpdeskSettings:
    return HelpdeskSettings(
        reopen_window_days=float(_get("TENURE_HELPDESK_REOPEN_WINDOW_DAYS", "7")),
        repeat_window_days=float(_get("TENURE_HELPDESK_REPEAT_WINDOW_DAYS", "14")),
        repeat_similarity=float(_get("TENURE_HELPDESK_REPEAT_SIMILARITY", "0.6")),
        ack_delay_seconds=float(_get("TENURE_HELPDESK_ACK_DELAY_SECONDS", "0")),
        assignment_strategy=_get("TENURE_HELPDESK_ASSIGNMENT", "least_loaded"),
        assignment_retry_seconds=float(_get("TENURE_HELPDESK_ASSIGNMENT_RETRY_SECONDS", "60")),
        max_attachment_bytes=int(_get("TENURE_HELPDESK_MAX_ATTACHMENT_BYTES", str(25 * 1024 * 1024))),
        max_attachments_per_message=int(_get("TENURE_HELPDESK_MAX_ATTACHMENTS", "20")),
        triage_threshold=float(_get("TENURE_HELPDESK_TRIAGE_THRESHOLD", "0.5")),
        callback_reminder_minutes=float(_get("TENURE_HELPDESK_CALLBACK_REMINDER_MINUTES", "15")),
    )
