"""A contact-form submission → a web message on a request (sender matched by e-mail, else by phone)."""

from __future__ import annotations

import uuid
from contextlib import suppress
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.customers.models import IdentityChannel
from tenure.customers.services import add_identity
from tenure.inbox import services
from tenure.inbox.models import InboundLog, InboundStatus
from tenure.inbox.senders import match_sender

SOURCE = "form"
CHANNEL = "web"


def receive_form(
    data: dict[str, Any], *, submission_id: str = "", ip: str = "", page: str = ""
) -> InboundLog:
    """`data` is a valid ContactForm's cleaned data. `submission_id` dedupes a double submit."""
    key = submission_id or str(uuid.uuid4())
    if (found := services.existing_log(SOURCE, key)) is not None:
        return found
    with transaction.atomic():
        if data.get("email"):
            sender = match_sender(channel=IdentityChannel.EMAIL, address=data["email"], name=data["name"])
            if data.get("phone") and sender.created:
                # A number that belongs to someone else stays only in the message's metadata.
                with suppress(ValidationError):
                    add_identity(
                        customer=sender.customer,
                        channel=IdentityChannel.PHONE,
                        value=data["phone"],
                        record=False,
                    )
        else:
            sender = match_sender(channel=IdentityChannel.PHONE, address=data["phone"], name=data["name"])
        contact = services.Contact(
            customer=sender.customer,
            channel=CHANNEL,
            body=data["message"],
            subject=data.get("subject", "") or "Contact form",
            external_id=f"form:{key}",
            sender=sender.address,
            metadata={
                "name": data["name"],
                "email": data.get("email", ""),
                "phone": data.get("phone", ""),
                "page": page[:500],
                "ip": ip,
                "new_customer": sender.created,
            },
        )
        return services.accept(contact, source=SOURCE, log_id=key)


def log_spam(data: dict[str, str], *, ip: str) -> InboundLog:
    return services.log_item(
        source=SOURCE,
        external_id="",
        channel=CHANNEL,
        status=InboundStatus.SPAM,
        sender=str(data.get("email", ""))[:300],
        subject=str(data.get("subject", ""))[:300],
        detail={"ip": ip, "reason": "honeypot field filled"},
    )
