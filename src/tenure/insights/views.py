"""Insights pages: the retention dashboard and the at-risk list."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tenure.core.access import staff_page
from tenure.insights import dashboard, selectors
from tenure.insights.actions import HIGH_RISK

AT_RISK_PAGE = 50


@require_GET
@staff_page("insights.view_insights")
def dashboard_page(request: HttpRequest) -> HttpResponse:
    return render(request, "insights/dashboard.html", dashboard.build_context())


@require_GET
@staff_page("insights.view_insights", "customers.view_customer")
def at_risk_page(request: HttpRequest) -> HttpResponse:
    try:
        min_probability = min(max(float(request.GET.get("min", HIGH_RISK)), 0.0), 1.0)
    except ValueError:
        min_probability = HIGH_RISK
    search = request.GET.get("q", "")[:200]
    page = Paginator(
        selectors.at_risk(min_probability=min_probability, search=search), AT_RISK_PAGE
    ).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "min": min_probability,
        "q": search,
        "model": selectors.active_model(),
    }
    return render(request, "insights/at_risk.html", context)
