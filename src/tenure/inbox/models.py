"""Inbound channel configuration and the log of everything that came in, whatever became of it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Mailbox(models.Model):
    """An IMAP folder polled for customer mail. `next_poll_at` is the timer column the sweeper acts on."""

    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=993)
    use_ssl = models.BooleanField(
        default=True, help_text="IMAPS (TLS from the start); off only for loopback tests"
    )
    username = models.CharField(max_length=255)
    # Kept readable because IMAP needs the password itself; protect the database like the mail account.
    password = models.CharField(max_length=255)
    folder = models.CharField(max_length=255, default="INBOX")
    active = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(default=60)
    # A new mailbox is due at once; clearing the column stops polling.
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True, default=timezone.now)
    # UIDs are only meaningful together with the folder's UIDVALIDITY; a new UIDVALIDITY restarts from 0.
    uid_validity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return f"{self.name} ({self.username}@{self.host}/{self.folder})"


class WebhookSource(models.Model):
    """A system allowed to post contacts to /inbox/webhook/<slug>/, signing each body with `secret`."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    secret = models.CharField(max_length=200)
    replay_window_seconds = models.PositiveIntegerField(default=300)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.slug


class InboundStatus(models.TextChoices):
    ACCEPTED = "accepted", "Accepted (on a request)"
    AUTO_REPLY = "auto_reply", "Auto-reply (ignored)"
    BOUNCE = "bounce", "Bounce"
    LOOP = "loop", "Mail loop (ignored)"
    OPT_OUT = "opt_out", "Opt-out / opt-in keyword"
    SURVEY_ANSWER = "survey_answer", "Answer to a survey"
    SPAM = "spam", "Spam trap (ignored)"
    ERROR = "error", "Error (kept for retry)"


class InboundLog(models.Model):
    """One inbound item from any channel and what became of it.

    `(source, external_id)` makes every adapter idempotent: an IMAP UID, a webhook event id or an SMS
    sid is handled once. Items that failed keep their raw bytes so `tenure inbox retry` can try again.
    """

    source = models.CharField(max_length=80)
    external_id = models.CharField(max_length=300, blank=True, default="")
    channel = models.CharField(max_length=16)
    status = models.CharField(max_length=16, choices=InboundStatus.choices, db_index=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    sender = models.CharField(max_length=300, blank=True, default="")
    subject = models.CharField(max_length=300, blank=True, default="")
    message_id = models.CharField(max_length=300, blank=True, default="")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # helpdesk.Request id; a plain number so the channel log never blocks deleting a request.
    request_id = models.BigIntegerField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    raw = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~models.Q(external_id=""),
                name="inbound_once_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.external_id or self.pk}: {self.status}"


class CallRecord(models.Model):
    """A phone call, logged by an agent or posted by a telephony system."""

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="calls")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    duration_seconds = models.PositiveIntegerField()
    outcome = models.CharField(max_length=40)
    notes = models.TextField(blank=True, default="")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    occurred_at = models.DateTimeField()
    external_id = models.CharField(max_length=200, unique=True)
    request_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.direction} call {self.external_id}"


class RateLimitHit(models.Model):
    """Hits per key per fixed window, counted in the database so every web process sees the same count."""

    key = models.CharField(max_length=200)
    window_start = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key", "window_start"], name="ratelimit_once_per_window")
        ]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start}: {self.count}"
