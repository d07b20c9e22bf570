"""Reads for the field app: who may see which appointments, today's route, jobs at risk, and the
customers' unhappy follow-up answers the dispatcher has to act on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Q, QuerySet

from tenure.field.live import CANNOT_KEEP, NOTICE_THRESHOLD
from tenure.field.models import OPEN_STATUSES, Appointment, DayPlan, Technician
from tenure.surveys.models import Survey, SurveyKind, SurveyStatus

SEE_ALL = ("field.add_appointment", "field.change_appointment")


def technician_of(user: User | AnonymousUser) -> Technician | None:
    if not user.is_authenticated:
        return None
    return Technician.objects.filter(user_id=user.pk).first()


def sees_all(user: User | AnonymousUser) -> bool:
    return user.is_authenticated and any(user.has_perm(perm) for perm in SEE_ALL)


def visible_appointments(user: User | AnonymousUser) -> QuerySet[Appointment]:
    """Everything for staff who book or dispatch; a technician's own jobs for technicians; else nothing."""
    base = Appointment.objects.select_related("job_type", "technician", "customer")
    if sees_all(user):
        return base
    technician = technician_of(user)
    if technician is None or not user.has_perm("field.view_appointment"):
        return base.none()
    return base.filter(technician=technician)


def route_of(technician: Technician, date: dt.date) -> list[Appointment]:
    plan = DayPlan.objects.filter(technician=technician, date=date).first()
    if plan is None:
        return []
    return list(plan.stops.select_related("job_type", "customer").order_by("position", "id"))


def at_risk(
    now: dt.datetime, threshold: float = NOTICE_THRESHOLD, horizon: dt.timedelta = dt.timedelta(hours=24)
) -> QuerySet[Appointment]:
    """Open jobs whose (announced) window is likely to be missed, or that nobody can reach today."""
    return (
        Appointment.objects.filter(status__in=OPEN_STATUSES)
        # A return visit nobody could book has no window yet but still needs the dispatcher.
        .filter(Q(window_start__lt=now + horizon) | Q(window_start__isnull=True))
        .filter(Q(miss_probability__gt=threshold) | Q(notice_reason__startswith=CANNOT_KEEP))
        .exclude(window_end__lt=now - horizon)
        .select_related("job_type", "technician", "customer")
        .order_by("-miss_probability", "window_start")
    )


FOLLOW_UP_PERIOD = dt.timedelta(days=14)
SUBJECT = "appointment:"


@dataclass(frozen=True)
class FollowUp:
    """An unhappy answer to a job's follow-up survey, the job it is about, and its return visit if any."""

    survey: Survey
    appointment: Appointment
    revisit: Appointment | None

    @property
    def action(self) -> str:
        if self.survey.fixed is not False:
            return "call the customer back"
        if self.revisit is None:
            return "not fixed: book a return visit"
        if self.revisit.window_start is None:
            return "not fixed: no return visit could be booked, call the customer"
        return f"not fixed: return visit {self.revisit.reference} booked"


def follow_ups(now: dt.datetime, period: dt.timedelta = FOLLOW_UP_PERIOD) -> list[FollowUp]:
    """Job follow-up answers of the last `period` that say not fixed or give a low score, newest first."""
    answered = Survey.objects.filter(
        kind=SurveyKind.JOB_FOLLOW_UP,
        status=SurveyStatus.ANSWERED,
        answered_at__gte=now - period,
        answered_at__lte=now,
        subject_ref__startswith=SUBJECT,
    ).order_by("-answered_at", "-id")
    unhappy = [s for s in answered if s.unhappy and s.subject_ref.removeprefix(SUBJECT).isdigit()]
    ids = {int(s.subject_ref.removeprefix(SUBJECT)) for s in unhappy}
    jobs = Appointment.objects.select_related("job_type", "technician", "customer").in_bulk(ids)
    revisits: dict[int, Appointment] = {}
    for visit in Appointment.objects.filter(revisit_of_id__in=ids).order_by("id"):
        assert visit.revisit_of_id is not None
        revisits[visit.revisit_of_id] = visit  # the latest return visit for each job
    return [
        FollowUp(s, jobs[job_id], revisits.get(job_id))
        for s in unhappy
        if (job_id := int(s.subject_ref.removeprefix(SUBJECT))) in jobs
    ]
