"""Journey pages: the list, one journey (document, results, failures), templates with preview, tasks."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenure.core.access import require_perms, staff_page
from tenure.customers import selectors as customer_selectors
from tenure.customers.models import Customer, Lifecycle
from tenure.journeys import selectors, services
from tenure.journeys.actors import acting_user
from tenure.journeys.charts import holdout_chart
from tenure.journeys.documents import dump_yaml, export_document, journey_to_document, parse_yaml
from tenure.journeys.models import Journey, MessageTemplate, Task
from tenure.journeys.rendering import RenderError, template_context
from tenure.journeys.rendering import render as render_message
from tenure.journeys.reporting import journey_report

VIEW, EDIT, REPORT = "journeys.view_journey", "journeys.change_journey", "journeys.view_journey_report"


def _journey_or_404(key: str) -> Journey:
    journey = selectors.journey_by_key(key)
    if journey is None:
        raise Http404("no such journey")
    return journey


def _errors(error: ValidationError) -> list[tuple[str, str]]:
    if hasattr(error, "error_dict"):
        return [(field, message) for field, msgs in error.message_dict.items() for message in msgs]
    return [("", message) for message in error.messages]


@require_GET
@staff_page(VIEW)
def journey_list(request: HttpRequest) -> HttpResponse:
    return render(request, "journeys/list.html", {"rows": selectors.journey_rows()})


def _detail_context(request: HttpRequest, journey: Journey, document: str | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "journey": journey,
        "trigger": selectors.describe_trigger(journey),
        "document": document if document is not None else dump_yaml(journey_to_document(journey)),
        "failed": selectors.failed_enrollments(journey),
        "recent": selectors.recent_enrollments(journey, 20),
        "can_edit": request.user.has_perm(EDIT),
        "lifecycles": Lifecycle.choices,
    }
    if request.user.has_perm(REPORT):
        report = journey_report(journey)
        context["report"] = report
        context["chart"] = holdout_chart(report.horizons, f"Retention of {journey.name}: treated vs holdout")
    return context


@require_GET
@staff_page(VIEW)
def journey_detail(request: HttpRequest, key: str) -> HttpResponse:
    return render(request, "journeys/detail.html", _detail_context(request, _journey_or_404(key)))


def _document_from(text: str) -> dict[str, Any]:
    document = parse_yaml(text)
    journeys = document.get("journeys", [])
    if len(journeys) != 1 or set(document) - {"journeys"}:
        raise ValidationError(
            {"document": "the editor takes one journey (templates are edited on their own page)"}
        )
    return dict(journeys[0])


@require_POST
@staff_page(EDIT)
def journey_validate(request: HttpRequest) -> HttpResponse:
    """htmx: check the document as it is typed, without saving."""
    from tenure.journeys.documents import clean_journey

    problems: list[tuple[str, str]] = []
    try:
        known = set(MessageTemplate.objects.values_list("key", flat=True))
        clean_journey(_document_from(request.POST.get("document", "")), known)
    except ValidationError as error:
        problems = _errors(error)
    return render(request, "journeys/_problems.html", {"problems": problems, "checked": True})


@require_http_methods(["GET", "POST"])
@staff_page(EDIT)
def journey_edit(request: HttpRequest, key: str | None = None) -> HttpResponse:
    journey = _journey_or_404(key) if key else None
    if request.method == "GET":
        blank = "key: new-journey\nname: New journey\ntrigger: {event: order.placed}\nsteps:\n  - {id: hello, type: send, template: check-in}\n"
        document = dump_yaml(journey_to_document(journey)) if journey else blank
        return render(request, "journeys/edit.html", {"journey": journey, "document": document})
    text = request.POST.get("document", "")
    try:
        saved = services.save_journey(data=_document_from(text), by=acting_user(request), journey=journey)
    except ValidationError as error:
        context = {"journey": journey, "document": text, "problems": _errors(error)}
        return render(request, "journeys/edit.html", context, status=422)
    messages.success(request, f"Saved {saved.name}.")
    return redirect("journeys:detail", key=saved.key)


@require_POST
@staff_page(EDIT)
def journey_toggle(request: HttpRequest, key: str) -> HttpResponse:
    journey = _journey_or_404(key)
    document = journey_to_document(journey)
    document["active"] = not journey.is_active
    services.save_journey(data=document, by=acting_user(request), journey=journey)
    messages.success(request, f"{journey.name} is now {'on' if document['active'] else 'off'}.")
    return redirect("journeys:detail", key=key)


@require_POST
@staff_page("journeys.add_enrollment")
def journey_enroll(request: HttpRequest, key: str) -> HttpResponse:
    journey = _journey_or_404(key)
    try:
        customer = customer_selectors.customer_by_id(int(request.POST.get("customer", "")))
        enrollment = services.enroll_manually(customer=customer, journey=journey, by=acting_user(request))
    except (ValueError, Customer.DoesNotExist):
        messages.error(request, "No customer with that number.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        if enrollment is None:
            messages.error(request, f"{customer.name} cannot enter {journey.name} again yet (re-entry rule).")
        else:
            messages.success(request, f"Enrolled {customer.name}.")
    return redirect("journeys:detail", key=key)


@require_POST
@staff_page("journeys.add_enrollment", EDIT)
def journey_broadcast(request: HttpRequest, key: str) -> HttpResponse:
    journey = _journey_or_404(key)
    try:
        count = services.broadcast(
            journey=journey,
            lifecycle=request.POST.get("lifecycle", ""),
            tag=request.POST.get("tag", ""),
            rep=request.POST.get("rep", ""),
            subject=request.POST.get("subject", ""),
            message=request.POST.get("message", ""),
            by=acting_user(request),
        )
    except ValidationError as error:
        for field, message in _errors(error):
            messages.error(request, f"{field}: {message}" if field else message)
    else:
        messages.success(request, f"{count} customers enrolled; messages go out with the next sweep.")
    return redirect("journeys:detail", key=key)


@require_GET
@staff_page(VIEW)
def journeys_export(request: HttpRequest) -> HttpResponse:
    keys = request.GET.getlist("key")
    journeys = list(Journey.objects.filter(key__in=keys) if keys else Journey.objects.all())
    response = HttpResponse(
        dump_yaml(export_document(journeys)), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="journeys.yaml"'
    return response


@require_http_methods(["GET", "POST"])
@staff_page(EDIT)
def journeys_import(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "journeys/import.html", {})
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ValidationError({"file": "choose a YAML file"})
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError({"file": "the file is not UTF-8 text"}) from None
        result = services.import_yaml(
            text, by=acting_user(request), replace=not request.POST.get("keep_existing")
        )
    except ValidationError as error:
        return render(request, "journeys/import.html", {"problems": _errors(error)}, status=422)
    messages.success(request, f"Imported: {result.summary()}.")
    return redirect("journeys:list")


@require_GET
@staff_page("journeys.view_messagetemplate")
def template_list(request: HttpRequest) -> HttpResponse:
    return render(request, "journeys/templates.html", {"templates": selectors.templates()})


def _template_or_404(key: str, language: str) -> MessageTemplate | None:
    return MessageTemplate.objects.filter(key=key, language=language).first()


@require_http_methods(["GET", "POST"])
@staff_page("journeys.view_messagetemplate")
def template_edit(request: HttpRequest, key: str = "", language: str = "en") -> HttpResponse:
    template = _template_or_404(key, language) if key else None
    if key and template is None:
        raise Http404("no such template")
    data = {
        "key": key,
        "language": language,
        "subject": template.subject if template else "",
        "body": template.body if template else "",
    }
    problems: list[tuple[str, str]] = []
    if request.method == "POST":
        require_perms(request, "journeys.change_messagetemplate")
        data = {name: request.POST.get(name, "") for name in ("key", "language", "subject", "body")}
        try:
            saved = services.save_template(data=data, by=acting_user(request))
        except ValidationError as error:
            problems = _errors(error)
        else:
            messages.success(request, f"Saved template {saved}.")
            return redirect("journeys:template", key=saved.key, language=saved.language)
    context = {
        "template": template,
        "data": data,
        "problems": problems,
        "can_edit": request.user.has_perm("journeys.change_messagetemplate"),
    }
    return render(request, "journeys/template_edit.html", context, status=422 if problems else 200)


def _preview_customer(request: HttpRequest) -> Customer:
    try:
        return customer_selectors.customer_by_id(int(request.POST.get("customer", "")))
    except (ValueError, Customer.DoesNotExist):
        raise ValidationError({"customer": "no customer with that number"}) from None


@require_POST
@staff_page("journeys.view_messagetemplate", "customers.view_customer")
def template_preview(request: HttpRequest) -> HttpResponse:
    """htmx: render the template as typed against a real customer (their latest context for it)."""
    context: dict[str, Any] = {}
    try:
        customer = _preview_customer(request)
        values = template_context(customer, selectors.preview_context(customer, request.POST.get("key", "")))
        context["subject"] = (
            render_message(request.POST.get("subject", ""), values) if request.POST.get("subject") else ""
        )
        context["body"] = render_message(request.POST.get("body", ""), values)
        context["customer"] = customer
    except (ValidationError, RenderError) as error:
        context["error"] = " ".join(error.messages) if isinstance(error, ValidationError) else str(error)
    return render(request, "journeys/_preview.html", context)


@require_POST
@staff_page("journeys.change_messagetemplate", "customers.view_customer")
def template_test_send(request: HttpRequest, key: str, language: str) -> HttpResponse:
    template = _template_or_404(key, language)
    if template is None:
        raise Http404("no such template")
    try:
        customer = _preview_customer(request)
        message = services.test_send(template=template, customer=customer, by=acting_user(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Test message queued to {message.recipient}.")
    return redirect("journeys:template", key=key, language=language)


@require_GET
@staff_page("journeys.view_task")
def task_list(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    tasks = selectors.open_tasks(owner=acting_user(request) if mine else None)[:200]
    return render(request, "journeys/tasks.html", {"tasks": tasks, "mine": mine})


@require_POST
@staff_page("journeys.change_task")
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise Http404("no such task")
    with transaction.atomic():
        services.complete_task(task=task, by=acting_user(request))
    if getattr(request, "htmx", False):
        return HttpResponse("")
    messages.success(request, f"Done: {task.title}.")
    return redirect("journeys:tasks")
