"""What a chat socket reads and writes: the visitor's customer, their messages, the agents' replies.

Synchronous (the consumer calls these through `database_sync_to_async`). A visitor sees only chat
messages on requests they wrote on: their own lines and the agents' chat replies, never another
channel's messages or internal notes, even when their request also holds e-mails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Q

from tenure.core.services import record_event
from tenure.customers.identities import normalize_email
from tenure.customers.models import Customer, IdentityChannel
from tenure.customers.services import add_identity, create_customer
from tenure.helpdesk import services as helpdesk
from tenure.helpdesk.models import Direction, Request, RequestChannel, RequestMessage
from tenure.inbox.senders import match_sender

EVENT_SOURCE = "inbox.chat"
HISTORY_LIMIT = 100
# How much of each line the timeline keeps of a chat session (the request keeps every message whole).
TRANSCRIPT_LINE_CHARS = 1000


@dataclass(frozen=True)
class Resumed:
    request_id: int | None
    messages: list[dict[str, Any]]
    last_id: int
    identified: bool


@dataclass(frozen=True)
class Said:
    request_id: int
    message: dict[str, Any]
    created: bool


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, cls=DjangoJSONEncoder, separators=(",", ":"))


def line(message: RequestMessage) -> dict[str, Any]:
    inbound = message.direction == Direction.INBOUND
    author = "" if inbound or message.author is None else (message.author.first_name or "Support")
    return {
        "id": message.pk,
        "from": "visitor" if inbound else "agent",
        "author": author,
        "body": message.body,
        "at": message.created_at.isoformat(),
    }


def _visible(visitor_id: str) -> Q:
    return Q(channel=RequestChannel.CHAT) & (
        Q(direction=Direction.INBOUND, sender=visitor_id) | Q(direction=Direction.OUTBOUND)
    )


def _visitor_customer(visitor_id: str) -> Customer | None:
    return Customer.objects.filter(
        identities__channel=IdentityChannel.CHAT, identities__value=visitor_id
    ).first()


def _last_said(visitor_id: str) -> RequestMessage | None:
    return (
        RequestMessage.objects.filter(
            channel=RequestChannel.CHAT, direction=Direction.INBOUND, sender=visitor_id
        )
        .order_by("-created_at", "-id")
        .first()
    )


def resume(visitor_id: str) -> Resumed:
    """Where a (re)connecting visitor stands: their latest request's chat, newest last."""
    customer = _visitor_customer(visitor_id)
    identified = customer is not None and customer.identities.filter(channel=IdentityChannel.EMAIL).exists()
    last = _last_said(visitor_id)
    if last is None:
        return Resumed(None, [], 0, identified)
    messages = list(
        RequestMessage.objects.filter(_visible(visitor_id), request_id=last.request_id)
        .select_related("author")
        .order_by("-created_at", "-id")[:HISTORY_LIMIT]
    )[::-1]
    last_reply = (
        RequestMessage.objects.filter(
            request_id=last.request_id, channel=RequestChannel.CHAT, direction=Direction.OUTBOUND
        )
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return Resumed(last.request_id, [line(m) for m in messages], last_reply or 0, identified)


def receive(visitor_id: str, client_id: str, body: str) -> Said:
    """Store one visitor line on their request (a new one, the open one, or a re-opened one).

    The widget's own message id makes a re-send after a lost acknowledgement harmless.
    """
    external_id = f"{visitor_id}:{client_id}"
    existing = RequestMessage.objects.filter(channel=RequestChannel.CHAT, external_id=external_id).first()
    if existing is not None:
        return Said(existing.request_id, line(existing), created=False)
    previous = _last_said(visitor_id)
    try:
        with transaction.atomic():
            customer = match_sender(
                channel=IdentityChannel.CHAT, address=visitor_id, name=f"Chat visitor {visitor_id[1:7]}"
            ).customer
            received = helpdesk.receive_message(
                customer=customer,
                channel=RequestChannel.CHAT,
                body=body,
                external_id=external_id,
                sender=visitor_id,
                references=(previous.external_id,) if previous is not None else (),
            )
    except IntegrityError:
        # The same line arrived twice at once (two tabs re-sending); the first one stored it.
        existing = RequestMessage.objects.get(channel=RequestChannel.CHAT, external_id=external_id)
        return Said(existing.request_id, line(existing), created=False)
    return Said(received.request.pk, line(received.message), created=True)


def replies_after(request_id: int, after_id: int) -> list[dict[str, Any]]:
    replies = RequestMessage.objects.filter(
        request_id=request_id, channel=RequestChannel.CHAT, direction=Direction.OUTBOUND, id__gt=after_id
    ).select_related("author")
    return [line(message) for message in replies.order_by("id")[:HISTORY_LIMIT]]


@transaction.atomic
def identify(visitor_id: str, email: str, name: str) -> str:
    """The visitor left an e-mail: it becomes an identity of their customer (or finds the customer).

    An address that already belongs to another customer is not merged on the visitor's word: the chat
    customer keeps the conversation and the timeline notes whose address it was, for an agent to merge.
    """
    address = normalize_email(email)
    name = " ".join(name.split())[:200]
    customer = _visitor_customer(visitor_id)
    owner = Customer.objects.filter(
        identities__channel=IdentityChannel.EMAIL, identities__value=address
    ).first()
    if customer is None and owner is not None:
        add_identity(customer=owner, channel=IdentityChannel.CHAT, value=visitor_id)
        customer = owner
    elif customer is None:
        customer = create_customer(
            name=name or address,
            identities=[(IdentityChannel.EMAIL, address), (IdentityChannel.CHAT, visitor_id)],
        )
    elif owner is None:
        add_identity(customer=customer, channel=IdentityChannel.EMAIL, value=address)
        if name and customer.name.startswith("Chat visitor "):
            customer.name = name
            customer.save(update_fields=["name", "updated_at"])
    record_event(
        customer_id=customer.pk,
        kind="chat.identified",
        channel="chat",
        source=EVENT_SOURCE,
        payload={
            "visitor": visitor_id,
            "email": address,
            **({"email_belongs_to": owner.pk} if owner is not None and owner.pk != customer.pk else {}),
        },
    )
    return address


def record_transcript(visitor_id: str, session: str, lines: list[dict[str, Any]]) -> None:
    """When a chat socket closes, the conversation it carried lands on the customer's timeline in one piece."""
    customer = _visitor_customer(visitor_id)
    if customer is None or not lines:
        return
    requests = sorted(
        {
            int(r)
            for r in Request.objects.filter(messages__id__in=[x["id"] for x in lines]).values_list(
                "id", flat=True
            )
        }
    )
    record_event(
        customer_id=customer.pk,
        kind="chat.transcript",
        channel="chat",
        source=EVENT_SOURCE,
        idempotency_key=f"transcript:{session}",
        payload={
            "visitor": visitor_id,
            "requests": requests,
            "lines": [
                {
                    "from": item["from"],
                    "author": item["author"],
                    "at": item["at"],
                    "body": item["body"][:TRANSCRIPT_LINE_CHARS],
                }
                for item in lines
            ],
        },
    )
