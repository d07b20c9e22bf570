"""Which timeline events ask for a survey, and about what."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tenure.surveys.models import SurveyKind
from tenure.surveys.settings import SurveySettings


@dataclass(frozen=True)
class Trigger:
    kind: str
    subject_type: str
    # Payload keys that may carry the subject's id, first match wins.
    id_keys: tuple[str, ...]


TRIGGERS: dict[str, Trigger] = {
    "request.resolved": Trigger(SurveyKind.REQUEST_CSAT, "request", ("request_id", "request")),
    "job.completed": Trigger(SurveyKind.JOB_FOLLOW_UP, "appointment", ("appointment_id", "job_id", "about")),
}


def subject_ref(trigger: Trigger, payload: dict[str, Any]) -> str | None:
    for key in trigger.id_keys:
        value = payload.get(key)
        if value not in (None, ""):
            return f"{trigger.subject_type}:{value}"
    return None


def wanted(kind: str, payload: dict[str, Any]) -> Trigger | None:
    """The trigger for this event, unless the event says no survey is wanted."""
    trigger = TRIGGERS.get(kind)
    if trigger is None:
        return None
    # Nobody asks how we did about a request closed by the system (spam, merged, gone quiet).
    if payload.get("auto") or payload.get("auto_resolved"):
        return None
    return trigger


def delay_for(trigger: Trigger, settings: SurveySettings) -> dt.timedelta:
    return settings.job_delay if trigger.kind == SurveyKind.JOB_FOLLOW_UP else settings.request_delay
