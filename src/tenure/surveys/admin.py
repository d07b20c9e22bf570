from django.contrib import admin

from tenure.surveys.models import Survey


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin[Survey]):
    list_display = ("customer", "kind", "subject_ref", "status", "due_at", "score", "fixed")
    list_filter = ("kind", "status")
    search_fields = ("customer__name", "subject_ref")
    raw_id_fields = ("customer", "message")
    readonly_fields = ("created_at", "sent_at", "answered_at", "trigger_key")
