"""Twilio request signatures (X-Twilio-Signature), per Twilio's documented algorithm.

Base64 of HMAC-SHA1, keyed with the account's auth token, over the full URL Twilio requested followed by
every POST parameter's name and value, sorted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def signature(url: str, params: Iterable[tuple[str, str]], auth_token: str) -> str:
    payload = url + "".join(f"{name}{value}" for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid(url: str, params: Iterable[tuple[str, str]], auth_token: str, given: str) -> bool:
    if not auth_token or not given:
        return False
    return hmac.compare_digest(signature(url, params, auth_token), given)
