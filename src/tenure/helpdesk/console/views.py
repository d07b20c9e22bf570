"""Console pages: the inbox (saved views), one conversation, and the actions an agent takes on it.

Every action is a POST answered with the refreshed part of the page for htmx, or a redirect back to
the conversation without it. Bad input comes back as the form with its errors; nothing is stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from tenure.core.access import staff_page
from tenure.helpdesk.console import actions, queues, selectors
from tenure.helpdesk.console.access import VIEW, WORK
from tenure.helpdesk.console.forms import (
    AssignForm,
    CallForm,
    MacroForm,
    NoteForm,
    ReplyForm,
    StatusForm,
    reply_channels,
)
from tenure.helpdesk.models import Macro, Request


class HtmxRequest(HttpRequest):
    htmx: HtmxDetails


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 10_000))
    except ValueError:
        return 1


@dataclass(frozen=True)
class Row:
    """One row of a saved view with its link and times already formatted.

    In the template, the `date` filter and the `{% url %}` tag took over half the time to draw 50
    rows. The text is the same: `dateformat.format` in the active time zone and language is what the
    filter runs, minus its per-call look-up of the format among the locale's formats.
    """

    item: Any  # a Request, or a Callback in the call-backs view
    href: str
    due_iso: str = ""
    due: str = ""
    last_iso: str = ""
    last: str = ""


def _stamp(value: dt.datetime | None, layout: str) -> tuple[str, str]:
    """`value|date:'c'` and `value|date:layout` in the active time zone, converting it once.

    The `c` format is `isoformat()` of the local time, which is what Django's dateformat runs for it.
    """
    if not value:
        return "", ""
    local = timezone.localtime(value)
    return local.isoformat(), dateformat.format(local, layout)


def _rows(view: str, page: queues.Page) -> list[Row]:
    def href(request_id: int) -> str:
        return reverse("console:conversation", args=[request_id])

    if view == "callbacks":
        return [Row(cb, href(cb.request_id), *_stamp(cb.due_at, "D j M H:i")) for cb in page.rows]
    return [
        Row(r, href(r.pk), *_stamp(r.next_due_at, "D H:i"), *_stamp(r.last_message_at, "j M H:i"))
        for r in page.rows
    ]


@require_GET
@staff_page(VIEW)
def inbox(request: HtmxRequest) -> HttpResponse:
    view = request.GET.get("view", "mine")
    if view not in queues.VIEW_SLUGS:
        view = "mine"
    now = timezone.now()
    page = queues.page(request.user, view, _page_number(request.GET.get("page")), now=now)
    context: dict[str, Any] = {
        "view": queues.VIEW_SLUGS[view],
        "page": page,
        "rows": _rows(view, page),
        "now": now,
    }
    if request.htmx:
        return render(request, "helpdesk/console/inbox.html#queue", context)
    # The tab counts come in a request of their own right after, so the queue shows without waiting.
    context["tabs"] = [(v, None) for v in queues.VIEWS]
    return render(request, "helpdesk/console/inbox.html", context)


@require_GET
@staff_page(VIEW)
def counts(request: HttpRequest) -> HttpResponse:
    """The saved views with how many rows each holds (capped), for the inbox's tab bar."""
    view = request.GET.get("view", "mine")
    numbers = queues.counts(request.user)
    context = {
        "view": queues.VIEW_SLUGS.get(view, queues.VIEWS[0]),
        "tabs": [(v, numbers[v.slug]) for v in queues.VIEWS],
        "counted": True,
    }
    return render(request, "helpdesk/console/inbox.html#views", context)


def _forms(request: Request, channels: list[tuple[str, str]], **bound: Any) -> dict[str, Any]:
    default = request.channel if request.channel in dict(channels) else (channels[0][0] if channels else "")
    forms: dict[str, Any] = {
        "reply_form": ReplyForm(channels=channels, initial={"channel": default}),
        "note_form": NoteForm(),
        "status_form": StatusForm(initial={"status": request.status}),
        "assign_form": AssignForm(initial={"assignee": request.assignee_id}),
        "call_form": CallForm(),
        "macro_form": MacroForm(),
    }
    forms.update(bound)
    return forms


def _conversation_context(http: HttpRequest, request_id: int, **bound: Any) -> dict[str, Any]:
    found = selectors.conversation(http.user, request_id)
    channels = reply_channels(found.customer, found.identities)
    return {
        "c": found,
        "r": found.request,
        "can_work": http.user.has_perm(WORK),
        "channels": channels,
        "macros": list(Macro.objects.filter(active=True).order_by("name")),
        **_forms(found.request, channels, **bound),
    }


@require_GET
@staff_page(VIEW)
def conversation(request: HttpRequest, request_id: int) -> HttpResponse:
    return render(request, "helpdesk/console/conversation.html", _conversation_context(request, request_id))


@require_GET
@staff_page(VIEW)
def thread(request: HttpRequest, request_id: int) -> HttpResponse:
    """The messages alone, for live refreshes."""
    found = selectors.request_for(request.user, request_id, selectors.FOR_THREAD)
    messages_, older_hidden = selectors.thread(found)
    return render(
        request,
        "helpdesk/console/conversation.html#thread",
        {"r": found, "c": {"thread": messages_, "older_hidden": older_hidden}},
    )


def _after_action(http: HtmxRequest, request_id: int, done: str, **bound: Any) -> HttpResponseBase:
    if bound:
        context = _conversation_context(http, request_id, **bound)
        if http.htmx:
            return render(http, "helpdesk/console/conversation.html#workspace", context)
        return render(http, "helpdesk/console/conversation.html", context, status=422)
    if http.htmx:
        context = _conversation_context(http, request_id)
        context["done"] = done
        return render(http, "helpdesk/console/conversation.html#workspace", context)
    messages.success(http, done)
    return redirect("console:conversation", request_id=request_id)


def _apply_errors(form: Any, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    else:
        form.add_error(None, error.messages)


def _target(http: HttpRequest, request_id: int) -> Request:
    return selectors.request_for(http.user, request_id)


def _act(
    http: HtmxRequest, request_id: int, name: str, form: Any, act: Callable[[dict[str, Any]], str]
) -> HttpResponseBase:
    """Run `act` on a valid form and answer with what it says was done, or with the form's errors.

    `name` is the form's key in the page context, so the page shows it bound with the agent's input.
    """
    done = ""
    if form.is_valid():
        try:
            done = act(form.cleaned_data)
        except ValidationError as error:
            _apply_errors(form, error)
    if form.errors:
        return _after_action(http, request_id, "", **{name: form})
    return _after_action(http, request_id, done)


@require_POST
@staff_page(VIEW, WORK)
def reply(request: HtmxRequest, request_id: int) -> HttpResponseBase:
    target = _target(request, request_id)

    def act(data: dict[str, Any]) -> str:
        actions.reply(target, request.user, data["body"], data["channel"])
        return "Reply sent."

    form = ReplyForm(request.POST, channels=reply_channels(target.customer))
    return _act(request, request_id, "reply_form", form, act)


@require_POST
@staff_page(VIEW, WORK)
def note(request: HtmxRequest, request_id: int) -> HttpResponseBase:
    target = _target(request, request_id)

    def act(data: dict[str, Any]) -> str:
        actions.note(target, request.user, data["body"])
        return "Note added."

    return _act(request, request_id, "note_form", NoteForm(request.POST), act)


@require_POST
@staff_page(VIEW, WORK)
def status(request: HtmxRequest, request_id: int) -> HttpResponseBase:
    target = _target(request, request_id)

    def act(data: dict[str, Any]) -> str:
        actions.set_status(target, request.user, data["status"])
        return f"Status set to {data['status']}."

    return _act(request, request_id, "status_form", StatusForm(request.POST), act)


@require_POST
@staff_page(VIEW, WORK)
def assign(request: HtmxRequest, request_id: int) -> HttpResponseBase:
    target = _target(request, request_id)

    def act(data: dict[str, Any]) -> str:
        assignee: User | None = data["assignee"]
        actions.assign(target, request.user, assignee)
        return "Assignment changed."

    return _act(request, request_id, "assign_form", AssignForm(request.POST), act)


@require_POST
@staff_page(VIEW, WORK)
def call(request: HtmxRequest, request_id: int) -> HttpResponseBase:
    target = _target(request, request_id)

    def act(data: dict[str, Any]) -> str:
        actions.log_call(
            target,
            request.user,
            direction=data["direction"],
            duration=data["minutes"] * 60 + data["seconds"],
            outcome=data["outcome"],
            notes=data["notes"],
        )
        return "Call logged."

    return _act(request, request_id, "call_form", CallForm(request.POST), act)


@require_POST
@staff_page(VIEW, WORK)
def apply_macro(request: HtmxRequest, request_id: int) -> HttpResponseBase:
    target = _target(request, request_id)
    channel = request.POST.get("channel", "")

    def act(data: dict[str, Any]) -> str:
        if channel not in dict(reply_channels(target.customer)):
            raise ValidationError("choose a channel this customer can be reached on")
        actions.apply_macro(target, request.user, data["macro"], channel)
        return f"Macro {data['macro'].name} applied."

    return _act(request, request_id, "macro_form", MacroForm(request.POST), act)


@require_GET
@staff_page(VIEW, WORK)
def macro(request: HtmxRequest, request_id: int) -> HttpResponse:
    """A macro rendered for this request, to put into the reply box for the agent to edit and send."""
    target = _target(request, request_id)
    form = MacroForm(request.GET)
    if not form.is_valid():
        raise Http404("no such macro")
    try:
        text = actions.render_macro(form.cleaned_data["macro"], target, request.user)
    except ValidationError as error:
        text = " ".join(error.messages)
    return render(request, "helpdesk/console/macro_text.html", {"text": text})


@require_GET
@staff_page(VIEW)
def widget(request: HttpRequest) -> HttpResponse:
    """The one tag to put on a web site for live chat, and how to allow that site."""
    return render(
        request, "helpdesk/console/widget.html", {"origin": request.build_absolute_uri("/").rstrip("/")}
    )
