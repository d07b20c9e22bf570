from django.contrib import admin

from tenure.insights.models import ChurnModel, InsightsSettings, RetentionTarget


@admin.register(RetentionTarget)
class RetentionTargetAdmin(admin.ModelAdmin):
    """The owner sets the annual-churn goal here; the dashboard tracks progress against it."""

    list_display = ("baseline_annual_churn", "target_annual_churn", "start_date", "target_date", "created_at")


@admin.register(ChurnModel)
class ChurnModelAdmin(admin.ModelAdmin):
    list_display = ("version", "algorithm", "created_at", "is_active")
    readonly_fields = ("version", "algorithm", "model_text", "calibration", "features", "metrics", "training")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(InsightsSettings)
class InsightsSettingsAdmin(admin.ModelAdmin):
    """Subscription or repeat-purchase churn: which definition the retention figures use."""

    list_display = ("business_model", "p_alive_threshold")

    def has_add_permission(self, request: object) -> bool:
        return not InsightsSettings.objects.exists()
