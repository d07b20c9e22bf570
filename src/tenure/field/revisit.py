"""Going back when a job is not fixed: the technician says so on site, or the customer answers the
follow-up survey "not fixed".

The visit that failed keeps its record (status, times, note: that is what happened and what window
statistics read); the return trip is a new appointment linked to it by `revisit_of`, booked through the
ordinary booking code so it takes capacity the same way and gets a promised window that can be kept:
- the same technician, if they are still working today and their current position (the job they are on
  or last finished, else home base) is within NEARBY_KM of the address: the earliest window the
  insertion check finds in the rest of their route today; the visit is pinned to them so a re-plan keeps
  it there;
- otherwise the earliest window any capable technician can keep (booking's offer search);
- if neither exists, the new appointment stays requested, the dispatcher sees it at risk (and a
  `job.unplanned` event gives the reason) and the customer is told someone will call.
The customer hears the new window through the outbox ("we will come back today 3-4 pm").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tenure.core.services import record_event
from tenure.field import events, notify
from tenure.field.booking import LEAD_TIME, _candidate_starts, _job, book, offer_windows, require_coordinates
from tenure.field.insertion import fits
from tenure.field.learning import Models
from tenure.field.live import CANNOT_KEEP
from tenure.field.models import FINAL_STATUSES, Appointment, Status, Technician
from tenure.field.preferences import Preferences
from tenure.field.routes import RouteDay, load_days, point_of
from tenure.field.travel import Point, great_circle_km

if TYPE_CHECKING:
    from tenure.surveys.models import Survey

NEARBY_KM = 15.0
FOLLOW_UP = "job.follow_up_needed"  # a low score for a job that is fixed: the dispatcher calls back
ASAP = {"asap": True}


@dataclass(frozen=True)
class Revisit:
    appointment: Appointment
    same_technician: bool
    booked: bool
    message: str


def _open_revisit(original: Appointment) -> Appointment | None:
    return original.revisits.exclude(status__in=FINAL_STATUSES).first()


def _today(technician: Technician, now: dt.datetime) -> RouteDay | None:
    days = load_days([technician], now - dt.timedelta(days=1), now + dt.timedelta(hours=1))
    return next((d for d in days if d.shift.start <= now < d.shift.end), None)


def _position(day: RouteDay) -> Point:
    """Where the technician is now: on site, else where they last finished, else home base."""
    on_site = next((s for s in day.stops if s.status == Status.ON_SITE), None)
    if on_site is not None:
        return point_of(on_site)
    if day.last_done is not None:
        return point_of(day.last_done)
    return day.home


def _same_technician_window(
    appointment: Appointment, technician: Technician, now: dt.datetime, models: Models
) -> dt.datetime | None:
    """The earliest window this technician can keep today from where they are, or None."""
    day = _today(technician, now)
    if day is None or great_circle_km(_position(day), point_of(appointment)) > NEARBY_KM:
        return None
    if not {s.code for s in appointment.job_type.skills.all()} <= day.skill_codes:
        return None
    starts, _ = _candidate_starts(day, now + LEAD_TIME, Preferences(asap=True))
    if starts.size == 0:
        return None
    found = [f for f in fits(day, _job(appointment, technician.pk, models), starts, now, models) if f]
    if not found:
        return None
    return dt.datetime.fromtimestamp(min(f.window_start for f in found), tz=dt.UTC)


def _new_visit(original: Appointment, reason: str, now: dt.datetime) -> Appointment:
    visit = Appointment.objects.create(
        customer_id=original.customer_id,
        job_type=original.job_type,
        address=original.address,
        lat=original.lat,
        lon=original.lon,
        preferences=Preferences.parse(ASAP).to_json(),
        notes=f"Return visit for {original.reference}: {reason}",
        revisit_of=original,
    )
    events.record(visit, "appointment.requested", now, preferences=visit.preferences, revisit_of=original.pk)
    return visit


def _unplanned(visit: Appointment, original: Appointment, why: str, now: dt.datetime) -> Revisit:
    visit.notice_reason = f"{CANNOT_KEEP}{why}"  # the marker selectors.at_risk lists for the dispatcher[:200]
    visit.save(update_fields=["notice_reason", "updated_at"])
    record_event(
        customer_id=visit.customer_id,
        kind="job.unplanned",
        actor="system",
        source=events.SOURCE,
        payload={
            "job": visit.reference,
            "appointment_id": visit.pk,
            "revisit_of": original.pk,
            "reason": why,
        },
    )
    notify.revisit_unplanned(visit)
    return Revisit(visit, False, False, f"no return visit could be booked ({why}); the dispatcher will call")


def reopen(
    original: Appointment, *, reason: str, now: dt.datetime | None = None, models: Models | None = None
) -> Revisit:
    """Book the return visit for a job that is not fixed and tell the customer when (idempotent: a
    second call while a revisit is open returns that one)."""
    now = now or timezone.now()
    with transaction.atomic():
        original = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("technician", "job_type", "customer")
            .get(pk=original.pk)
        )
        existing = _open_revisit(original)
        if existing is not None:
            same = existing.technician_id == original.technician_id
            return Revisit(
                existing, same, existing.window_start is not None, "a return visit is already arranged"
            )
        visit = _new_visit(original, reason, now)
        events.record(original, "job.reopened", now, key=str(visit.pk), revisit_id=visit.pk, reason=reason)
        try:
            require_coordinates(visit)
        except ValidationError:
            return _unplanned(visit, original, "the address has no coordinates", now)
        models = models or Models.load()
        start = None
        technician_id = None
        if original.technician is not None and original.technician.active:
            start = _same_technician_window(visit, original.technician, now, models)
            technician_id = original.technician.pk if start else None
        if start is None:
            try:
                (offer,) = offer_windows(visit, now, models=models, limit=1)
            except ValidationError as error:
                return _unplanned(visit, original, "; ".join(error.messages), now)
            start, technician_id = offer.window_start, offer.technician_id
        try:
            visit = book(
                visit, start, technician_id=technician_id, now=now, models=models, notify_customer=False
            )
        except ValidationError as error:
            return _unplanned(visit, original, "; ".join(error.messages), now)
        same = visit.technician_id == original.technician_id
        if same:
            Appointment.objects.filter(pk=visit.pk).update(pinned=True)
            visit.pinned = True
        notify.revisit_booked(visit, now)
        events.record(
            original,
            "job.revisit_booked",
            now,
            key=str(visit.pk),
            revisit_id=visit.pk,
            same_technician=same,
            revisit_window_start=visit.window_start.isoformat() if visit.window_start else None,
        )
    return Revisit(visit, same, True, f"return visit {visit.reference} booked")


def on_unhappy_survey(survey: Survey) -> None:
    """The surveys hook (in the answering transaction): "not fixed" books a return visit; a low score for
    a job the customer says is fixed is left to the dispatcher as a follow-up on the timeline."""
    _, _, ref = survey.subject_ref.partition(":")
    appointment = (
        Appointment.objects.select_related("job_type", "technician").filter(pk=int(ref)).first()
        if ref.isdigit()
        else None
    )
    if appointment is None:
        return
    now = timezone.now()
    if survey.fixed is False:
        said = f": {survey.comment}" if survey.comment else ""
        reopen(appointment, reason=f"the customer says it is not fixed{said}"[:500], now=now)
        return
    events.record(
        appointment,
        FOLLOW_UP,
        now,
        key=f"survey:{survey.pk}",
        survey_id=survey.pk,
        score=survey.score,
        comment=survey.comment[:500],
    )
