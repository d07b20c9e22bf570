"""From the timeline to enrollments: every new Event may end enrollments, move a dated fact, or enroll.

Hooked to `Event` post_save in `JourneysConfig.ready`, so core never imports journeys and the work
happens in the transaction that recorded the event (roll it back and nothing was enrolled). Events
written with `bulk_create` (historical imports, the demo generator) send no signal and start nothing,
which is what an import of last year's orders should do.

Which kinds matter is cached per process for a few seconds, so the events most writes produce
(message.queued, message.sent, ...) cost a dictionary lookup.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.services import record_event
from tenure.journeys.conditions import Subject, all_hold
from tenure.journeys.enrolling import EVENT_SOURCE, enroll
from tenure.journeys.facts import apply as apply_fact
from tenure.journeys.facts import fact_view, reply_kinds, rule_for
from tenure.journeys.models import DatedFact, Enrollment, EnrollmentState, Journey, ProcessType, TriggerKind

logger = logging.getLogger(__name__)
INDEX_TTL_SECONDS = 5.0
# A date rule whose moment has passed still fires if the date itself is at most this far behind.
LATE_GRACE = dt.timedelta(days=1)
REPLIED = "replied"


@dataclass
class Index:
    on_event: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    on_fact: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    exit_kinds: set[str] = field(default_factory=set)
    built_at: float = 0.0


_index = Index()
_lock = threading.Lock()


def exit_kinds_of(journey: Journey) -> set[str]:
    kinds: set[str] = set()
    for item in journey.exit_on or []:
        kind = item.get("kind", "")
        kinds.update(reply_kinds() if kind == REPLIED else {kind})
    return kinds


def _build() -> Index:
    index = Index(built_at=time.monotonic())
    for journey in Journey.objects.filter(is_active=True).only("pk", "trigger", "trigger_kind", "exit_on"):
        if journey.trigger == TriggerKind.EVENT:
            index.on_event[journey.trigger_kind].append(journey.pk)
        elif journey.trigger == TriggerKind.DATE:
            index.on_fact[journey.trigger_kind].append(journey.pk)
        index.exit_kinds |= exit_kinds_of(journey)
    return index


def current_index() -> Index:
    global _index
    with _lock:
        if time.monotonic() - _index.built_at > INDEX_TTL_SECONDS:
            _index = _build()
        return _index


def forget_index(**_: Any) -> None:
    """Journeys changed in this process: rebuild on the next event."""
    global _index
    with _lock:
        _index = Index()


def _expected(enrollment: Enrollment, key: str) -> Any:
    context = enrollment.context
    for source in (context.get("event", {}), context.get("fact", {}), context):
        if isinstance(source, Mapping) and source.get(key) not in (None, ""):
            return source[key]
    return None


def end_enrollments(enrollments: list[Enrollment], reason: str, at: dt.datetime) -> int:
    for enrollment in enrollments:
        Enrollment.objects.filter(pk=enrollment.pk, state=EnrollmentState.ACTIVE).update(
            state=EnrollmentState.EXITED, next_step_at=None, finished_at=at, reason=reason
        )
        record_event(
            customer_id=enrollment.customer_id,
            kind="journey.exited",
            channel="system",
            source=EVENT_SOURCE,
            idempotency_key=f"exited:{enrollment.pk}",
            payload={"journey": enrollment.journey.name, "reason": reason},
        )
    return len(enrollments)


def _exit_on(event: Event, index: Index) -> None:
    if event.kind not in index.exit_kinds:
        return
    active = Enrollment.objects.filter(
        customer_id=event.customer_id, state=EnrollmentState.ACTIVE
    ).select_related("journey")
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    leaving = []
    for enrollment in active:
        for item in enrollment.journey.exit_on or []:
            kinds = reply_kinds() if item.get("kind") == REPLIED else (item.get("kind"),)
            if event.kind not in kinds:
                continue
            key = item.get("match")
            if key and (
                payload.get(key) in (None, "") or str(payload.get(key)) != str(_expected(enrollment, key))
            ):
                continue
            leaving.append(enrollment)
            break
    end_enrollments(leaving, f"{event.kind} (event {event.pk})", event.occurred_at)


def _journeys(ids: list[int]) -> list[Journey]:
    return list(Journey.objects.filter(pk__in=ids, is_active=True)) if ids else []


def _fact_changed(fact: DatedFact, index: Index, now: dt.datetime, reason: str) -> None:
    """A fact moved or was cleared: enrollments counting from its old date end; new ones start."""
    stale = list(
        Enrollment.objects.filter(
            trigger_key__startswith=f"fact:{fact.pk}:", state=EnrollmentState.ACTIVE
        ).select_related("journey")
    )
    end_enrollments(stale, reason, now)
    if fact.cleared_at is not None:
        return
    view = fact_view(fact)
    for journey in _journeys(index.on_fact.get(fact.kind, [])):
        enroll_for_fact(journey, fact, view, now)


def enroll_for_fact(
    journey: Journey, fact: DatedFact, view: dict[str, Any], now: dt.datetime
) -> Enrollment | None:
    start = fact.at + dt.timedelta(days=journey.trigger_offset_days)
    if start < now and max(fact.at, start) < now - LATE_GRACE:
        return None  # long past: a reminder now would be wrong
    subject = Subject(customer=fact.customer, event=view, context={"fact": view})
    if not all_hold(journey.conditions, subject):
        return None
    return enroll(
        journey=journey,
        customer=fact.customer,
        trigger_key=f"fact:{fact.pk}:{fact.at.isoformat()}",
        context={"fact": view, "event": view, "event_kind": f"fact.{fact.kind}"},
        start_at=max(start, now),
    )


def process_view(event: Event) -> dict[str, Any]:
    """For an order-like event, the stages ahead of a process type named like the event (order.* -> order)."""
    payload = event.payload if isinstance(event.payload, Mapping) else {}
    if event.kind.startswith("process."):
        return dict(payload)
    process_type = ProcessType.objects.filter(key=event.kind.split(".")[0]).first()
    if process_type is None:
        return {}
    return {
        "type": process_type.key,
        "name": process_type.name,
        "stage": "",
        "steps_ahead": process_type.stages,
    }


def _enroll_on_event(event: Event, index: Index) -> None:
    journeys = _journeys(index.on_event.get(event.kind, []))
    if not journeys:
        return
    payload = dict(event.payload) if isinstance(event.payload, Mapping) else {}
    customer = event.customer
    context = {"event": payload, "event_kind": event.kind, "event_id": event.pk}
    if process := process_view(event):
        context["process"] = process
    for journey in journeys:
        if all_hold(journey.conditions, Subject(customer=customer, event=payload, context=context)):
            enroll(journey=journey, customer=customer, trigger_key=f"event:{event.pk}", context=context)


def handle_event(event: Event) -> None:
    index = current_index()
    rule = rule_for(event.kind)
    if event.kind not in index.on_event and event.kind not in index.exit_kinds and rule is None:
        return
    now = timezone.now()
    _exit_on(event, index)
    if rule is not None and (fact := apply_fact(event)) is not None:
        _fact_changed(fact, index, now, reason=f"{event.kind} (event {event.pk})")
    _enroll_on_event(event, index)


def on_event_saved(sender: type[Event], instance: Event, created: bool, raw: bool = False, **_: Any) -> None:
    if not created or raw:
        return
    try:
        with transaction.atomic():
            handle_event(instance)
    except Exception:
        # Journeys sit downstream of the timeline: a fault here must not lose the event that caused it.
        logger.exception("journeys could not handle event %s (%s)", instance.pk, instance.kind)
