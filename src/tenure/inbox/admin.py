from django.contrib import admin

from tenure.inbox.models import CallRecord, InboundLog, Mailbox, WebhookSource


@admin.register(Mailbox)
class MailboxAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "username",
        "host",
        "folder",
        "active",
        "last_polled_at",
        "last_uid",
        "last_error",
    )
    readonly_fields = ("uid_validity", "last_uid", "last_polled_at", "last_error")
    fields = (
        "name",
        "host",
        "port",
        "use_ssl",
        "username",
        "password",
        "folder",
        "active",
        "poll_interval_seconds",
        "next_poll_at",
        *readonly_fields,
    )


@admin.register(WebhookSource)
class WebhookSourceAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "active", "replay_window_seconds")


@admin.register(InboundLog)
class InboundLogAdmin(admin.ModelAdmin):
    list_display = ("received_at", "source", "channel", "status", "sender", "subject", "request_id")
    list_filter = ("status", "channel", "source")
    search_fields = ("sender", "subject", "message_id", "external_id")
    exclude = ("raw",)
    readonly_fields = [f.name for f in InboundLog._meta.fields if f.name != "raw"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(CallRecord)
class CallRecordAdmin(admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "customer",
        "direction",
        "duration_seconds",
        "outcome",
        "agent",
        "request_id",
    )
    list_filter = ("direction", "outcome")
    raw_id_fields = ("customer", "agent")
