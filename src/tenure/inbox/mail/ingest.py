"""One raw e-mail → a request message, or a logged auto-reply, bounce or loop. Never loses the message."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.core.outbox.settings import current as outbox_settings
from tenure.core.progress import ProgressFn, no_progress
from tenure.core.services import record_event
from tenure.customers.models import Identity, IdentityChannel
from tenure.helpdesk.conf import current as helpdesk_settings
from tenure.inbox import services
from tenure.inbox.conf import current as inbox_settings
from tenure.inbox.mail.bounces import apply_bounce
from tenure.inbox.mail.classify import Verdict, classify
from tenure.inbox.mail.parse import ParsedEmail, parse_email
from tenure.inbox.models import InboundLog, InboundStatus
from tenure.inbox.senders import match_sender

logger = logging.getLogger(__name__)
CHANNEL = "email"
_STATUS_FOR = {
    "bounce": InboundStatus.BOUNCE,
    "auto_reply": InboundStatus.AUTO_REPLY,
    "loop": InboundStatus.LOOP,
}


def _verdict(parsed: ParsedEmail) -> Verdict:
    outbox = outbox_settings()
    inbox = inbox_settings()
    return classify(
        parsed.message,
        own_domain=outbox.message_id_domain,
        own_addresses=frozenset({outbox.email_from.lower()}),
        max_received=inbox.max_received_headers,
    )


def _ignored(parsed: ParsedEmail, verdict: Verdict, *, source: str, log_id: str) -> InboundLog:
    with transaction.atomic():
        customer = apply_bounce(verdict) if verdict.kind == "bounce" else None
        if customer is None and parsed.from_address:
            identity = (
                Identity.objects.select_related("customer")
                .filter(channel=IdentityChannel.EMAIL, value=parsed.from_address.strip().lower())
                .first()
            )
            customer = identity.customer if identity is not None else None
        if customer is not None:
            record_event(
                customer_id=customer.pk,
                kind=f"email.{verdict.kind}",
                channel=CHANNEL,
                source="inbox",
                idempotency_key=f"email.{verdict.kind}:{source}:{log_id}",
                payload={
                    "subject": parsed.subject,
                    "reason": verdict.reason,
                    "message_id": parsed.message_id,
                },
            )
        return services.log_item(
            source=source,
            external_id=log_id,
            channel=CHANNEL,
            status=_STATUS_FOR[verdict.kind],
            sender=parsed.from_address,
            subject=parsed.subject,
            message_id=parsed.message_id,
            customer=customer,
            detail={
                "reason": verdict.reason,
                "failed": [
                    {"address": f.address, "action": f.action, "status": f.status} for f in verdict.failed
                ],
                "original_message_id": verdict.original_message_id,
            },
        )


def _contact(parsed: ParsedEmail) -> services.Contact:
    sender = match_sender(channel=IdentityChannel.EMAIL, address=parsed.from_address, name=parsed.from_name)
    body = parsed.text
    if parsed.notes:
        body += "\n\n" + "\n".join(f"[{note}]" for note in parsed.notes)
    return services.Contact(
        customer=sender.customer,
        channel=CHANNEL,
        body=body,
        subject=parsed.subject,
        html=parsed.html,
        external_id=parsed.message_id,
        references=parsed.references,
        sender=sender.address,
        attachments=parsed.attachments,
        received_at=parsed.date,
        metadata={
            "full_text": parsed.full_text if parsed.full_text != parsed.text else "",
            "notes": parsed.notes,
            "new_customer": sender.created,
        },
    )


def ingest_email(raw: bytes, *, source: str, log_id: str) -> InboundLog:
    """Handle one message from `source` (e.g. `imap:support`) known there as `log_id`; once per pair."""
    if (found := services.existing_log(source, log_id)) is not None:
        return found
    parsed: ParsedEmail | None = None
    try:
        parsed = parse_email(raw, max_attachment_bytes=helpdesk_settings().max_attachment_bytes)
        verdict = _verdict(parsed)
        if verdict.kind:
            return _ignored(parsed, verdict, source=source, log_id=log_id)
        return services.accept(_contact(parsed), source=source, log_id=log_id, message_id=parsed.message_id)
    except ValidationError as error:
        detail = {"error": "; ".join(error.messages)}
    except Exception as error:
        logger.exception("E-mail %s from %s could not be ingested", log_id, source)
        detail = {"error": f"{type(error).__name__}: {error}"}
    # Kept with its raw bytes, so `tenure inbox retry` can try again once the cause is fixed.
    return services.log_item(
        source=source,
        external_id=log_id,
        channel=CHANNEL,
        status=InboundStatus.ERROR,
        sender=parsed.from_address if parsed else "",
        subject=parsed.subject if parsed else "",
        message_id=parsed.message_id if parsed else "",
        detail=detail,
        raw=raw,
    )


def retry_failed(*, progress: ProgressFn = no_progress) -> list[InboundLog]:
    """Ingest again every e-mail kept as an error; each ends accepted, ignored or an error again."""
    failed = list(
        InboundLog.objects.filter(channel=CHANNEL, status=InboundStatus.ERROR, raw__isnull=False)
        .exclude(external_id="")
        .order_by("id")
        .values_list("pk", "source", "external_id")
    )
    results = []
    for done, (pk, source, log_id) in enumerate(failed, start=1):
        row = InboundLog.objects.filter(pk=pk).first()
        if row is None or row.raw is None:
            continue
        raw = bytes(row.raw)
        with transaction.atomic():
            row.delete()
            results.append(ingest_email(raw, source=source, log_id=log_id))
        progress("retry", done, len(failed))
    return results
