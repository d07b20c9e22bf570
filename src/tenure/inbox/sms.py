"""Inbound SMS in Twilio's webhook format: keywords (STOP/START) change opt-outs, anything else is a contact."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.core.services import record_event
from tenure.customers.identities import normalize_phone
from tenure.customers.models import IdentityChannel, Purpose
from tenure.customers.services import update_customer
from tenure.inbox import services
from tenure.inbox.models import InboundLog, InboundStatus
from tenure.inbox.senders import match_sender
from tenure.surveys.services import answer_from_text

SOURCE = "sms:twilio"
CHANNEL = "sms"
# Twilio's own opt-out and opt-in keywords (Advanced Opt-Out defaults).
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
START_WORDS = frozenset({"start", "unstop"})
MAX_MEDIA = 10


def _keyword(body: str) -> str:
    return body.strip().strip(".!").lower()


def _media(form: Mapping[str, str]) -> list[dict[str, str]]:
    try:
        count = min(int(form.get("NumMedia", "0") or 0), MAX_MEDIA)
    except ValueError:
        count = 0
    return [
        {"url": form.get(f"MediaUrl{i}", ""), "content_type": form.get(f"MediaContentType{i}", "")}
        for i in range(count)
        if form.get(f"MediaUrl{i}")
    ]


def _opt(form: Mapping[str, str], sid: str, word: str) -> InboundLog:
    """STOP: opt out of every proactive purpose; START: undo what the last STOP added."""
    sender = match_sender(channel=IdentityChannel.PHONE, address=form.get("From", ""))
    customer = sender.customer
    with transaction.atomic():
        before = list(customer.opted_out_purposes or [])
        if word in STOP_WORDS:
            kind, after = "sms.opted_out", sorted(set(before) | set(Purpose.values))
        else:
            previous = customer.events.filter(kind="sms.opted_out").order_by("-occurred_at", "-id").first()
            restored = (previous.payload.get("before") if previous else None) or []
            kind, after = "sms.opted_in", sorted(set(restored) & set(Purpose.values))
        update_customer(customer=customer, opted_out_purposes=after)
        record_event(
            customer_id=customer.pk,
            kind=kind,
            channel=CHANNEL,
            source="inbox",
            idempotency_key=f"{kind}:{sid}",
            payload={"from": sender.address, "keyword": word, "before": before, "after": after},
        )
        return services.log_item(
            source=SOURCE,
            external_id=sid,
            channel=CHANNEL,
            status=InboundStatus.OPT_OUT,
            sender=sender.address,
            customer=customer,
            detail={"keyword": word},
        )


@transaction.atomic
def receive_sms(form: Mapping[str, str]) -> InboundLog:
    """Handle one verified Twilio webhook; once per MessageSid. Raises ValidationError naming the field."""
    sid = form.get("MessageSid", "") or form.get("SmsSid", "")
    if not sid:
        raise ValidationError({"MessageSid": "missing"})
    if (found := services.existing_log(SOURCE, sid)) is not None:
        return found
    try:
        normalize_phone(form.get("From", ""))
    except ValidationError as error:
        raise ValidationError({"From": error.messages}) from None
    body = form.get("Body", "")
    word = _keyword(body)
    if word in STOP_WORDS or word in START_WORDS:
        return _opt(form, sid, word)
    media = _media(form)
    sender = match_sender(channel=IdentityChannel.PHONE, address=form["From"])
    # "4" or "not fixed" right after a follow-up is the answer to it, not a new request.
    if not media and (survey := answer_from_text(sender.customer, body, channel=CHANNEL)) is not None:
        return services.log_item(
            source=SOURCE,
            external_id=sid,
            channel=CHANNEL,
            status=InboundStatus.SURVEY_ANSWER,
            sender=sender.address,
            customer=sender.customer,
            detail={"survey_id": survey.pk},
        )
    text = body.strip() or ("(picture message)" if media else "(empty message)")
    if media:
        text += "\n\n" + "\n".join(f"[media: {m['content_type'] or 'file'} {m['url']}]" for m in media)
    contact = services.Contact(
        customer=sender.customer,
        channel=CHANNEL,
        body=text,
        external_id=sid,
        sender=sender.address,
        metadata={"to": form.get("To", ""), "media": media, "new_customer": sender.created},
    )
    return services.accept(contact, source=SOURCE, log_id=sid)
