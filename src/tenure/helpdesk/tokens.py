"""The request number customers see, and finding it again in a reply's subject."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\[#R-(\d{1,12})\]")


def reference(request_id: int) -> str:
    return f"R-{request_id:06d}"


def token_for(request_id: int) -> str:
    """What goes in an e-mail subject, e.g. "[#R-000123]"."""
    return f"[#{reference(request_id)}]"


def find_token(text: str) -> int | None:
    """The request id in the first token found in `text`, or None."""
    match = _TOKEN.search(text or "")
    return int(match[1]) if match else None
