"""One-question follow-ups after a resolved request or a finished job, and the customer's answer."""

from __future__ import annotations

from django.db import models


class SurveyKind(models.TextChoices):
    REQUEST_CSAT = "request_csat", "Satisfaction after a resolved request"
    JOB_FOLLOW_UP = "job_follow_up", "Follow-up after a job"


class SurveyStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    ANSWERED = "answered", "Answered"
    SKIPPED = "skipped", "Skipped"


class Survey(models.Model):
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="surveys")
    kind = models.CharField(max_length=20, choices=SurveyKind.choices)
    # What the survey is about, as "<type>:<id>" (e.g. "request:12", "appointment:7").
    subject_ref = models.CharField(max_length=64)
    # The event that asked for this survey; makes scheduling idempotent.
    trigger_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(
        max_length=10, choices=SurveyStatus.choices, default=SurveyStatus.SCHEDULED, db_index=True
    )
    # Timer column: when the sweeper sends it. Null once sent or skipped.
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    channel = models.CharField(max_length=10, blank=True, default="")
    message = models.ForeignKey(
        "core.OutboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    fixed = models.BooleanField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    skip_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "status"], name="survey_customer_status_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.subject_ref}: {self.status}"

    @property
    def asks_fixed(self) -> bool:
        return self.kind == SurveyKind.JOB_FOLLOW_UP

    @property
    def unhappy(self) -> bool:
        """An answer that should send someone back: not fixed, or a score of 1 or 2."""
        return self.fixed is False or (self.score is not None and self.score <= 2)
