"""Scheduling, sending and answering surveys. Callers own the transaction unless a function says otherwise."""

from __future__ import annotations

import datetime as dt
import re

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox import policy
from tenure.core.outbox.services import queue_message
from tenure.core.services import record_event
from tenure.core.sweeper import claim_due
from tenure.customers.models import Customer, Purpose
from tenure.surveys import hooks, triggers
from tenure.surveys.models import Survey, SurveyStatus
from tenure.surveys.settings import current

EVENT_SOURCE = "surveys"
TOKEN_SALT = "tenure.surveys.answer"  # noqa: S105 - a signing namespace, not a secret
SCORE_RANGE = range(1, 6)


class AnswerError(ValidationError):
    """An answer that cannot be taken; the message says why in words a customer understands."""


def _record(survey: Survey, kind: str, **payload: object) -> None:
    record_event(
        customer_id=survey.customer_id,
        kind=kind,
        channel=survey.channel,
        actor="customer" if kind == "survey.answered" else "system",
        source=EVENT_SOURCE,
        idempotency_key=f"{kind}:{survey.pk}",
        payload={"survey_id": survey.pk, "about": survey.subject_ref, "survey_kind": survey.kind, **payload},
    )


def schedule_for_event(event: Event) -> Survey | None:
    """Schedule the survey an event asks for (once per event); None when it asks for none."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    trigger = triggers.wanted(event.kind, payload)
    if trigger is None:
        return None
    ref = triggers.subject_ref(trigger, payload)
    if ref is None:
        return None
    due_at = event.occurred_at + triggers.delay_for(trigger, current())
    survey, created = Survey.objects.get_or_create(
        trigger_key=f"event:{event.pk}",
        defaults={
            "customer_id": event.customer_id,
            "kind": trigger.kind,
            "subject_ref": ref,
            "due_at": due_at,
        },
    )
    if created:
        _record(survey, "survey.scheduled", due_at=due_at.isoformat())
    return survey


def answer_token(survey: Survey) -> str:
    return signing.dumps(survey.pk, salt=TOKEN_SALT)


def answer_url(survey: Survey) -> str:
    return current().public_url + reverse("surveys:answer", args=[answer_token(survey)])


def survey_for_token(token: str) -> Survey:
    """The survey a signed link points at; AnswerError for a forged, expired or unknown link."""
    window = current().answer_window
    try:
        pk = signing.loads(token, salt=TOKEN_SALT, max_age=window)
    except signing.SignatureExpired as error:
        raise AnswerError("This survey link has expired.") from error
    except signing.BadSignature as error:
        raise AnswerError("This survey link is not valid.") from error
    survey = Survey.objects.select_related("customer").filter(pk=pk).first()
    if survey is None:
        raise AnswerError("This survey no longer exists.")
    return survey


def _question(survey: Survey) -> str:
    if survey.asks_fixed:
        return (
            "Thanks for having us today. Is everything fixed? Reply with a number from 1 (poor) to 5 (great) "
            "for how we did, or NO if it is not fixed and we will send someone back."
        )
    return "How did we do with your request? Reply with a number from 1 (poor) to 5 (great)."


def send(survey: Survey, now: dt.datetime) -> None:
    """Queue the survey's message (in the caller's transaction) and mark it sent."""
    customer = survey.customer
    if Purpose.SURVEYS in (customer.opted_out_purposes or []):
        _skip(survey, "the customer opted out of surveys")
        return
    # The outbox falls back to the other channel when this one is unreachable, so the text works on both.
    survey.channel = policy.preferred_channel(customer, policy.ASYNC_CHANNELS)
    link = answer_url(survey)
    survey.message = queue_message(
        customer=customer,
        channel=survey.channel,
        purpose=Purpose.SURVEYS,
        subject="How did we do?",
        body=f"{_question(survey)}\n\nOr answer here: {link}",
        template=f"surveys/{survey.kind}",
        idempotency_key=f"survey:{survey.pk}",
    )
    survey.status = SurveyStatus.SENT
    survey.sent_at = now
    survey.expires_at = now + current().answer_window
    survey.due_at = None
    survey.save(update_fields=["channel", "message", "status", "sent_at", "expires_at", "due_at"])
    _record(survey, "survey.sent", message_id=survey.message.pk)


def _skip(survey: Survey, reason: str) -> None:
    survey.status = SurveyStatus.SKIPPED
    survey.skip_reason = reason
    survey.due_at = None
    survey.save(update_fields=["status", "skip_reason", "due_at"])
    _record(survey, "survey.skipped", reason=reason)


def send_due(now: dt.datetime) -> int:
    """Sweeper: send every scheduled survey whose time has come."""
    with transaction.atomic():
        due = claim_due(
            Survey.objects.filter(status=SurveyStatus.SCHEDULED).select_related("customer"), "due_at", now
        )
        for survey in due:
            send(survey, now)
    return len(due)


def answer(
    survey: Survey, *, score: int | None, fixed: bool | None = None, comment: str = "", channel: str = ""
) -> Survey:
    """Take the customer's answer once; an unhappy one hands the subject back to its owner."""
    if score is None and fixed is None:
        raise AnswerError("Please choose a score from 1 to 5.")
    if score is not None and score not in SCORE_RANGE:
        raise AnswerError("The score must be a whole number from 1 to 5.")
    if fixed is not None and not survey.asks_fixed:
        raise AnswerError("This survey does not ask whether the job is fixed.")
    with transaction.atomic():
        locked = Survey.objects.select_for_update().get(pk=survey.pk)
        if locked.status == SurveyStatus.ANSWERED:
            raise AnswerError("Thanks, we already have your answer to this survey.")
        if locked.status == SurveyStatus.SKIPPED:
            raise AnswerError("This survey was withdrawn.")
        locked.score = score
        locked.fixed = fixed
        locked.comment = comment.strip()[:2000]
        locked.status = SurveyStatus.ANSWERED
        locked.answered_at = timezone.now()
        if channel:
            locked.channel = channel
        locked.save()
        _record(locked, "survey.answered", csat=score, fixed=fixed, unhappy=locked.unhappy)
        if locked.unhappy:
            handler = hooks.unhappy_handler(locked.subject_ref.partition(":")[0])
            if handler is not None:
                handler(locked)
    return locked


_NOT_FIXED_WORDS = frozenset({"no", "not", "nope", "n", "broken", "still", "isn't", "isnt"})
_FIXED_WORDS = frozenset({"yes", "yep", "y", "fixed", "working", "works", "sorted", "good", "fine"})
# Words that may sit around an answer ("yes it's fixed, 5 thanks"). Anything else means the customer is
# writing about something, and that text must reach the inbox as a message instead.
_FILLER_WORDS = frozenset({"it", "it's", "its", "is", "all", "thanks", "thank", "you", "ok", "okay", "great"})
_WORD = re.compile(r"[a-z']+|\d+")


def parse_reply(text: str, *, asks_fixed: bool) -> tuple[int | None, bool | None] | None:
    """(score, fixed) from a reply such as "4", "no", "still not fixed, 2"; None if it is not an answer."""
    words = _WORD.findall(text.lower())
    if not words or len(words) > 8:
        return None
    scores = [int(w) for w in words if w.isdigit()]
    if len(scores) > 1 or any(not 1 <= n <= 5 for n in scores):
        return None
    allowed = _FILLER_WORDS | (_NOT_FIXED_WORDS | _FIXED_WORDS if asks_fixed else set())
    if any(not w.isdigit() and w not in allowed for w in words):
        return None
    fixed: bool | None = None
    if asks_fixed:
        # A negation wins: "not fixed" says fixed too.
        if any(w in _NOT_FIXED_WORDS for w in words):
            fixed = False
        elif any(w in _FIXED_WORDS for w in words):
            fixed = True
    score = scores[0] if scores else None
    if score is None and fixed is None:
        return None
    return score, fixed


def answer_from_text(customer: Customer, text: str, *, channel: str) -> Survey | None:
    """Treat an inbound text as the answer to the customer's open survey, if it reads as one."""
    now = timezone.now()
    survey = (
        Survey.objects.filter(customer=customer, status=SurveyStatus.SENT, expires_at__gt=now)
        .order_by("-sent_at", "-id")
        .first()
    )
    if survey is None:
        return None
    parsed = parse_reply(text, asks_fixed=survey.asks_fixed)
    if parsed is None:
        return None
    score, fixed = parsed
    return answer(survey, score=score, fixed=fixed, comment=text, channel=channel)
