"""The dispatcher board: a day of technicians by time, re-plan, move a job (checked), the map, and the
customers' recent unhappy follow-up answers."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tenure.core.access import staff_page
from tenure.field.models import Appointment, Technician
from tenure.field.routing.board import BoardDay, board_day, today
from tenure.field.routing.mapview import colour, route_map
from tenure.field.routing.planning import MoveRefused, business_zone, move_job, replan
from tenure.field.selectors import follow_ups

BOARD_PERMS = ("field.view_dayplan", "field.change_dayplan")


class MoveForm(forms.Form):
    appointment = forms.ModelChoiceField(queryset=Appointment.objects.all(), label="Job")
    technician = forms.ModelChoiceField(queryset=Technician.objects.filter(active=True), label="Technician")
    start = forms.TimeField(label="Start at", widget=forms.TimeInput(attrs={"type": "time"}))


def _day(request: HttpRequest) -> dt.date:
    raw = request.GET.get("date") or request.POST.get("date") or ""
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return today()


def _render(request: HttpRequest, day: dt.date, *, status: int = 200, **extra: object) -> HttpResponse:
    board: BoardDay = board_day(day)
    technicians = [lane.technician for lane in board.lanes]
    context = {
        "board": board,
        "colours": {t.pk: colour(i) for i, t in enumerate(technicians)},
        "map": route_map(technicians, board.stops, board.unplanned),
        "previous": day - dt.timedelta(days=1),
        "next": day + dt.timedelta(days=1),
        "form": extra.pop("form", None) or MoveForm(),
        "follow_ups": follow_ups(timezone.now()),
        **extra,
    }
    partial = "field/board.html#board" if request.headers.get("HX-Request") else "field/board.html"
    return render(request, partial, context, status=status)


@require_GET
@staff_page(*BOARD_PERMS)
def board(request: HttpRequest) -> HttpResponse:
    return _render(request, _day(request))


@require_POST
@staff_page(*BOARD_PERMS)
def board_replan(request: HttpRequest) -> HttpResponse:
    day = _day(request)
    result = replan(day, user=request.user)  # type: ignore[arg-type]
    note = f"Planned {result.planned} job(s); {len(result.unassigned)} left out."
    return _render(request, day, notice=note, left_out=result.unassigned)


@require_POST
@staff_page(*BOARD_PERMS)
def board_move(request: HttpRequest) -> HttpResponse:
    day = _day(request)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return _render(request, day, form=form, status=400)
    start_at = dt.datetime.combine(day, form.cleaned_data["start"], tzinfo=business_zone())
    appointment: Appointment = form.cleaned_data["appointment"]
    technician: Technician = form.cleaned_data["technician"]
    try:
        move_job(appointment.pk, technician.pk, start_at, user=request.user)  # type: ignore[arg-type]
    except MoveRefused as refused:
        return _render(request, day, form=form, refused=refused.reasons, status=409)
    note = f"{appointment.reference} now starts {start_at:%H:%M} with {technician.name}."
    return _render(request, day, notice=note)
