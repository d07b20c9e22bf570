"""Console forms: reply, note, status, assignment, call log. Each checks its input and names the field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from tenure.customers.models import Customer, Identity, IdentityChannel
from tenure.helpdesk.console.access import WORK
from tenure.helpdesk.console.widgets import (
    ConsoleForm,
    QuickNumberInput,
    QuickSelect,
    QuickTextarea,
)
from tenure.helpdesk.models import Macro, RequestChannel, Status
from tenure.inbox.calls import OUTCOMES

MAX_BODY = 20_000

# Which identity a reply channel needs.
REPLY_CHANNELS: tuple[tuple[str, str, str], ...] = (
    (RequestChannel.EMAIL, "E-mail", IdentityChannel.EMAIL),
    (RequestChannel.SMS, "SMS", IdentityChannel.PHONE),
    (RequestChannel.CHAT, "Chat", IdentityChannel.CHAT),
)


def reply_channels(customer: Customer, identities: Iterable[Identity] | None = None) -> list[tuple[str, str]]:
    """The channels this customer can be answered on, from the identities they have."""
    if identities is None:
        have = set(customer.identities.values_list("channel", flat=True))
    else:
        have = {identity.channel for identity in identities}
    return [(channel, label) for channel, label, needs in REPLY_CHANNELS if needs in have]


def workers() -> QuerySet[User]:
    """Active staff who may work requests (by group or directly), for the assignee menu."""
    app_label, codename = WORK.split(".")
    granted = Q(
        groups__permissions__codename=codename, groups__permissions__content_type__app_label=app_label
    )
    direct = Q(user_permissions__codename=codename, user_permissions__content_type__app_label=app_label)
    return (
        User.objects.filter(granted | direct | Q(is_superuser=True), is_active=True)
        .distinct()
        .order_by("username")
    )


class ReplyForm(ConsoleForm):
    body = forms.CharField(widget=QuickTextarea(attrs={"rows": 4}), max_length=MAX_BODY, strip=True)
    channel = forms.ChoiceField(choices=(), widget=QuickSelect)

    def __init__(self, *args: Any, channels: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        channel_field = self.fields["channel"]
        assert isinstance(channel_field, forms.ChoiceField)
        channel_field.choices = channels


class NoteForm(ConsoleForm):
    body = forms.CharField(widget=QuickTextarea(attrs={"rows": 3}), max_length=MAX_BODY, strip=True)


class StatusForm(ConsoleForm):
    status = forms.ChoiceField(choices=Status.choices, widget=QuickSelect)


class AssignForm(ConsoleForm):
    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody", widget=QuickSelect
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = workers()


class CallForm(ConsoleForm):
    direction = forms.ChoiceField(
        choices=(("inbound", "Inbound"), ("outbound", "Outbound")), widget=QuickSelect
    )
    minutes = forms.IntegerField(min_value=0, max_value=24 * 60, initial=0, widget=QuickNumberInput)
    seconds = forms.IntegerField(min_value=0, max_value=59, initial=0, widget=QuickNumberInput)
    outcome = forms.ChoiceField(
        choices=[(o, o.replace("_", " ").capitalize()) for o in OUTCOMES], widget=QuickSelect
    )
    notes = forms.CharField(widget=QuickTextarea(attrs={"rows": 3}), required=False, max_length=MAX_BODY)


class MacroForm(ConsoleForm):
    macro = forms.ModelChoiceField(
        queryset=Macro.objects.filter(active=True).order_by("name"), widget=QuickSelect
    )
