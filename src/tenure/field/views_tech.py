"""The technician's phone page: today's jobs in route order and one button per thing that happens on a job.

Only a signed-in user linked to a technician sees it, and only their own jobs: another technician's job
answers 404, as if it did not exist. Every button calls the live-day services, which re-predict the rest
of the route and tell customers about delays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tenure.core.access import staff_page
from tenure.field import live, selectors
from tenure.field.models import FINAL_STATUSES, Appointment, Technician
from tenure.field.routing.planning import business_zone
from tenure.field.routing.tasks import request_replan

ACTIONS: dict[str, Callable[[Appointment, HttpRequest], live.Outcome]] = {
    "on_my_way": lambda job, _request: live.on_my_way(job),
    "arrived": lambda job, _request: live.arrived(job),
    "complete": lambda job, request: live.complete(job, note=request.POST.get("note", "")[:2000]),
    "not_fixed": lambda job, request: live.mark_not_fixed(job, reason=request.POST.get("reason", "")[:2000]),
}


def _me(request: HttpRequest) -> Technician:
    technician = selectors.technician_of(request.user)
    if technician is None:
        raise PermissionDenied("this page is for technicians; your sign-in is not linked to one")
    return technician


def _today(technician: Technician) -> dt.date:
    return timezone.now().astimezone(ZoneInfo(technician.time_zone)).date()


def _page(
    request: HttpRequest, technician: Technician, *, status: int = 200, **extra: object
) -> HttpResponse:
    jobs = selectors.route_of(technician, _today(technician))
    current = next((j for j in jobs if j.status not in FINAL_STATUSES), None)
    context = {
        "technician": technician,
        "jobs": jobs,
        "current": current,
        "zone": technician.time_zone,
        **extra,
    }
    template = "field/today.html#jobs" if request.headers.get("HX-Request") else "field/today.html"
    return render(request, template, context, status=status)


@require_GET
@staff_page("field.view_appointment")
def today(request: HttpRequest) -> HttpResponse:
    return _page(request, _me(request))


def _running_long(job: Appointment, request: HttpRequest) -> live.Outcome:
    raw = request.POST.get("minutes", "").strip()
    if not raw.isdigit():
        raise ValidationError({"minutes": "say how many more minutes you need (a whole number)"})
    outcome = live.running_long(job, extra_minutes=int(raw))
    if job.window_start is not None:  # the rest of the day may now be better served by someone else
        request_replan(job.window_start.astimezone(business_zone()).date())
    return outcome


@require_POST
@staff_page("field.view_appointment")
def report(request: HttpRequest, appointment_id: int, action: str) -> HttpResponse:
    technician = _me(request)
    handler = _running_long if action == "running_long" else ACTIONS.get(action)
    if handler is None:
        raise Http404("no such action")
    job = Appointment.objects.filter(pk=appointment_id, technician=technician).first()
    if job is None:
        raise Http404("no such job on your list")
    try:
        outcome = handler(job, request)
    except ValidationError as error:
        messages = (
            [m for ms in error.message_dict.values() for m in ms]
            if hasattr(error, "error_dict")
            else error.messages
        )
        return _page(request, technician, status=409, problem=" ".join(messages), problem_job=job.pk)
    return _page(
        request,
        technician,
        done=f"{job.reference}: {outcome.message}",
        warnings=outcome.warnings,
        done_job=job.pk,
    )
