"""Every write of the journeys app. Callers own the transaction unless a function says otherwise."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenure.core.outbox.services import queue_message
from tenure.core.outbox_models import TRANSACTIONAL, OutboundMessage
from tenure.core.services import audit, record_event
from tenure.customers.models import Customer, Lifecycle
from tenure.customers.services import actor_label
from tenure.journeys.documents import clean_journey, clean_process_type, clean_template, parse_yaml
from tenure.journeys.enrolling import EVENT_SOURCE, enroll, enroll_many
from tenure.journeys.facts import fact_view
from tenure.journeys.models import DatedFact, Enrollment, Journey, MessageTemplate, Process, ProcessType, Task
from tenure.journeys.rendering import RenderError, render, template_context
from tenure.journeys.triggers import enroll_for_fact, forget_index

__all__ = [
    "ImportResult",
    "advance_process",
    "broadcast",
    "complete_task",
    "enroll",
    "enroll_manually",
    "enroll_many",
    "import_document",
    "import_yaml",
    "save_journey",
    "save_template",
    "test_send",
]


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.kept)} left as they were"


def _backfill_dates(journey: Journey) -> None:
    """A date journey created or edited now still catches the dates already known and not yet passed."""
    if journey.trigger != "date" or not journey.is_active:
        return
    now = timezone.now()
    earliest = now - dt.timedelta(days=journey.trigger_offset_days) - dt.timedelta(days=1)
    facts = DatedFact.objects.filter(kind=journey.trigger_kind, cleared_at__isnull=True, at__gte=earliest)
    for fact in facts.select_related("customer").iterator(chunk_size=500):
        enroll_for_fact(journey, fact, fact_view(fact), now)


@transaction.atomic
def save_template(*, data: Mapping[str, Any], by: User | None = None) -> MessageTemplate:
    fields = clean_template(data)
    template, _ = MessageTemplate.objects.update_or_create(
        key=fields["key"],
        language=fields["language"],
        defaults={"subject": fields["subject"], "body": fields["body"]},
    )
    audit(actor=by, action="journeys.template_saved", object_type="message_template", object_id=template.pk)
    return template


@transaction.atomic
def save_journey(
    *, data: Mapping[str, Any], by: User | None = None, journey: Journey | None = None
) -> Journey:
    """Create or update a journey from its document; ValidationError names every bad field."""
    known = set(MessageTemplate.objects.values_list("key", flat=True).distinct())
    fields = clean_journey(data, known)
    if (
        journey is not None
        and fields["key"] != journey.key
        and Journey.objects.filter(key=fields["key"]).exists()
    ):
        raise ValidationError({"key": f"another journey already has the key {fields['key']!r}"})
    target = journey or Journey.objects.filter(key=fields["key"]).first() or Journey()
    for name, value in fields.items():
        setattr(target, name, value)
    target.save()
    forget_index()
    transaction.on_commit(forget_index)
    _backfill_dates(target)
    audit(actor=by, action="journeys.journey_saved", object_type="journey", object_id=target.pk)
    return target


def import_document(
    document: Mapping[str, Any], *, by: User | None = None, replace: bool = True
) -> ImportResult:
    """All or nothing: every item is checked first, then written in one transaction.

    With `replace=False` items that exist are left alone (how the built-ins are seeded).
    """
    errors: dict[str, list[str]] = {}
    process_types, templates, journeys = [], [], []
    for index, item in enumerate(document.get("process_types", [])):
        try:
            process_types.append(clean_process_type(item, f"process_types.{index}"))
        except ValidationError as error:
            errors.update(error.message_dict)
    for index, item in enumerate(document.get("templates", [])):
        try:
            templates.append(clean_template(item, f"templates.{index}"))
        except ValidationError as error:
            errors.update(error.message_dict)
    known = {t["key"] for t in templates} | set(
        MessageTemplate.objects.values_list("key", flat=True).distinct()
    )
    for index, item in enumerate(document.get("journeys", [])):
        try:
            journeys.append(clean_journey(item, known, f"journeys.{index}"))
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    result = ImportResult()
    with transaction.atomic():
        for fields in process_types:
            label = f"process type {fields['key']}"
            if ProcessType.objects.filter(key=fields["key"]).exists() and not replace:
                result.kept.append(label)
                continue
            _, created = ProcessType.objects.update_or_create(key=fields["key"], defaults=fields)
            (result.created if created else result.updated).append(label)
        for fields in templates:
            label = f"template {fields['key']} ({fields['language']})"
            if (
                MessageTemplate.objects.filter(key=fields["key"], language=fields["language"]).exists()
                and not replace
            ):
                result.kept.append(label)
                continue
            _, created = MessageTemplate.objects.update_or_create(
                key=fields["key"], language=fields["language"], defaults=fields
            )
            (result.created if created else result.updated).append(label)
        for fields in journeys:
            label = f"journey {fields['key']}"
            existing = Journey.objects.filter(key=fields["key"]).first()
            if existing is not None and not replace:
                result.kept.append(label)
                continue
            target = existing or Journey()
            for name, value in fields.items():
                setattr(target, name, value)
            target.save()
            _backfill_dates(target)
            (result.updated if existing else result.created).append(label)
        if by is not None:
            audit(
                actor=by,
                action="journeys.imported",
                object_type="journey",
                object_id="*",
                details={"summary": result.summary()},
            )
        transaction.on_commit(forget_index)
    forget_index()
    return result


def import_yaml(text: str, *, by: User | None = None, replace: bool = True) -> ImportResult:
    return import_document(parse_yaml(text), by=by, replace=replace)


def enroll_manually(*, customer: Customer, journey: Journey, by: User | None = None) -> Enrollment | None:
    """Staff or another app (insights' next best action) puts one customer into a journey now."""
    if not journey.is_active:
        raise ValidationError({"journey": f"{journey.name} is switched off"})
    return enroll(
        journey=journey,
        customer=customer,
        trigger_key=f"manual:{uuid.uuid4().hex[:16]}",
        context={"event": {}, "event_kind": "manual", "by": actor_label(by) if by else ""},
        actor=actor_label(by) if by else "",
    )


@transaction.atomic
def complete_task(*, task: Task, by: User | None) -> Task:
    if task.done_at is None:
        task.done_at = timezone.now()
        task.save(update_fields=["done_at"])
        record_event(
            customer_id=task.customer_id,
            kind="journey.task_done",
            channel="system",
            actor=actor_label(by) if by else "",
            source=EVENT_SOURCE,
            idempotency_key=f"task-done:{task.pk}",
            payload={"task": task.title},
        )
    return task


@transaction.atomic
def advance_process(
    *, customer: Customer, type_key: str, ref: str, stage: str, by: User | None = None
) -> Process:
    """Start or move a process (a mortgage application) to a stage; the event drives status updates."""
    process_type = ProcessType.objects.filter(key=type_key).first()
    if process_type is None:
        raise ValidationError({"type": f"no process type {type_key!r}"})
    keys = [s["key"] for s in process_type.stages]
    if stage not in keys:
        raise ValidationError(
            {"stage": f"{stage!r} is not a stage of {process_type.name}: {', '.join(keys)}"}
        )
    if not ref.strip():
        raise ValidationError({"ref": "give the process a reference (e.g. the application number)"})
    now = timezone.now()
    process, created = Process.objects.get_or_create(
        type=process_type,
        ref=ref.strip(),
        defaults={"customer": customer, "stage": stage, "started_at": now, "stage_changed_at": now},
    )
    if process.customer_id != customer.pk:
        raise ValidationError({"ref": f"{ref} belongs to another customer"})
    if not created and process.stage == stage:
        return process
    previous = "" if created else process.stage
    process.stage, process.stage_changed_at = stage, now
    process.save(update_fields=["stage", "stage_changed_at"])
    position = keys.index(stage)
    current = process_type.stages[position]
    record_event(
        customer_id=customer.pk,
        kind="process.stage_changed",
        channel="system",
        actor=actor_label(by) if by else "",
        payload={
            "process": process.ref,
            "ref": process.ref,
            "type": process_type.key,
            "name": process_type.name,
            "previous": previous,
            "stage": stage,
            "label": current["label"],
            "days": current.get("days", 0),
            "steps_ahead": process_type.stages[position + 1 :],
            "final": position == len(keys) - 1,
        },
    )
    return process


def test_send(*, template: MessageTemplate, customer: Customer, by: User | None) -> OutboundMessage:
    """Render against a real customer and send it to the staff member's own e-mail through the outbox."""
    if by is None or not by.email:
        raise ValidationError({"email": "add an e-mail address to your account to receive test sends"})
    values = template_context(customer, {"event": {}, "event_kind": "test"}, "Test send")
    try:
        subject = render(template.subject, values) if template.subject else template.key
        body = render(template.body, values)
    except RenderError as error:
        raise ValidationError({"body": str(error)}) from None
    with transaction.atomic():
        return queue_message(
            customer=customer,
            channel="email",
            purpose=TRANSACTIONAL,
            subject=f"[Test] {subject}",
            body=body,
            template=f"{template.key}:{template.language}",
            recipient=by.email,
            idempotency_key=f"test-send:{uuid.uuid4().hex}",
        )


def broadcast(
    *,
    journey: Journey,
    subject: str,
    message: str,
    lifecycle: str = "",
    tag: str = "",
    rep: str = "",
    by: User | None = None,
) -> int:
    """A heads-up to an audience (a rep's customers, a lifecycle stage, a tag); returns how many were enrolled.

    Lost and merged-away customers are never in the audience. `subject` and `message` reach the
    templates as `context.subject` / `context.message`.
    """
    if not journey.is_active:
        raise ValidationError({"journey": f"{journey.name} is switched off"})
    sources = " ".join(
        t.subject + t.body for t in MessageTemplate.objects.filter(key__in=_template_keys(journey))
    )
    for name, value in (("subject", subject), ("message", message)):
        if f"context.{name}" in sources and not value.strip():
            raise ValidationError({name: f"this journey's message uses the {name}: write one"})
    audience = Customer.objects.filter(merged_into__isnull=True).exclude(lifecycle=Lifecycle.LOST)
    if lifecycle:
        if lifecycle not in Lifecycle.values:
            raise ValidationError({"lifecycle": f"{lifecycle!r} is not one of {', '.join(Lifecycle.values)}"})
        audience = audience.filter(lifecycle=lifecycle)
    if tag.strip():
        audience = audience.filter(tags__name=tag.strip().lower())
    if rep.strip():
        owner = User.objects.filter(username=rep.strip()).first()
        if owner is None:
            raise ValidationError({"rep": f"no staff member {rep.strip()!r}"})
        audience = audience.filter(assigned_rep=owner)
    ids = list(audience.values_list("pk", flat=True).distinct())
    if not ids:
        raise ValidationError({"audience": "no customer matches this audience"})
    key = f"broadcast:{uuid.uuid4().hex[:16]}"
    context = {"subject": subject.strip(), "message": message.strip(), "event": {}, "event_kind": "broadcast"}
    count = enroll_many(journey=journey, customer_ids=ids, trigger_key=key, context=context)
    audit(
        actor=by,
        action="journeys.broadcast",
        object_type="journey",
        object_id=journey.pk,
        details={"audience": len(ids), "enrolled": count, "lifecycle": lifecycle, "tag": tag, "rep": rep},
    )
    return count


def _template_keys(journey: Journey) -> list[str]:
    return [step["template"] for step in journey.steps if step.get("type") == "send"]
