"""The chat wire format: what a visitor's widget may send, checked before anything touches the database.

The socket is `/ws/chat/?token=<token>` (no token: a new visitor). JSON text frames only.
Visitor → server:
  `{"type": "message", "id": "<client id>", "body": "..."}` (the id makes a re-send harmless),
  `{"type": "identify", "email": "...", "name": "..."}`, `{"type": "typing"}`.
Server → visitor:
  `welcome` {token, renewed, identified, messages}, `ack` {id, message}, `message` {message} (an agent's
  reply), `identified` {email}, `typing` {name}, `error` {code, message, field?, id?, retry_after?}.
  A message is `{"id", "from": "visitor"|"agent", "author", "body", "at"}`. Error codes: `invalid`,
  `too_long`, `rate_limited` and `unavailable` (send the same frame again after `retry_after` seconds).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

MAX_BODY_CHARS = 4000
MAX_FRAME_CHARS = 16_384
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class FrameError(Exception):
    def __init__(
        self, code: str, message: str, *, field: str = "", client_id: str = "", retry_after: float = 0.0
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.client_id = client_id
        self.retry_after = retry_after

    def frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "error", "code": self.code, "message": self.message}
        if self.field:
            frame["field"] = self.field
        if self.client_id:
            frame["id"] = self.client_id
        if self.retry_after:
            frame["retry_after"] = self.retry_after
        return frame


@dataclass(frozen=True)
class Say:
    client_id: str
    body: str


@dataclass(frozen=True)
class Identify:
    email: str
    name: str


@dataclass(frozen=True)
class Typing:
    pass


Frame = Say | Identify | Typing


def _text(data: dict[str, Any], field: str, limit: int, client_id: str = "") -> str:
    value = data.get(field, "")
    if not isinstance(value, str):
        raise FrameError("invalid", f"{field} must be text", field=field, client_id=client_id)
    if len(value) > limit:
        raise FrameError(
            "too_long", f"{field} has at most {limit} characters", field=field, client_id=client_id
        )
    # PostgreSQL text cannot hold NUL; a line with one is kept with a visible replacement instead.
    return value.replace("\x00", "\ufffd").strip()


def parse(raw: str | None) -> Frame:
    if raw is None:
        raise FrameError("invalid", "send JSON text frames")
    if len(raw) > MAX_FRAME_CHARS:
        raise FrameError("too_long", f"a frame has at most {MAX_FRAME_CHARS} characters")
    try:
        data = json.loads(raw)
    except ValueError:
        raise FrameError("invalid", "a frame must be a JSON object") from None
    if not isinstance(data, dict):
        raise FrameError("invalid", "a frame must be a JSON object")
    kind = data.get("type")
    if kind == "message":
        client_id = data.get("id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise FrameError("invalid", "id must be 1-64 letters, digits, '-' or '_'", field="id")
        body = _text(data, "body", MAX_BODY_CHARS, client_id)
        if not body:
            raise FrameError("invalid", "a message needs a body", field="body", client_id=client_id)
        return Say(client_id=client_id, body=body)
    if kind == "identify":
        return Identify(email=_text(data, "email", 254), name=_text(data, "name", 200))
    if kind == "typing":
        return Typing()
    raise FrameError("invalid", "type must be one of message, identify, typing", field="type")
