"""The console's widgets write exactly what Django's widget and error-list templates write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import User
from django.forms.utils import ErrorList

from tenure.helpdesk.console.forms import AssignForm, CallForm, NoteForm, ReplyForm, StatusForm

CHANNELS = [("email", "E-mail"), ("sms", 'S&MS <b>"x"</b>')]


def both_ways(bound: forms.BoundField) -> tuple[str, str]:
    """The field drawn by its console widget and by the Django widget class it replaces."""
    widget = bound.field.widget
    attrs = bound.build_widget_attrs({})
    attrs.setdefault("id", bound.auto_id)
    value = bound.value()
    ours = widget.render(bound.html_name, value, attrs, bound.form.renderer)
    django_s = super(type(widget), widget).render(bound.html_name, value, attrs, bound.form.renderer)
    return str(ours), str(django_s)


def assert_drawn_like_django(form: forms.Form) -> None:
    for bound in form:
        ours, djangos = both_ways(bound)
        assert ours == djangos, bound.name
        assert str(bound.errors) == ErrorList.render(bound.errors)
    non_field = form.non_field_errors()
    assert str(non_field) == ErrorList.render(non_field)


FORMS: list[Callable[[], forms.Form]] = [
    lambda: ReplyForm(channels=CHANNELS, initial={"channel": "sms"}),
    lambda: ReplyForm({"body": "", "channel": '"><script>'}, channels=CHANNELS),
    lambda: ReplyForm({"body": "hello <b>&</b>", "channel": "email"}, channels=CHANNELS),
    lambda: ReplyForm(channels=[]),
    lambda: NoteForm({"body": " \n "}),
    lambda: StatusForm(initial={"status": "waiting"}),
    lambda: StatusForm({"status": "nope"}),
    lambda: CallForm(),
    lambda: CallForm(
        {"direction": "up", "minutes": "-1", "seconds": "x", "outcome": "", "notes": "<i>n</i>"}
    ),
    lambda: CallForm({"direction": "inbound", "minutes": "3", "seconds": "59", "outcome": "answered"}),
]


@pytest.mark.parametrize("make", FORMS)
def test_console_forms_draw_like_django(make: Callable[[], forms.Form]) -> None:
    form = make()
    if form.is_bound:
        form.is_valid()  # fills the errors the page shows
    assert_drawn_like_django(form)


@pytest.mark.django_db
@pytest.mark.parametrize("data", [None, {"assignee": ""}, {"assignee": "999999"}])
def test_assignee_menu_draws_like_django(
    make_staff: Callable[..., User], data: dict[str, Any] | None
) -> None:
    agent = make_staff("agent", "ann")
    make_staff("agent", 'o"brien & <co>')
    form = AssignForm(data) if data is not None else AssignForm(initial={"assignee": agent.pk})
    if form.is_bound:
        form.is_valid()  # fills the errors the page shows
    assert_drawn_like_django(form)
