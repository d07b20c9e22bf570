"""The step runner: the sweeper that walks due enrollments through their journeys.

One transaction per batch: claim due enrollments (`SKIP LOCKED` on PostgreSQL), lock their customers,
run their steps up to the next wait, queue messages in the outbox with a key derived from (enrollment,
step), write one `StepRun` per step, and move `next_step_at` on. A crash rolls the whole batch back, so
every step of it runs again from the start; the unique `StepRun` and the outbox key make sure nothing runs
twice.

The messages are claimed for sending as they are queued, under the outbox's send-time rules (the
customers' locks are what those rules need), and sent by this worker once the batch commits: the outbox
does not read them back to claim them. A worker that dies first leaves them claimed; they fall due
again when the claim expires, as any claimed message would. A customer another transaction holds is not
waited for: their messages are queued for the outbox to claim.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from tenure.core.drain import start_drains
from tenure.core.outbox import policy
from tenure.core.outbox import settings as outbox_settings
from tenure.core.outbox.claim import Claim, lock_customers
from tenure.core.outbox.delivery import send_claimed
from tenure.core.outbox.rows import insert_values
from tenure.core.outbox.services import Draft, queue_and_claim
from tenure.core.outbox_models import MessageChannel
from tenure.core.services import record_event
from tenure.core.sweeper import claim_due, earliest_due
from tenure.customers.models import Customer
from tenure.customers.services import update_customer
from tenure.journeys.conditions import Subject, all_hold
from tenure.journeys.definition import END, parse_clock, parse_duration
from tenure.journeys.documents import PURPOSES
from tenure.journeys.models import (
    Enrollment,
    EnrollmentState,
    Journey,
    MessageTemplate,
    StepRun,
    StepStatus,
    Task,
)
from tenure.journeys.rendering import RenderError, render, template_context

EVENT_SOURCE = "journeys"
REACHABLE_IDENTITIES = tuple(policy.IDENTITY_FOR_CHANNEL.values())
# Written back after each batch; `context` only for enrollments whose context a step changed.
MOVED_FIELDS = ("position", "next_step_at", "state", "finished_at", "reason")


def setting(name: str, default: float) -> float:
    """From Django settings if defined there, else from the environment."""
    value = getattr(settings, name, None)
    return float(value if value is not None else os.environ.get(name, default))


def batch_size() -> int:
    return int(setting("TENURE_JOURNEY_BATCH_SIZE", 500))


class StepFailed(Exception):
    pass


# A step run to write with the batch, as {StepRun field attname: value}: a model instance per step (its
# foreign keys set through their descriptors) cost more than its insert.
StepRunRow = dict[str, Any]


def step_run(
    enrollment: Enrollment, step: dict[str, Any], status: str, detail: str, now: dt.datetime
) -> StepRunRow:
    return {
        "enrollment_id": enrollment.pk,
        "step_id": step["id"],
        "step_type": step["type"],
        "status": status,
        "ran_at": now,
        "detail": detail,
        "message_id": None,
    }


@dataclass
class Batch:
    """Everything a batch of enrollments needs, loaded with a handful of queries."""

    now: dt.datetime
    journeys: dict[int, Journey]
    customers: dict[int, Customer]
    # The customers this batch holds locks on: the outbox's send-time rules need them.
    locked: dict[int, Customer]
    templates: dict[tuple[str, str], MessageTemplate]
    known: policy.Reachability
    ran: set[tuple[int, str]]
    runs: list[StepRunRow] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    # Messages to queue with one insert at the end of the batch, and the step runs that record them.
    drafts: list[Draft] = field(default_factory=list)
    sends: list[tuple[StepRunRow, str]] = field(default_factory=list)
    context_changed: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, enrollments: list[Enrollment], now: dt.datetime) -> Batch:
        journeys = Journey.objects.in_bulk({e.journey_id for e in enrollments})
        ids = {e.customer_id for e in enrollments}
        # Locked without waiting: this transaction already holds the enrollments, and one that holds a
        # customer may be about to end that customer's enrollments. The messages of customers locked
        # elsewhere are queued for the outbox to claim instead.
        locked = lock_customers(ids, "assigned_rep", skip_locked=True)
        customers = dict(locked)
        if busy := ids - set(locked):
            customers.update(Customer.objects.select_related("assigned_rep").in_bulk(busy))
        keys = {s["template"] for j in journeys.values() for s in j.steps if s.get("type") == "send"}
        templates = {(t.key, t.language): t for t in MessageTemplate.objects.filter(key__in=keys)}
        known = policy.Reachability.of(customers)
        runs = StepRun.objects.filter(enrollment_id__any_of=[e.pk for e in enrollments])
        ran = set(runs.values_list("enrollment_id", "step_id"))
        return cls(now, journeys, customers, locked, templates, known, ran)

    def reachable(self, customer_id: int) -> set[str]:
        """The identity channels a message to this customer could go out on."""
        identities = self.known.identities.get(customer_id, [])
        return {i.channel for i in identities if i.channel in REACHABLE_IDENTITIES}

    def template(self, key: str, language: str) -> MessageTemplate | None:
        default = settings.LANGUAGE_CODE.split("-")[0]
        for lang in (language, language.split("-")[0], default, "en"):
            if (found := self.templates.get((key, lang))) is not None:
                return found
        return next((t for (k, _), t in sorted(self.templates.items()) if k == key), None)


def _next_local_time(after: dt.datetime, clock: dt.time, customer: Customer) -> dt.datetime:
    zone = policy.customer_zone(customer)
    local = after.astimezone(zone)
    candidate = dt.datetime.combine(local.date(), clock, tzinfo=zone)
    if candidate.astimezone(dt.UTC) < after:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), clock, tzinfo=zone)
    return candidate.astimezone(dt.UTC)


def _channel(step: dict[str, Any], customer: Customer, reachable: set[str]) -> str:
    wanted = step.get("channel", "preferred")
    if wanted == MessageChannel.PORTAL:
        return wanted
    if wanted == "preferred":
        wanted = policy.preferred_channel(customer)
    if not reachable:
        raise StepFailed("no reachable channel: the customer has no e-mail address, phone number or chat")
    if policy.IDENTITY_FOR_CHANNEL[wanted] in reachable:
        return wanted
    # The outbox falls back at send time too; picking a reachable one now keeps the record honest.
    return next(c for c in policy.FALLBACK_ORDER if policy.IDENTITY_FOR_CHANNEL[c] in reachable)


def _send(enrollment: Enrollment, step: dict[str, Any], batch: Batch) -> tuple[str, str]:
    """Render and stage one message; returns the step's detail and the outbox key."""
    journey = batch.journeys[enrollment.journey_id]
    customer = batch.customers[enrollment.customer_id]
    template = batch.template(step["template"], customer.language)
    if template is None:
        raise StepFailed(f"there is no message template {step['template']!r}")
    if journey.purpose not in PURPOSES:
        raise StepFailed(f"the journey's purpose {journey.purpose!r} is not one of {', '.join(PURPOSES)}")
    channel = _channel(step, customer, batch.reachable(customer.pk))
    values = template_context(customer, enrollment.context, journey.name)
    try:
        subject = render(template.subject, values) if template.subject else ""
        body = render(template.body, values)
    except RenderError as error:
        raise StepFailed(f"template {template.key} ({template.language}): {error}") from None
    if not body:
        raise StepFailed(f"template {template.key} ({template.language}) rendered an empty message")
    key = f"journey:{enrollment.pk}:{step['id']}"
    batch.drafts.append(
        Draft(
            customer_id=customer.pk,
            channel=channel,
            purpose=journey.purpose,
            subject=subject[:300],
            body=body,
            template=f"{template.key}:{template.language}",
            idempotency_key=key,
        )
    )
    return f"queued on {channel}", key


def _task(enrollment: Enrollment, step: dict[str, Any], batch: Batch) -> str:
    customer = batch.customers[enrollment.customer_id]
    due = batch.now + parse_duration(step.get("due", "0d"))
    batch.tasks.append(
        Task(
            customer=customer,
            enrollment=enrollment,
            title=step["title"],
            notes=step.get("notes", ""),
            owner=customer.assigned_rep,
            due_at=due,
        )
    )
    return f"task for {customer.assigned_rep or 'the team'} due {due:%Y-%m-%d %H:%M}"


def _set_field(enrollment: Enrollment, step: dict[str, Any], batch: Batch) -> str:
    target, value = step["field"], step["value"]
    if target.startswith("context."):
        enrollment.context = {**enrollment.context, target.removeprefix("context."): value}
        batch.context_changed.add(enrollment.pk)
    else:
        customer = batch.customers[enrollment.customer_id]
        try:
            update_customer(customer=customer, **{target: value})
        except ValidationError as error:
            customer.refresh_from_db()
            raise StepFailed(f"cannot set {target}: {' '.join(error.messages)}") from None
    return f"{target} = {value!r}"


def _fail(enrollment: Enrollment, step: dict[str, Any], reason: str, batch: Batch) -> None:
    batch.runs.append(step_run(enrollment, step, StepStatus.FAILED, reason, batch.now))
    enrollment.state = EnrollmentState.FAILED
    enrollment.finished_at = batch.now
    enrollment.next_step_at = None
    enrollment.reason = f"step {step['id']}: {reason}"
    record_event(
        customer_id=enrollment.customer_id,
        kind="journey.step_failed",
        channel="system",
        source=EVENT_SOURCE,
        idempotency_key=f"failed:{enrollment.pk}:{step['id']}",
        payload={"journey": batch.journeys[enrollment.journey_id].name, "step": step["id"], "reason": reason},
    )


def advance(enrollment: Enrollment, batch: Batch) -> None:
    """Run the enrollment's steps from its position up to the next wait, the end, or a failure."""
    steps = batch.journeys[enrollment.journey_id].steps
    index = {step["id"]: position for position, step in enumerate(steps)}
    position = enrollment.position
    # Validation forbids loops; the bound keeps a journey edited under a running enrollment finite.
    for _ in range(len(steps) + 1):
        if position >= len(steps):
            break
        step = steps[position]
        following = position + 1
        if (enrollment.pk, step["id"]) in batch.ran:
            position = following
            continue
        status, detail, key = StepStatus.DONE, "", ""
        kind = step["type"]
        try:
            if kind == "wait":
                due = batch.now + parse_duration(step["duration"]) if "duration" in step else batch.now
                if "until" in step:
                    due = _next_local_time(
                        due, parse_clock(step["until"]), batch.customers[enrollment.customer_id]
                    )
                detail = f"until {due.isoformat()}"
            elif kind == "branch":
                customer = batch.customers[enrollment.customer_id]
                subject = Subject(
                    customer=customer, event=enrollment.context.get("event", {}), context=enrollment.context
                )
                target = step["then"] if all_hold(step["if"], subject) else step["else"]
                detail = f"-> {target}"
                following = len(steps) if target == END else index[target]
            elif kind == "set_field":
                detail = _set_field(enrollment, step, batch)
            elif enrollment.holdout:
                status, detail = StepStatus.HELD_OUT, "holdout: not contacted"
            elif kind == "send":
                detail, key = _send(enrollment, step, batch)
            elif kind == "task":
                detail = _task(enrollment, step, batch)
        except StepFailed as error:
            _fail(enrollment, step, str(error), batch)
            return
        run = step_run(enrollment, step, status, detail, batch.now)
        batch.runs.append(run)
        if key:
            batch.sends.append((run, key))
        position = following
        if kind == "wait":
            enrollment.position = position
            enrollment.next_step_at = due
            return
    enrollment.position = position
    enrollment.state = EnrollmentState.COMPLETED
    enrollment.finished_at = batch.now
    enrollment.next_step_at = None


def run_batch(now: dt.datetime, limit: int) -> int:
    """Claim and run one batch in one transaction, then send the messages it queued; returns how many
    enrollments it took."""
    config = outbox_settings.current()
    claim = Claim()
    with transaction.atomic():
        # Only active enrollments have a timer (a check constraint says so): no state filter needed.
        enrollments = claim_due(Enrollment.objects.all(), "next_step_at", now, limit=limit)
        if not enrollments:
            return 0
        batch = Batch.load(enrollments, now)
        for enrollment in enrollments:
            advance(enrollment, batch)
        if batch.drafts:
            queued, claim = queue_and_claim(batch.drafts, batch.locked, config, batch.known)
            for run, key in batch.sends:
                run["message_id"] = queued[key].pk
        insert_values(StepRun, batch.runs)
        Task.objects.bulk_create(batch.tasks)
        save_moves(enrollments, batch.context_changed)
    if claim.to_send:
        send_claimed(claim, config)
    return len(enrollments)


def save_moves(enrollments: list[Enrollment], context_changed: set[int]) -> None:
    """Write back where each enrollment got to with one UPDATE per distinct outcome.

    Most of a batch ends the same way (same step reached, same time), so this is a handful of
    statements where `bulk_update` would build one CASE per field over every row.
    """
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for enrollment in enrollments:
        if enrollment.pk in context_changed:
            Enrollment.objects.filter(pk=enrollment.pk).update(
                context=enrollment.context, **{name: getattr(enrollment, name) for name in MOVED_FIELDS}
            )
        else:
            groups[tuple(getattr(enrollment, name) for name in MOVED_FIELDS)].append(enrollment.pk)
    for values, ids in groups.items():
        Enrollment.objects.filter(pk__any_of=ids).update(**dict(zip(MOVED_FIELDS, values, strict=True)))


def run_due(now: dt.datetime) -> int:
    """The sweeper: one batch; if it was full, start drain tasks so every worker helps with the rest."""
    limit = batch_size()
    taken = run_batch(now, limit)
    if taken >= limit:
        start_drains()
    return taken


def next_due() -> dt.datetime | None:
    """When the next step falls due: the earliest timer (only active enrollments have one)."""
    return earliest_due(Enrollment.objects.all(), "next_step_at")


def run_next_batch(now: dt.datetime) -> int:
    """One batch of the configured size, for drain tasks (`core.drain`)."""
    return run_batch(now, batch_size())
