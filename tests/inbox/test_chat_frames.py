"""The chat wire format and the per-connection rate limit, on their own."""

from __future__ import annotations

import json

import pytest

from tenure.inbox.chat.frames import MAX_BODY_CHARS, FrameError, Identify, Say, Typing, parse
from tenure.inbox.chat.ratelimit import TokenBucket
from tenure.inbox.chat.tokens import new_visitor, visitor_from_token


def test_frames_parse_into_their_kinds() -> None:
    assert parse(json.dumps({"type": "message", "id": "m1", "body": "  hi  "})) == Say("m1", "hi")
    assert parse(json.dumps({"type": "identify", "email": "a@b.co", "name": "Al"})) == Identify(
        "a@b.co", "Al"
    )
    assert parse(json.dumps({"type": "typing"})) == Typing()
    assert parse(json.dumps({"type": "message", "id": "m2", "body": "a\u0000b"})) == Say("m2", "a\ufffdb")


@pytest.mark.parametrize(
    ("raw", "code", "field", "client_id"),
    [
        ("not json", "invalid", "", ""),
        ("[1, 2]", "invalid", "", ""),
        (None, "invalid", "", ""),
        (json.dumps({"type": "shout"}), "invalid", "type", ""),
        (json.dumps({"type": "message", "id": "bad id!", "body": "x"}), "invalid", "id", ""),
        (json.dumps({"type": "message", "id": "m2", "body": "   "}), "invalid", "body", "m2"),
        (json.dumps({"type": "message", "id": "m3", "body": 7}), "invalid", "body", "m3"),
        (
            json.dumps({"type": "message", "id": "m4", "body": "x" * (MAX_BODY_CHARS + 1)}),
            "too_long",
            "body",
            "m4",
        ),
        ("{" + " " * 20_000 + "}", "too_long", "", ""),
    ],
)
def test_bad_frames_say_what_is_wrong(raw: str | None, code: str, field: str, client_id: str) -> None:
    with pytest.raises(FrameError) as caught:
        parse(raw)
    frame = caught.value.frame()
    assert frame["type"] == "error" and frame["code"] == code and frame["message"]
    assert frame.get("field", "") == field
    assert frame.get("id", "") == client_id


def test_bucket_allows_a_burst_then_says_how_long_to_wait() -> None:
    now = [100.0]
    bucket = TokenBucket(3, 0.5, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take() == pytest.approx(2.0)
    now[0] += 2.0
    assert bucket.take() == 0.0
    assert bucket.take() > 0


def test_visitor_tokens_cannot_be_forged() -> None:
    visitor, token = new_visitor()
    assert visitor_from_token(token) == visitor
    assert visitor_from_token(token[:-2] + "xx") is None
    assert visitor_from_token(visitor) is None
    assert visitor_from_token("") is None
    other, _ = new_visitor()
    assert other != visitor
