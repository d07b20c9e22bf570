"""Help desk configuration in the admin: departments, SLA policies, triage rules, macros, acknowledgement."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.template import Engine, TemplateSyntaxError

from tenure.helpdesk.models import (
    AcknowledgementTemplate,
    AgentProfile,
    Callback,
    Department,
    Macro,
    Request,
    SlaPolicy,
    TriageModel,
    TriageRule,
)

_ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, autoescape=False)


def _check_template(value: str, field: str) -> str:
    try:
        _ENGINE.from_string(value)
    except TemplateSyntaxError as error:
        raise forms.ValidationError(f"{field}: template error: {error}") from None
    return value


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "team", "lead", "active", "position")
    list_editable = ("active", "position")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "priority",
        "department",
        "tier",
        "first_response_minutes",
        "resolution_minutes",
        "calendar",
        "position",
        "active",
    )
    list_filter = ("active", "priority", "department")


class TriageRuleForm(forms.ModelForm):
    class Meta:
        model = TriageRule
        fields = (
            "name",
            "position",
            "active",
            "keywords",
            "regex",
            "channel",
            "sender_contains",
            "department",
            "priority",
            "urgency",
        )

    def clean_regex(self) -> str:
        value: str = self.cleaned_data["regex"]
        try:
            re.compile(value)
        except re.error as error:
            raise forms.ValidationError(f"not a regular expression: {error}") from None
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not any(data.get(f) for f in ("keywords", "regex", "channel", "sender_contains")):
            raise forms.ValidationError("give at least one condition (keywords, regex, channel or sender)")
        return data


@admin.register(TriageRule)
class TriageRuleAdmin(admin.ModelAdmin):
    form = TriageRuleForm
    list_display = ("name", "position", "active", "keywords", "channel", "department", "priority", "urgency")
    list_editable = ("position", "active")


class MacroForm(forms.ModelForm):
    class Meta:
        model = Macro
        fields = ("name", "body", "set_status", "set_priority", "add_tags", "active")

    def clean_body(self) -> str:
        return _check_template(self.cleaned_data["body"], "body")


@admin.register(Macro)
class MacroAdmin(admin.ModelAdmin):
    form = MacroForm
    list_display = ("name", "set_status", "set_priority", "add_tags", "active")


class AcknowledgementForm(forms.ModelForm):
    class Meta:
        model = AcknowledgementTemplate
        fields = ("channel", "subject", "body")

    def clean_subject(self) -> str:
        return _check_template(self.cleaned_data["subject"], "subject")

    def clean_body(self) -> str:
        return _check_template(self.cleaned_data["body"], "body")


@admin.register(AcknowledgementTemplate)
class AcknowledgementTemplateAdmin(admin.ModelAdmin):
    form = AcknowledgementForm
    list_display = ("__str__", "subject")


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "available", "max_open", "last_assigned_at")
    list_editable = ("available", "max_open")
    filter_horizontal = ("departments",)


@admin.register(TriageModel)
class TriageModelAdmin(admin.ModelAdmin):
    list_display = ("__str__", "created_at", "active", "trained_rows")
    readonly_fields = ("created_at", "trained_rows", "metrics", "model")


@admin.register(Request)
class RequestAdmin(admin.ModelAdmin):
    list_display = ("__str__", "customer", "status", "priority", "department", "assignee", "last_message_at")
    list_filter = ("status", "priority", "department", "channel", "needs_triage")
    search_fields = ("subject", "customer__name")
    raw_id_fields = ("customer", "linked_from", "merged_into", "assignee")
    readonly_fields = ("created_at", "last_message_at")


@admin.register(Callback)
class CallbackAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "due_at", "done_at")
    raw_id_fields = ("request", "customer", "owner")
