"""Shared kernel tables: the customer timeline, audit log, API tokens, calendars, worker heartbeats."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenure.core.outbox_models import OutboundMessage  # noqa: F401


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    WEB = "web", "Web form"
    CHAT = "chat", "Live chat"
    SMS = "sms", "SMS"
    PHONE = "phone", "Phone"
    SOCIAL = "social", "Social"
    IN_PERSON = "in_person", "In person"
    PORTAL = "portal", "Portal"
    SYSTEM = "system", "System"


class Event(models.Model):
    """One thing that happened to a customer. Written in the transaction of the row that caused it."""

    # Indexed by `event_timeline_idx`, which starts with the customer.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True, default="")
    actor = models.CharField(max_length=150, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=64, default="tenure")
    # Null for events with no natural key; NULLs never collide in the unique constraint.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source", "idempotency_key"], name="event_unique_key_per_source"),
        ]
        # Every index costs each of the thousands of events a second a busy outbox writes; `kind` is only
        # ever compared whole, so it has no pattern-matching twin.
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="event_timeline_idx"),
            models.Index(fields=["kind"], name="event_kind_idx"),
        ]
        permissions = [("export_event", "Can export the timeline as CSV")]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class AuditLog(models.Model):
    """Who changed what, for actions that cannot be read back from the data (merges, imports, tokens)."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


class ApiToken(models.Model):
    """A token for an integration. Only a hash is stored; the secret is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class BusinessCalendar(models.Model):
    """Opening hours per weekday in a time zone, plus holidays. Teams point at one."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # {"0": [["08:00", "12:00"], ["13:00", "17:00"]], ...}; Monday is 0, a missing day is closed.
    weekly_hours = models.JSONField(default=dict)

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    calendar = models.ForeignKey(BusinessCalendar, null=True, blank=True, on_delete=models.SET_NULL)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="teams")

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """A running `tenure worker` proves it is alive here; the reaper trusts nothing else."""

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.worker_id} ({self.hostname}:{self.pid})"
