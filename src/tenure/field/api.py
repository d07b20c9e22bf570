"""Field appointments over the JSON API: request, offers, book, the technician's live day, risk, report.

Agents and dispatchers book; a technician reads and reports progress on their own jobs only (someone
else's job is a 404, as if it did not exist); dispatchers may report on behalf of anyone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError

from tenure.core.access import require_perms
from tenure.customers.models import Customer
from tenure.field import booking, live, report, selectors
from tenure.field.models import Appointment, JobType
from tenure.field.routing.planning import MoveRefused, move_job, replan

router = Router(tags=["field"])
BOOK = "field.add_appointment"
DISPATCH = "field.change_appointment"
PLAN = "field.change_dayplan"


class PreferencesIn(Schema):
    asap: bool = False
    days: list[dt.date] = Field([], max_length=31)
    weekdays: list[int] = Field([], max_length=7)
    ranges: list[list[str]] = Field([], max_length=31)


class RequestIn(Schema):
    customer_id: int
    job_type: str = Field(min_length=1, max_length=50, description="job type code")
    address: str = Field(min_length=1, max_length=2000)
    lat: float | None = None
    lon: float | None = None
    preferences: PreferencesIn | None = None
    notes: str = Field("", max_length=5000)


class AppointmentOut(Schema):
    id: int
    customer_id: int
    job_type: str
    address: str
    lat: float | None
    lon: float | None
    preferences: dict[str, Any]
    status: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    technician_id: int | None
    position: int | None
    predicted_arrival: dt.datetime | None
    miss_probability: float
    notice_window_start: dt.datetime | None
    notice_window_end: dt.datetime | None
    notice_reason: str
    eta: dt.datetime | None
    arrived_at: dt.datetime | None
    completed_at: dt.datetime | None
    pinned: bool
    revisit_of_id: int | None

    @staticmethod
    def resolve_job_type(appointment: Appointment) -> str:
        return appointment.job_type.code


class OfferOut(Schema):
    window_start: dt.datetime
    window_end: dt.datetime
    technician_id: int
    fit: float
    coverage: float


class BookIn(Schema):
    window_start: dt.datetime
    technician_id: int | None = None


class OutcomeOut(Schema):
    appointment: AppointmentOut
    changed: bool
    message: str
    notified: list[int]
    warnings: list[str]


class RunningLongIn(Schema):
    extra_minutes: int | None = None
    expected_finish: dt.datetime | None = None


class NoteIn(Schema):
    note: str = Field("", max_length=5000)


class ReasonIn(Schema):
    reason: str = Field(min_length=1, max_length=2000)


class ListQuery(Schema):
    date: dt.date | None = None
    technician_id: int | None = None
    status: str | None = None
    limit: int = Field(200, ge=1, le=1000)


def _visible(request: HttpRequest, appointment_id: int) -> Appointment:
    require_perms(request, "field.view_appointment")
    appointment = selectors.visible_appointments(request.user).filter(pk=appointment_id).first()
    if appointment is None:
        raise HttpError(404, f"appointment {appointment_id} does not exist")
    return appointment


def _reporting(request: HttpRequest, appointment_id: int) -> Appointment:
    """The appointment, if this user may report progress on it: its technician or a dispatcher."""
    appointment = _visible(request, appointment_id)
    if not request.user.has_perm(DISPATCH):
        technician = selectors.technician_of(request.user)
        if technician is None or appointment.technician_id != technician.pk:
            raise HttpError(403, "only the assigned technician or a dispatcher can report on this job")
    return appointment


def _user(request: HttpRequest) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _outcome(result: live.Outcome) -> dict[str, Any]:
    return {
        "appointment": result.appointment,
        "changed": result.changed,
        "message": result.message,
        "notified": result.notified,
        "warnings": result.warnings,
    }


@router.post("/field/appointments", response={201: AppointmentOut}, summary="Record what a customer asks for")
def create_request(request: HttpRequest, payload: RequestIn) -> Status[Appointment]:
    require_perms(request, BOOK)
    if not Customer.objects.filter(pk=payload.customer_id).exists():
        raise HttpError(404, f"customer {payload.customer_id} does not exist")
    job_type = JobType.objects.filter(code=payload.job_type).first()
    if job_type is None:
        raise HttpError(422, f"there is no job type {payload.job_type!r}")
    preferences = payload.preferences.dict() if payload.preferences else {}
    preferences["days"] = [d.isoformat() for d in preferences.get("days", [])]
    appointment = booking.request_appointment(
        customer_id=payload.customer_id,
        job_type=job_type,
        address=payload.address,
        lat=payload.lat,
        lon=payload.lon,
        preferences=preferences,
        notes=payload.notes,
        actor=_user(request),
    )
    return Status(201, appointment)


@router.get("/field/appointments", response=list[AppointmentOut], summary="Appointments you may see")
def list_appointments(request: HttpRequest, filters: Query[ListQuery]) -> list[Appointment]:
    require_perms(request, "field.view_appointment")
    rows = selectors.visible_appointments(request.user)
    if filters.date is not None:
        rows = rows.filter(plan__date=filters.date)
    if filters.technician_id is not None:
        rows = rows.filter(technician_id=filters.technician_id)
    if filters.status:
        rows = rows.filter(status=filters.status)
    return list(rows.order_by("window_start", "id")[: filters.limit])


@router.get("/field/appointments/{appointment_id}", response=AppointmentOut, summary="One appointment")
def get_appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    return _visible(request, appointment_id)


@router.get(
    "/field/appointments/{appointment_id}/offers",
    response=list[OfferOut],
    summary="One-hour windows someone can keep, best fit to the customer's preferences first",
)
def offers(request: HttpRequest, appointment_id: int) -> list[booking.Offer]:
    require_perms(request, BOOK)
    return booking.offer_windows(_visible(request, appointment_id))


@router.post("/field/appointments/{appointment_id}/book", response=AppointmentOut, summary="Book a window")
def book(request: HttpRequest, appointment_id: int, payload: BookIn) -> Appointment:
    require_perms(request, BOOK)
    appointment = _visible(request, appointment_id)
    return booking.book(
        appointment, payload.window_start, technician_id=payload.technician_id, actor=_user(request)
    )


@router.post(
    "/field/appointments/{appointment_id}/on-my-way", response=OutcomeOut, summary="Technician sets off"
)
def on_my_way(request: HttpRequest, appointment_id: int) -> dict[str, Any]:
    return _outcome(live.on_my_way(_reporting(request, appointment_id)))


@router.post(
    "/field/appointments/{appointment_id}/arrived", response=OutcomeOut, summary="Technician arrived"
)
def arrived(request: HttpRequest, appointment_id: int) -> dict[str, Any]:
    return _outcome(live.arrived(_reporting(request, appointment_id)))


@router.post(
    "/field/appointments/{appointment_id}/running-long", response=OutcomeOut, summary="Job runs long"
)
def running_long(request: HttpRequest, appointment_id: int, payload: RunningLongIn) -> dict[str, Any]:
    appointment = _reporting(request, appointment_id)
    return _outcome(
        live.running_long(
            appointment, extra_minutes=payload.extra_minutes, expected_finish=payload.expected_finish
        )
    )


@router.post("/field/appointments/{appointment_id}/complete", response=OutcomeOut, summary="Job done")
def complete(request: HttpRequest, appointment_id: int, payload: NoteIn) -> dict[str, Any]:
    return _outcome(live.complete(_reporting(request, appointment_id), note=payload.note))


@router.post(
    "/field/appointments/{appointment_id}/not-fixed", response=OutcomeOut, summary="Could not fix it"
)
def not_fixed(request: HttpRequest, appointment_id: int, payload: ReasonIn) -> dict[str, Any]:
    return _outcome(live.mark_not_fixed(_reporting(request, appointment_id), reason=payload.reason))


@router.post(
    "/field/appointments/{appointment_id}/cancel", response=OutcomeOut, summary="Cancel an appointment"
)
def cancel(request: HttpRequest, appointment_id: int, payload: ReasonIn) -> dict[str, Any]:
    require_perms(request, BOOK)
    appointment = _visible(request, appointment_id)
    return _outcome(live.cancel(appointment, reason=payload.reason, actor=_user(request)))


@router.get("/field/at-risk", response=list[AppointmentOut], summary="Jobs likely to miss their window")
def at_risk(request: HttpRequest) -> list[Appointment]:
    require_perms(request, "field.view_dayplan")
    return list(selectors.at_risk(timezone.now())[:500])


@router.get("/field/report", summary="Promised vs actual arrivals: coverage by week and by technician")
def coverage_report(request: HttpRequest, days: int = 90) -> dict[str, Any]:
    require_perms(request, "field.view_dayplan")
    if not 1 <= days <= 730:
        raise HttpError(422, "days is between 1 and 730")
    now = timezone.now()
    return report.coverage(now - dt.timedelta(days=days), now).as_dict()


class ReplanOut(Schema):
    date: dt.date
    planned: int
    changed_routes: int
    unassigned: dict[int, str] = Field(description="appointment id -> why the planner could not take it")


class MoveIn(Schema):
    technician_id: int
    start_at: dt.datetime = Field(description="when the job should start, inside its promised window")


class MoveOut(Schema):
    appointment: AppointmentOut
    route: list[int] = Field(description="the technician's appointments in order after the move")


@router.post("/field/plans/{date}/replan", response=ReplanOut, summary="Re-plan a day (pinned jobs stay put)")
def replan_day(request: HttpRequest, date: dt.date) -> dict[str, Any]:
    require_perms(request, PLAN)
    result = replan(date, user=_user(request))
    return {
        "date": date,
        "planned": result.planned,
        "changed_routes": result.changed_routes,
        "unassigned": result.unassigned,
    }


@router.post(
    "/field/appointments/{appointment_id}/move",
    response={200: MoveOut, 409: dict[str, Any]},
    summary="Move a job to a technician and start time (checked; pins it to that technician)",
)
def move(request: HttpRequest, appointment_id: int, payload: MoveIn) -> Any:
    require_perms(request, PLAN)
    _visible(request, appointment_id)
    try:
        stops = move_job(appointment_id, payload.technician_id, payload.start_at, user=_user(request))
    except MoveRefused as refused:
        return Status(
            409, {"errors": [{"field": "start_at", "message": reason} for reason in refused.reasons]}
        )
    return {"appointment": Appointment.objects.get(pk=appointment_id), "route": [stop.job for stop in stops]}
