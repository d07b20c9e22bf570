"""Help desk outcomes over a period: repeat contacts, first-contact resolution, reopens, times and SLA met.

Times are in business hours of each request's SLA calendar (see sla.hours_for). A request counts in
the period it was created in. First-contact resolution: resolved, never reopened, no repeat contact,
and exactly one answer from an agent.
"""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Count, Q

from tenure.core.business_hours import BusinessHours
from tenure.helpdesk import sla
from tenure.helpdesk.models import Direction, Request, Status


@dataclass
class DepartmentRow:
    department: str
    requests: int
    first_response_met_pct: float | None
    resolution_met_pct: float | None


@dataclass
class Metrics:
    since: dt.datetime
    until: dt.datetime
    requests: int
    resolved: int
    repeat_contact_rate: float | None
    first_contact_resolution: float | None
    reopen_rate: float | None
    first_response_hours_median: float | None
    first_response_hours_mean: float | None
    resolution_hours_median: float | None
    resolution_hours_mean: float | None
    first_response_met_pct: float | None
    resolution_met_pct: float | None
    by_department: list[DepartmentRow] = field(default_factory=list)
    # (day, requests created, share of first responses on time) for the chart
    daily: list[tuple[str, int, float | None]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat()
        data["until"] = self.until.isoformat()
        return data


def _share(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _pct(flags: list[bool]) -> float | None:
    return round(100 * sum(flags) / len(flags), 1) if flags else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


def compute(since: dt.datetime, until: dt.datetime) -> Metrics:
    rows = list(
        Request.objects.filter(created_at__gte=since, created_at__lt=until, merged_into__isnull=True)
        .select_related("sla_policy__calendar", "department__team__calendar", "team__calendar", "department")
        .annotate(
            agent_answers=Count(
                "messages", filter=Q(messages__direction=Direction.OUTBOUND, messages__author__isnull=False)
            )
        )
        .order_by("created_at")
    )
    calendars: dict[int | None, BusinessHours] = {}

    def hours(request: Request) -> BusinessHours:
        policy = request.sla_policy
        key = policy.calendar_id if policy and policy.calendar_id else None
        if key is None and request.department and request.department.team:
            key = request.department.team.calendar_id
        if key not in calendars:
            calendars[key] = sla.hours_for(request)
        return calendars[key]

    resolved = [r for r in rows if r.status in (Status.RESOLVED, Status.CLOSED) and r.resolved_at]
    first_hours: list[float] = []
    resolution_hours: list[float] = []
    fr_met: list[bool] = []
    res_met: list[bool] = []
    departments: dict[str, list[Request]] = {}
    days: dict[str, list[Request]] = {}
    for request in rows:
        calendar = hours(request)
        if request.first_response_at:
            spent = calendar.business_time_between(request.created_at, request.first_response_at)
            first_hours.append(spent.total_seconds() / 3600)
        if request.resolved_at and request in resolved:
            spent = calendar.business_time_between(request.created_at, request.resolved_at)
            resolution_hours.append(spent.total_seconds() / 3600)
        fr = sla.met(request, "first_response")
        if fr is not None:
            fr_met.append(fr)
        res = sla.met(request, "resolution")
        if res is not None:
            res_met.append(res)
        departments.setdefault(
            request.department.name if request.department else "(triage queue)", []
        ).append(request)
        days.setdefault(request.created_at.date().isoformat(), []).append(request)

    def met_pct(requests: list[Request], clock: str) -> float | None:
        return _pct([m for m in (sla.met(r, clock) for r in requests) if m is not None])

    fcr = [r for r in resolved if r.reopened_count == 0 and r.repeat_contacts == 0 and r.agent_answers == 1]
    return Metrics(
        since=since,
        until=until,
        requests=len(rows),
        resolved=len(resolved),
        repeat_contact_rate=_share(sum(1 for r in rows if r.repeat_contacts), len(rows)),
        first_contact_resolution=_share(len(fcr), len(resolved)),
        reopen_rate=_share(sum(1 for r in resolved if r.reopened_count), len(resolved)),
        first_response_hours_median=_median(first_hours),
        first_response_hours_mean=_mean(first_hours),
        resolution_hours_median=_median(resolution_hours),
        resolution_hours_mean=_mean(resolution_hours),
        first_response_met_pct=_pct(fr_met),
        resolution_met_pct=_pct(res_met),
        by_department=[
            DepartmentRow(name, len(group), met_pct(group, "first_response"), met_pct(group, "resolution"))
            for name, group in sorted(departments.items())
        ],
        daily=[(day, len(group), met_pct(group, "first_response")) for day, group in sorted(days.items())],
    )
