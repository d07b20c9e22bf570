"""The generic inbound webhook's HMAC-SHA256 signature (Twilio's lives in `core.outbox.twilio`)."""

from __future__ import annotations

import hashlib
import hmac


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over `<timestamp>.<raw body>`; the timestamp is signed so it cannot be
    moved to replay an old body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_valid(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature.strip())
