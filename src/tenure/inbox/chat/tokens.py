"""Visitor tokens: the server picks a visitor id and signs it, so no one can speak as another visitor."""

from __future__ import annotations

import secrets

from django.core import signing

SALT = "tenure.inbox.chat.visitor"
# A visitor who comes back within a year keeps their conversation.
MAX_AGE_SECONDS = 365 * 24 * 3600


def new_visitor() -> tuple[str, str]:
    """A fresh visitor id and the token the widget keeps for it."""
    visitor_id = f"v{secrets.token_urlsafe(18)}"
    return visitor_id, signing.dumps(visitor_id, salt=SALT, compress=False)


def visitor_from_token(token: str) -> str | None:
    """The visitor id a token was issued for, or None if it is forged, mangled or too old."""
    if not token or len(token) > 300:
        return None
    try:
        value = signing.loads(token, salt=SALT, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return value if isinstance(value, str) else None
