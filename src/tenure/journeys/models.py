"""Journeys: a trigger, a list of steps, and one enrollment per customer walking through them.

The steps of a journey are data (a JSON list validated by `journeys.definition`), so a journey can be
exported, imported and edited as one document. `Enrollment.next_step_at` is the timer column the step
runner sweeps; `StepRun` is unique per (enrollment, step), so a step never runs twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TriggerKind(models.TextChoices):
    EVENT = "event", "An event on the timeline"
    DATE = "date", "A date relative to a dated fact"
    MANUAL = "manual", "Enrolled by staff, a broadcast or another app"


class Reentry(models.TextChoices):
    NEVER = "never", "Once per customer, ever"
    AFTER_FINISH = "after_finish", "Again once the previous enrollment has finished"
    ALWAYS = "always", "Every time the trigger fires"


class Journey(models.Model):
    key = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    # "transactional" or a customers.Purpose value; the outbox applies opt-outs and the cap by it.
    purpose = models.CharField(max_length=32, default="service_updates")

    trigger = models.CharField(max_length=10, choices=TriggerKind.choices, default=TriggerKind.EVENT)
    # EVENT: the event kind that starts it. DATE: the kind of dated fact (payment_due, contract_end, ...).
    trigger_kind = models.CharField(max_length=64, blank=True, default="")
    # DATE: days relative to the fact's date (-3 = three days before).
    trigger_offset_days = models.IntegerField(default=0)
    # A list of conditions ({"field", "op", "value"}) that must all hold for the customer/event.
    conditions = models.JSONField(default=list, blank=True)
    # A list of {"kind": event kind, "match": optional context key} that end an enrollment early.
    exit_on = models.JSONField(default=list, blank=True)
    reentry = models.CharField(max_length=12, choices=Reentry.choices, default=Reentry.AFTER_FINISH)
    holdout_percent = models.PositiveSmallIntegerField(default=10)
    # A list of step dicts; see journeys.definition.
    steps = models.JSONField(default=list)

    # Set for journeys seeded on install; the seed never overwrites a journey that exists.
    builtin = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        permissions = [("view_journey_report", "Can see journey reports")]

    def __str__(self) -> str:
        return self.name


class MessageTemplate(models.Model):
    """A Django template for a send step, one row per language."""

    key = models.SlugField(max_length=80)
    language = models.CharField(max_length=10, default="en")
    subject = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "language"]
        constraints = [models.UniqueConstraint(fields=["key", "language"], name="template_once_per_language")]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"


class EnrollmentState(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    EXITED = "exited", "Exited"
    FAILED = "failed", "Failed"


class Enrollment(models.Model):
    # Both indexed by the constraints and indexes below, which start with them.
    journey = models.ForeignKey(Journey, on_delete=models.CASCADE, related_name="enrollments", db_index=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="enrollments", db_index=False
    )
    # What enrolled them (e.g. "event:123", "fact:9:2026-05-01", "manual:4f1c"); unique per journey+customer.
    trigger_key = models.CharField(max_length=120)
    state = models.CharField(max_length=10, choices=EnrollmentState.choices, default=EnrollmentState.ACTIVE)
    holdout = models.BooleanField(default=False)
    # Index into journey.steps of the step to run next.
    position = models.PositiveIntegerField(default=0)
    # The timer: when the next step runs. Null once finished.
    next_step_at = models.DateTimeField(null=True, blank=True)
    # Values steps can read: the trigger event's payload, the dated fact, values set by steps.
    context = models.JSONField(default=dict, blank=True)
    enrolled_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["journey", "customer", "trigger_key"], name="enrollment_once_per_trigger"
            ),
            # Only active enrollments have a timer, so the step runner claims on the timer alone (see
            # `core.outbox_models.OutboundMessage` for why a second filter there misleads PostgreSQL).
            models.CheckConstraint(
                condition=models.Q(next_step_at__isnull=True) | models.Q(state=EnrollmentState.ACTIVE),
                name="enrollment_timer_only_while_active",
            ),
        ]
        # Only the timers still running are indexed: a finished enrollment leaves the step runner's index.
        indexes = [
            models.Index(fields=["customer", "state"], name="enrollment_customer_state_idx"),
            models.Index(fields=["state"], name="enrollment_state_idx"),
            models.Index(
                fields=["next_step_at"],
                name="enrollment_due_idx",
                condition=models.Q(next_step_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.journey_id}/{self.customer_id} {self.state}"


class StepStatus(models.TextChoices):
    DONE = "done", "Done"
    HELD_OUT = "held_out", "Skipped (holdout)"
    FAILED = "failed", "Failed"


class StepRun(models.Model):
    """One step of one enrollment, run once: the unique constraint is the guarantee."""

    # Indexed by `step_runs_once`, which starts with the enrollment.
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="runs", db_index=False)
    step_id = models.CharField(max_length=64)
    step_type = models.CharField(max_length=20)
    status = models.CharField(max_length=10, choices=StepStatus.choices)
    ran_at = models.DateTimeField()
    detail = models.TextField(blank=True, default="")
    message = models.ForeignKey(
        "core.OutboundMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["ran_at", "id"]
        constraints = [models.UniqueConstraint(fields=["enrollment", "step_id"], name="step_runs_once")]

    def __str__(self) -> str:
        return f"{self.enrollment_id}:{self.step_id} {self.status}"


class Task(models.Model):
    """Work a journey hands to a person ("call them"), shown to staff until done."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="journey_tasks")
    enrollment = models.ForeignKey(
        Enrollment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True, default="")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="journey_tasks",
    )
    due_at = models.DateTimeField(db_index=True)
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return self.title


class DatedFact(models.Model):
    """A date a journey can count from: a payment due, a contract end, an appointment, a last contact.

    Fed by timeline events (see `journeys.facts`); one row per (customer, kind, ref), moved when a
    newer event changes the date and cleared when the thing is settled (paid, cancelled).
    """

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="dated_facts")
    kind = models.CharField(max_length=40)
    ref = models.CharField(max_length=100, blank=True, default="")
    at = models.DateTimeField(db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [models.UniqueConstraint(fields=["customer", "kind", "ref"], name="fact_once_per_ref")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref} {self.at:%Y-%m-%d}"


class ProcessType(models.Model):
    """A process with stages (a mortgage application, an order), each with its expected duration."""

    key = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    # [{"key": "documents", "label": "Documents needed", "days": 5}, ...] in order.
    stages = models.JSONField(default=list)

    def __str__(self) -> str:
        return self.name


class Process(models.Model):
    type = models.ForeignKey(ProcessType, on_delete=models.PROTECT, related_name="processes")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="processes")
    ref = models.CharField(max_length=100)
    stage = models.CharField(max_length=50)
    started_at = models.DateTimeField()
    stage_changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-stage_changed_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["type", "ref"], name="process_ref_unique_per_type")]

    def __str__(self) -> str:
        return f"{self.type.key}:{self.ref} ({self.stage})"
