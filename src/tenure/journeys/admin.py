from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms import ModelForm

from tenure.journeys.documents import clean_journey, clean_template, journey_to_document
from tenure.journeys.models import (
    DatedFact,
    Enrollment,
    Journey,
    MessageTemplate,
    Process,
    ProcessType,
    StepRun,
    Task,
)


class JourneyForm(ModelForm):
    """The admin saves through the same checks as the editor and the importer."""

    class Meta:
        model = Journey
        fields = [
            "key", "name", "description", "is_active", "purpose", "trigger", "trigger_kind", "trigger_offset_days",
            "conditions", "exit_on", "reentry", "holdout_percent", "steps",
        ]  # fmt: skip

    def clean(self) -> dict:
        data = super().clean() or {}
        probe = Journey(**{k: v for k, v in data.items() if k in {f.name for f in Journey._meta.fields}})
        known = set(MessageTemplate.objects.values_list("key", flat=True))
        try:
            clean_journey(journey_to_document(probe), known)
        except ValidationError as error:
            raise ValidationError(
                [f"{field}: {m}" for field, msgs in error.message_dict.items() for m in msgs]
            ) from None
        return data


class TemplateForm(ModelForm):
    class Meta:
        model = MessageTemplate
        fields = ["key", "language", "subject", "body"]

    def clean(self) -> dict:
        data = super().clean() or {}
        try:
            clean_template(data)
        except ValidationError as error:
            raise ValidationError(
                [f"{field}: {m}" for field, msgs in error.message_dict.items() for m in msgs]
            ) from None
        return data


@admin.register(Journey)
class JourneyAdmin(admin.ModelAdmin):
    form = JourneyForm
    list_display = ["name", "key", "trigger", "trigger_kind", "is_active", "holdout_percent", "builtin"]
    list_filter = ["is_active", "trigger", "builtin"]
    search_fields = ["name", "key"]


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    form = TemplateForm
    list_display = ["key", "language", "subject"]
    search_fields = ["key", "subject"]


class StepRunInline(admin.TabularInline):
    model = StepRun
    extra = 0
    can_delete = False
    readonly_fields = ["step_id", "step_type", "status", "ran_at", "detail", "message"]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["journey", "customer", "state", "holdout", "next_step_at", "enrolled_at"]
    list_filter = ["state", "holdout", "journey"]
    raw_id_fields = ["customer"]
    readonly_fields = ["trigger_key", "enrolled_at", "finished_at", "reason"]
    inlines = [StepRunInline]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["title", "customer", "owner", "due_at", "done_at"]
    list_filter = ["done_at"]
    raw_id_fields = ["customer", "enrollment"]


@admin.register(DatedFact)
class DatedFactAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "ref", "at", "cleared_at"]
    list_filter = ["kind"]
    raw_id_fields = ["customer"]


@admin.register(ProcessType)
class ProcessTypeAdmin(admin.ModelAdmin):
    list_display = ["key", "name"]


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = ["type", "ref", "customer", "stage", "stage_changed_at"]
    raw_id_fields = ["customer"]
