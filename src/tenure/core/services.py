"""Writes to the shared kernel. Callers own the transaction; these functions never commit on their own."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any, TypedDict, Unpack

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, User
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenure.core.models import ApiToken, AuditLog, Event

EVENT_KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
TOKEN_PREFIX = "tnr_"  # noqa: S105 - a public marker, not a secret


def validate_event_kind(kind: str) -> str:
    if not kind or len(kind) > 64 or not EVENT_KIND_PATTERN.match(kind):
        raise ValidationError(
            {
                "kind": f"{kind!r} is not an event kind: use lower-case words joined by dots, e.g. 'order.placed'"
            }
        )
    return kind


class EventFields(TypedDict, total=False):
    occurred_at: dt.datetime | None
    channel: str
    actor: str
    payload: dict[str, Any] | None
    source: str
    idempotency_key: str | None


def record_event(*, customer_id: int, kind: str, **fields: Unpack[EventFields]) -> Event:
    """Append one event to a customer's timeline; with a key, recording it twice returns the first."""
    return record_event_once(customer_id=customer_id, kind=kind, **fields)[0]


def record_event_once(
    *,
    customer_id: int,
    kind: str,
    occurred_at: dt.datetime | None = None,
    channel: str = "",
    actor: str = "",
    payload: dict[str, Any] | None = None,
    source: str = "tenure",
    idempotency_key: str | None = None,
) -> tuple[Event, bool]:
    """Like `record_event`, also saying whether this call created the event."""
    validate_event_kind(kind)
    fields = {
        "customer_id": customer_id,
        "kind": kind,
        "occurred_at": occurred_at or timezone.now(),
        "channel": channel,
        "actor": actor,
        "payload": payload or {},
    }
    if idempotency_key is None:
        return Event.objects.create(source=source, **fields), True
    return Event.objects.get_or_create(source=source, idempotency_key=idempotency_key, defaults=fields)


def audit(
    *,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    object_type: str,
    object_id: object,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    return AuditLog.objects.create(
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
    )


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_token(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Return the stored token and its secret; the secret is not kept and cannot be shown again."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name, prefix=secret[: len(TOKEN_PREFIX) + 6], key_hash=_hash_token(secret)
    )
    audit(actor=user, action="api_token.created", object_type="api_token", object_id=token.pk)
    return token, secret


def user_for_token(secret: str) -> User | None:
    """The active user a token belongs to, or None for an unknown, revoked or inactive one."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_token(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute so a busy integration does not write on every call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_api_token(*, token: ApiToken, actor: AbstractBaseUser | None) -> None:
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit(actor=actor, action="api_token.revoked", object_type="api_token", object_id=token.pk)
