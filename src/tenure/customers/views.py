"""Customer pages: the list, one customer with their whole timeline, and merging duplicates."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from tenure.core.access import staff_page
from tenure.core.models import Channel
from tenure.customers import selectors, services
from tenure.customers.forms import CustomerForm, LifecycleForm
from tenure.customers.models import Customer, Lifecycle

LIST_PAGE = 50


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


def _customer_or_404(customer_id: int) -> Customer:
    try:
        return selectors.customer_by_id(customer_id)
    except Customer.DoesNotExist:
        raise Http404("no such customer") from None


@require_GET
@staff_page("customers.view_customer")
def customer_list(request: HtmxRequest) -> HttpResponse:
    search = request.GET.get("q", "")[:200]
    lifecycle = request.GET.get("lifecycle", "")
    if lifecycle not in Lifecycle.values:
        lifecycle = ""
    page = Paginator(selectors.customers(search=search, lifecycle=lifecycle), LIST_PAGE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "q": search, "lifecycle": lifecycle, "lifecycles": Lifecycle.choices}
    template = "customers/list.html#results" if request.htmx else "customers/list.html"
    return render(request, template, context)


@require_GET
@staff_page("customers.view_customer")
def customer_detail(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(customer_id)
    if customer.pk != customer_id:
        return redirect("customers:detail", customer_id=customer.pk)
    context: dict[str, object] = {
        "customer": customer,
        "identities": customer.identities.order_by("channel", "value"),
        "contacts": customer.contacts.all(),
        "tags": customer.tags.all(),
        "can_see_timeline": request.user.has_perm("core.view_event"),
        "can_merge": request.user.has_perm("customers.merge_customer"),
        "can_change": request.user.has_perm("customers.change_customer"),
        "lifecycle_form": LifecycleForm(initial={"lifecycle": customer.lifecycle}),
    }
    if context["can_see_timeline"]:
        kinds, channels = selectors.timeline_facets(customer)
        context.update(
            page=selectors.timeline(customer),
            kinds=kinds,
            channels=[
                (value, Channel(value).label if value in Channel.values else value) for value in channels
            ],
        )
    return render(request, "customers/detail.html", context)


@require_GET
@staff_page("customers.view_customer", "core.view_event")
def customer_timeline(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The timeline list alone, for htmx: filtered by kind and channel, continued by cursor."""
    customer = _customer_or_404(customer_id)
    kinds = [kind for kind in request.GET.getlist("kind") if kind]
    channels = [channel for channel in request.GET.getlist("channel") if channel]
    try:
        page = selectors.timeline(customer, kinds=kinds, channels=channels, cursor=request.GET.get("cursor"))
    except ValidationError as error:
        return HttpResponse(error.messages[0], status=400)
    template = (
        "customers/detail.html#timeline-more"
        if request.GET.get("cursor")
        else "customers/detail.html#timeline-list"
    )
    return render(
        request,
        template,
        {"customer": customer, "page": page, "kinds_filter": kinds, "channels_filter": channels},
    )


@require_POST
@staff_page("customers.merge_customer")
def customer_merge(request: HttpRequest, customer_id: int) -> HttpResponse:
    keep = _customer_or_404(customer_id)
    try:
        other_id = int(request.POST.get("other", ""))
        other = Customer.objects.get(pk=other_id)
        services.merge_customers(keep=keep, merge=other, by=request.user)
    except (ValueError, Customer.DoesNotExist):
        messages.error(request, "Enter the number of an existing customer to merge into this one.")
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Merged customer #{other.pk} ({other.name}) into this one.")
    return redirect("customers:detail", customer_id=keep.pk)


def _apply_errors(form: CustomerForm | LifecycleForm, error: ValidationError) -> None:
    """Show a service's validation errors on the form field they name (or on top of the form)."""
    for field, messages_ in (
        error.message_dict.items() if hasattr(error, "error_dict") else [("", error.messages)]
    ):
        target = field.split(".")[0] if field.split(".")[0] in form.fields else None
        if field.startswith("identities"):
            target = None
        for message in messages_:
            form.add_error(target, message)


@staff_page("customers.add_customer")
def customer_create(request: HttpRequest) -> HttpResponse:
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        identities = [(channel, data[channel]) for channel in ("email", "phone") if data[channel]]
        try:
            customer = services.create_customer(
                name=data["name"],
                kind=data["kind"],
                identities=identities,
                tags=data["tags"],
                address=data["address"],
                preferred_channel=data["preferred_channel"],
                language=data["language"],
                quiet_hours_start=data["quiet_hours_start"],
                quiet_hours_end=data["quiet_hours_end"],
                opted_out_purposes=data["opted_out_purposes"],
                by=request.user,
            )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, f"Created {customer.name}.")
            return redirect("customers:detail", customer_id=customer.pk)
    return render(request, "customers/form.html", {"form": form, "title": "New customer"})


@staff_page("customers.change_customer")
def customer_edit(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(customer_id)
    initial = {
        "name": customer.name,
        "kind": customer.kind,
        "address": customer.address,
        "preferred_channel": customer.preferred_channel,
        "language": customer.language,
        "quiet_hours_start": customer.quiet_hours_start,
        "quiet_hours_end": customer.quiet_hours_end,
        "opted_out_purposes": customer.opted_out_purposes,
        "tags": ", ".join(customer.tags.values_list("name", flat=True)),
    }
    form = CustomerForm(request.POST or None, initial=initial)
    form.fields["email"].help_text = form.fields["phone"].help_text = "Adds another identity"
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                services.update_customer(
                    customer=customer,
                    by=request.user,
                    **{field: data[field] for field in initial if field != "tags"},
                )
                services.set_tags(customer=customer, names=data["tags"])
                for channel in ("email", "phone"):
                    if data[channel]:
                        services.add_identity(
                            customer=customer, channel=channel, value=data[channel], by=request.user
                        )
        except ValidationError as error:
            _apply_errors(form, error)
        else:
            messages.success(request, "Saved.")
            return redirect("customers:detail", customer_id=customer.pk)
    return render(
        request, "customers/form.html", {"form": form, "title": f"Edit {customer.name}", "customer": customer}
    )


@require_POST
@staff_page("customers.change_customer")
def customer_lifecycle(request: HttpRequest, customer_id: int) -> HttpResponse:
    customer = _customer_or_404(customer_id)
    form = LifecycleForm(request.POST)
    if form.is_valid():
        try:
            services.set_lifecycle(
                customer=customer,
                lifecycle=form.cleaned_data["lifecycle"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Now {customer.get_lifecycle_display().lower()}.")
    else:
        messages.error(request, "Choose a lifecycle stage.")
    return redirect("customers:detail", customer_id=customer.pk)
