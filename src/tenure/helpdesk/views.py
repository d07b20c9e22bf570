"""Help desk pages (the agent console lives in helpdesk.console): the manager's report with a chart."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tenure.core.access import staff_page
from tenure.helpdesk import metrics
from tenure.helpdesk.charts import columns_with_share
from tenure.helpdesk.selectors import open_callbacks, requests_for_view

PERIODS = (7, 30, 90, 365)


@staff_page("helpdesk.manage_helpdesk")
def report(request: HttpRequest) -> HttpResponse:
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    days = days if days in PERIODS else 30
    until = timezone.now()
    outcome = metrics.compute(until - dt.timedelta(days=days), until)
    context = {
        "m": outcome,
        "days": days,
        "periods": PERIODS,
        "chart": columns_with_share(outcome.daily, title=f"Requests per day, last {days} days"),
        "overdue_callbacks": open_callbacks(overdue_only=True).count(),
        "triage_queue": requests_for_view("triage").count(),
        "breached_open": requests_for_view("breached").count(),
    }
    return render(request, "helpdesk/report.html", context)
