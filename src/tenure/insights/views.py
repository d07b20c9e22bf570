"""Insights pages: the retention dashboard and the at-risk list."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tenure.core.access import staff_page
from tenure.insights import dashboard, selectors, services
from tenure.insights.actions import HIGH_RISK
from tenure.insights.forms import RetentionTargetForm

SET_TARGET = "insights.add_retentiontarget"
# Seeing the at-risk list and enrolling its customers in the journey their reasons call for (agents, managers).
ACT_ON_RISK = "insights.act_on_risk"

AT_RISK_PAGE = 50


@require_GET
@staff_page("insights.view_insights")
def dashboard_page(request: HttpRequest) -> HttpResponse:
    return _dashboard(request, _target_form(request))


def _target_form(request: HttpRequest, data: object = None) -> RetentionTargetForm | None:
    """The target form for those allowed to set one, filled with the current target."""
    if not request.user.has_perm(SET_TARGET):
        return None
    current = selectors.current_target()
    initial = (
        {}
        if current is None
        else {
            "baseline_annual_churn": current.baseline_annual_churn,
            "target_annual_churn": current.target_annual_churn,
            "start_date": current.start_date,
            "target_date": current.target_date,
        }
    )
    return RetentionTargetForm(data, initial=initial)  # type: ignore[arg-type]


def _dashboard(request: HttpRequest, form: RetentionTargetForm | None, status: int = 200) -> HttpResponse:
    context = dashboard.build_context() | {"target_form": form}
    return render(request, "insights/dashboard.html", context, status=status)


@require_POST
@staff_page("insights.view_insights", SET_TARGET)
def set_target(request: HttpRequest) -> HttpResponse:
    form = _target_form(request, request.POST)
    assert form is not None  # the decorator checked the permission
    if form.is_valid():
        try:
            services.set_retention_target(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return HttpResponseRedirect(reverse("insights:dashboard") + "#target")
    return _dashboard(request, form, status=400)


@require_GET
@staff_page(ACT_ON_RISK, "customers.view_customer")
def at_risk_page(request: HttpRequest) -> HttpResponse:
    return _at_risk(request)


def _at_risk(request: HttpRequest, status: int = 200) -> HttpResponse:
    try:
        min_probability = min(max(float(request.GET.get("min", HIGH_RISK)), 0.0), 1.0)
    except ValueError:
        min_probability = HIGH_RISK
    search = request.GET.get("q", "")[:200]
    page = Paginator(
        selectors.at_risk(min_probability=min_probability, search=search), AT_RISK_PAGE
    ).get_page(request.GET.get("page"))
    steps = selectors.next_steps(page)
    context = {
        "page": page,
        "rows": [(score, steps[score.customer_id]) for score in page],
        "min": min_probability,
        "q": search,
        "model": selectors.active_model(),
    }
    return render(request, "insights/at_risk.html", context, status=status)


@require_POST
@staff_page(ACT_ON_RISK, "customers.view_customer")
def enroll_page(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Enroll a customer at risk in the journey their top reason calls for; back to the list either way."""
    assert isinstance(request.user, User)
    try:
        journey = services.enroll_at_risk(customer_id=customer_id, actor=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _at_risk(request, status=400)
    messages.success(request, f"Enrolled in {journey.name}.")
    return HttpResponseRedirect(reverse("insights:at_risk"), status=303)
