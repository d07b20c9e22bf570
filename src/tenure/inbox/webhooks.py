"""The generic signed webhook: any other system posts contacts as JSON (shape in docs/inbox.md)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.customers.models import IdentityChannel
from tenure.inbox import services
from tenure.inbox.html import sanitize_html
from tenure.inbox.mail.parse import Attachment
from tenure.inbox.models import InboundLog, WebhookSource
from tenure.inbox.senders import match_sender
from tenure.inbox.signatures import webhook_valid

TIMESTAMP_HEADER = "X-Tenure-Timestamp"
SIGNATURE_HEADER = "X-Tenure-Signature"
CHANNEL = "webhook"
MAX_ATTACHMENTS = 10
MAX_BODY_CHARS = 100_000


class SignatureError(Exception):
    """Missing (401) or wrong/expired (403) signature."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def source_key(source: WebhookSource) -> str:
    return f"webhook:{source.slug}"


def verify(
    source: WebhookSource, *, timestamp: str, signature: str, body: bytes, now: float | None = None
) -> None:
    if not timestamp or not signature:
        raise SignatureError(f"send the {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers", 401)
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be Unix seconds", 401) from None
    if not webhook_valid(source.secret, timestamp, body, signature):
        raise SignatureError("signature does not match", 403)
    if abs((now if now is not None else time.time()) - sent_at) > source.replay_window_seconds:
        raise SignatureError(f"timestamp outside the {source.replay_window_seconds} s replay window", 403)


def _str(data: dict[str, Any], name: str, *, required: bool = False, limit: int = 300) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({name: "must be a string"})
    if required and not value.strip():
        raise ValidationError({name: "required"})
    if len(value) > limit:
        raise ValidationError({name: f"at most {limit} characters"})
    return value


def _attachments(data: dict[str, Any]) -> list[Attachment]:
    items = data.get("attachments", []) or []
    if not isinstance(items, list) or len(items) > MAX_ATTACHMENTS:
        raise ValidationError({"attachments": f"a list of at most {MAX_ATTACHMENTS} objects"})
    found = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValidationError({f"attachments.{index}": "must be an object"})
        try:
            content = base64.b64decode(
                _str(item, "data_base64", required=True, limit=20_000_000), validate=True
            )
        except (binascii.Error, ValueError):
            raise ValidationError({f"attachments.{index}.data_base64": "not valid base64"}) from None
        except ValidationError as error:
            raise ValidationError(
                {f"attachments.{index}.{k}": v for k, v in error.message_dict.items()}
            ) from None
        found.append(
            Attachment(
                _str(item, "filename", limit=200) or f"attachment-{index + 1}",
                _str(item, "content_type", limit=100) or "application/octet-stream",
                content,
            )
        )
    return found


def _occurred_at(data: dict[str, Any]) -> dt.datetime | None:
    raw = _str(data, "occurred_at", limit=40)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError({"occurred_at": "an ISO 8601 date-time, e.g. 2026-03-01T09:30:00Z"}) from None
    if value.tzinfo is None:
        raise ValidationError({"occurred_at": "give a time zone (Z or +hh:mm)"})
    return value


def parse_event(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ValidationError({"body": f"not valid JSON: {error}"}) from None
    if not isinstance(data, dict):
        raise ValidationError({"body": "must be a JSON object"})
    return data


@transaction.atomic  # a customer made for the sender goes away again when the event is refused
def receive_event(source: WebhookSource, data: dict[str, Any]) -> tuple[InboundLog, bool]:
    """One verified event → a contact; `(log, created)`, once per event id. Raises ValidationError."""
    event_id = _str(data, "id", required=True, limit=200)
    if (found := services.existing_log(source_key(source), event_id)) is not None:
        return found, False
    sender = data.get("sender")
    if not isinstance(sender, dict):
        raise ValidationError({"sender": "an object with channel, address and optional name"})
    channel = _str(sender, "channel", required=True, limit=20)
    if channel not in IdentityChannel.values:
        raise ValidationError({"sender.channel": f"one of {', '.join(IdentityChannel.values)}"})
    try:
        matched = match_sender(
            channel=channel,
            address=_str(sender, "address", required=True, limit=254),
            name=_str(sender, "name", limit=200),
        )
    except ValidationError as error:
        raise ValidationError({"sender.address": error.messages}) from None
    text = _str(data, "body", limit=MAX_BODY_CHARS)
    html = _str(data, "html", limit=MAX_BODY_CHARS)
    attachments = _attachments(data)
    if not text.strip() and not html.strip() and not attachments:
        raise ValidationError({"body": "a message needs a body, html or attachments"})
    thread = _str(data, "thread", limit=250)
    earlier = (
        InboundLog.objects.filter(source=source_key(source), detail__thread=thread).order_by("-id").first()
        if thread
        else None
    )
    contact = services.Contact(
        customer=matched.customer,
        channel=CHANNEL,
        body=text.strip() or "(see attachments)",
        subject=_str(data, "subject", limit=300),
        html=sanitize_html(html) if html else "",
        external_id=f"{source.slug}:{event_id}",
        # The helpdesk threads on the ids of earlier messages; the previous event of the thread is one.
        references=(f"{source.slug}:{earlier.external_id}",) if earlier else (),
        sender=matched.address,
        attachments=attachments,
        received_at=_occurred_at(data),
        metadata={"source": source.slug, "thread": thread, "new_customer": matched.created},
    )
    log = services.accept(contact, source=source_key(source), log_id=event_id, detail={"thread": thread})
    return log, True
