"""The customer's pages behind a signed link: the visit, its .ics, moving it to another window, cancelling it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from tenure.field import links
from tenure.field.calendar import invitation
from tenure.field.models import Appointment, Status

View = Callable[..., HttpResponseBase]


def _errors(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return " ".join(m for ms in error.message_dict.values() for m in ms)
    return " ".join(error.messages)


def with_link(view: View) -> View:
    """Resolve the token to its appointment, or answer with why the link cannot be used."""

    @wraps(view)
    def wrapper(request: HttpRequest, token: str, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            appointment = links.appointment_for(token)
        except links.LinkRefused as refused:
            status = 410 if refused.gone else 400
            return render(request, "field/visit_refused.html", {"message": refused.message}, status=status)
        return view(request, appointment, token, *args, **kwargs)

    return wrapper


def _zone(appointment: Appointment) -> str:
    return appointment.customer.time_zone or (
        appointment.technician.time_zone if appointment.technician else "UTC"
    )


@require_http_methods(["GET"])
@with_link
def visit(request: HttpRequest, appointment: Appointment, token: str) -> HttpResponse:
    context = {
        "appointment": appointment,
        "token": token,
        "zone": _zone(appointment),
        "changeable": appointment.status in links.MOVABLE,
        "cancelled": appointment.status == Status.CANCELLED,
        "done": request.GET.get("done", "")[:40],
    }
    return render(request, "field/visit.html", context)


@require_http_methods(["GET"])
@with_link
def visit_ics(request: HttpRequest, appointment: Appointment, token: str) -> HttpResponse:
    manage = request.build_absolute_uri(f"/field/visit/{token}/")
    try:
        body = invitation(appointment, manage_link=manage)
    except ValueError as error:
        return render(request, "field/visit_refused.html", {"message": str(error)}, status=409)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{appointment.reference.lower()}.ics"'
    return response


@require_http_methods(["GET", "POST"])
@with_link
def visit_reschedule(request: HttpRequest, appointment: Appointment, token: str) -> HttpResponse:
    context: dict[str, Any] = {"appointment": appointment, "token": token, "zone": _zone(appointment)}
    status = 200
    if request.method == "POST":
        try:
            chosen = dt.datetime.fromisoformat(request.POST.get("window_start", ""))
            if chosen.tzinfo is None:
                raise ValueError
        except ValueError:
            context["problem"] = "Please choose one of the windows offered."
            status = 400
        else:
            try:
                moved = links.reschedule(appointment, chosen)
            except ValidationError as error:
                context["problem"] = _errors(error)
                status = 409
            else:
                return redirect(f"/field/visit/{links.token_for(moved)}/?done=moved")
    any_time = request.GET.get("any") == "1" or request.POST.get("any") == "1"
    try:
        context["offers"] = links.reschedule_offers(appointment, any_time=any_time)
    except ValidationError as error:
        context["offers"] = []
        context.setdefault("problem", _errors(error))
    context["any_time"] = any_time
    return render(request, "field/visit_reschedule.html", context, status=status)


@require_http_methods(["GET", "POST"])
@with_link
def visit_cancel(request: HttpRequest, appointment: Appointment, token: str) -> HttpResponse:
    context: dict[str, Any] = {"appointment": appointment, "token": token, "zone": _zone(appointment)}
    if request.method == "POST":
        try:
            links.cancel_by_customer(appointment)
        except ValidationError as error:
            context["problem"] = _errors(error)
            return render(request, "field/visit_cancel.html", context, status=409)
        return redirect(f"/field/visit/{token}/?done=cancelled")
    return render(request, "field/visit_cancel.html", context)
