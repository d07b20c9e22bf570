"""Timeline events about appointments, with the payload keys the insights and surveys apps read:
`job` (JOB-<id>), `appointment_id`, `technician` (username), `service` (job type code), the window,
plus what each kind adds (`minutes_late` on job.late, `duration_minutes` on job.completed, ...)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from tenure.core.services import record_event_once
from tenure.field.models import Appointment, Technician

SOURCE = "field"
CHANNELS = {"job.completed": "in_person", "job.not_fixed": "in_person", "job.arrived": "in_person"}


def technician_name(technician: Technician | None) -> str:
    if technician is None:
        return ""
    return technician.user.get_username() if technician.user_id else f"technician-{technician.pk}"  # type: ignore[union-attr]


def record(
    appointment: Appointment,
    kind: str,
    when: dt.datetime,
    *,
    actor: AbstractBaseUser | None = None,
    key: str | None = None,
    **extra: Any,
) -> bool:
    """Record `kind` once per appointment (or once per `key`); True if this call recorded it."""
    technician = appointment.technician
    payload: dict[str, Any] = {
        "job": appointment.reference,
        "appointment_id": appointment.pk,
        "technician": technician_name(technician),
        "service": appointment.job_type.code,
    }
    if appointment.window_start and appointment.window_end:
        payload["window_start"] = appointment.window_start.isoformat()
        payload["window_end"] = appointment.window_end.isoformat()
    payload.update(extra)
    who = (
        actor.get_username()
        if actor is not None and actor.is_authenticated
        else technician_name(technician) or "system"
    )
    _, created = record_event_once(
        customer_id=appointment.customer_id,
        kind=kind,
        occurred_at=when,
        channel=CHANNELS.get(kind, "system"),
        actor=who,
        payload=payload,
        source=SOURCE,
        idempotency_key=f"{appointment.pk}:{kind}:{key or ''}",
    )
    return created
