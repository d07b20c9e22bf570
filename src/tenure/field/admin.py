"""Configuration of the field in the admin: skills, job types, technicians and shifts; the learned
profiles and calibrations are shown read-only (they come from `tenure field learn`)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from tenure.field.models import (
    Appointment,
    DayPlan,
    DurationProfile,
    JobType,
    Shift,
    ShiftBreak,
    Skill,
    Technician,
    WindowCalibration,
)


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(JobType)
class JobTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "default_duration_minutes")
    filter_horizontal = ("skills",)


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0


@admin.register(Technician)
class TechnicianAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "time_zone", "active")
    list_filter = ("active", "skills")
    filter_horizontal = ("skills",)
    inlines = [ShiftInline]


class BreakInline(admin.TabularInline):
    model = ShiftBreak
    extra = 0


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = ("technician", "start", "end")
    list_filter = ("technician",)
    inlines = [BreakInline]


@admin.register(Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ("id", "customer", "job_type", "status", "technician", "window_start", "miss_probability")
    list_filter = ("status", "job_type")
    raw_id_fields = ("customer", "plan", "booked_by")
    readonly_fields = ("promise_quantiles", "predicted_arrival", "miss_probability", "predicted_at")


@admin.register(DayPlan)
class DayPlanAdmin(admin.ModelAdmin):
    list_display = ("technician", "date", "version", "optimised_at")
    list_filter = ("date",)


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(DurationProfile)
class DurationProfileAdmin(ReadOnly):
    list_display = ("job_type", "technician", "mu", "sigma", "samples", "fitted_at")


@admin.register(WindowCalibration)
class WindowCalibrationAdmin(ReadOnly):
    list_display = (
        "fitted_at",
        "target_coverage",
        "model_level",
        "observed_coverage",
        "samples",
        "last_look_bar",
    )
