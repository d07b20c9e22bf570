"""Field service tables: who can do what when (technicians, skills, shifts), what is asked (job types,
appointments) and the plan for each technician's day.

Times are aware UTC datetimes; a technician's `time_zone` says how to show them and what "a day" is.
An appointment's stops on a day are its `plan` (one DayPlan per technician per local date) ordered by
`position`; the promised window (`window_start`/`window_end`) never moves once booked, so promised vs
actual can be measured, while `notice_window_*` holds the newer window a delay notice announced.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Skill(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name or self.code


class Technician(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="technician",
    )
    name = models.CharField(max_length=200)
    skills = models.ManyToManyField(Skill, blank=True, related_name="technicians")
    home_lat = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    home_lon = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    time_zone = models.CharField(max_length=64, default="UTC")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Shift(models.Model):
    """One working stretch, from leaving home base to getting back; breaks lie inside it."""

    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="shifts")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start"]
        constraints = [
            models.UniqueConstraint(fields=["technician", "start"], name="field_shift_once"),
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="field_shift_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["technician", "start", "end"], name="field_shift_tech_idx")]

    def __str__(self) -> str:
        return f"{self.technician} {self.start:%Y-%m-%d %H:%M} to {self.end:%H:%M}"


class ShiftBreak(models.Model):
    shift = models.ForeignKey(Shift, on_delete=models.CASCADE, related_name="breaks")
    start = models.DateTimeField()
    end = models.DateTimeField()

    class Meta:
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="field_break_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"break {self.start:%H:%M} to {self.end:%H:%M}"


class JobType(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    skills = models.ManyToManyField(Skill, blank=True, related_name="job_types")
    default_duration_minutes = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)]
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name or self.code


class DayPlan(models.Model):
    """One technician's route on one local date: the appointments with `plan` = this, by `position`."""

    technician = models.ForeignKey(Technician, on_delete=models.CASCADE, related_name="plans")
    date = models.DateField()
    # Bumped on every change of the stop order, so a planner can tell its input went stale.
    version = models.PositiveIntegerField(default=0)
    optimised_at = models.DateTimeField(null=True, blank=True)
    # Timer: when the sweeper next re-predicts this route while its day is under way (null: not needed).
    check_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "technician_id"]
        constraints = [models.UniqueConstraint(fields=["technician", "date"], name="field_plan_once_per_day")]

    def __str__(self) -> str:
        return f"{self.technician} on {self.date}"


class Status(models.TextChoices):
    REQUESTED = "requested", "Requested"
    BOOKED = "booked", "Booked"
    SCHEDULED = "scheduled", "Scheduled"
    EN_ROUTE = "en_route", "En route"
    ON_SITE = "on_site", "On site"
    COMPLETED = "completed", "Completed"
    NOT_FIXED = "not_fixed", "Not fixed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (Status.REQUESTED, Status.BOOKED, Status.SCHEDULED, Status.EN_ROUTE, Status.ON_SITE)
# Statuses whose arrival still lies ahead: these are what re-prediction moves.
AHEAD_STATUSES = (Status.BOOKED, Status.SCHEDULED, Status.EN_ROUTE)
FINAL_STATUSES = (Status.COMPLETED, Status.NOT_FIXED, Status.CANCELLED)


class Appointment(models.Model):
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="appointments")
    job_type = models.ForeignKey(JobType, on_delete=models.PROTECT, related_name="appointments")
    address = models.TextField()
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    # What the customer said: {"asap": bool, "days": ["YYYY-MM-DD", ...], "weekdays": [0..6],
    # "ranges": [["08:00", "12:00"], ...]} in the technicians' local time; see booking.Preferences.
    preferences = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    notes = models.TextField(blank=True, default="")

    # The promise: a one-hour arrival window, fixed once booked.
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    promised_at = models.DateTimeField(null=True, blank=True)
    # The predicted chance of arriving by `window_end` when it was promised, and the predicted arrival
    # quantiles then (minutes after window_start at windows.PROMISE_LEVELS): calibration scores them.
    promised_coverage = models.FloatField(null=True, blank=True)
    promise_quantiles = models.JSONField(default=list, blank=True)

    # The plan: whose route, where on it, when the plan expects arrival and for how long.
    technician = models.ForeignKey(
        Technician, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )
    plan = models.ForeignKey(DayPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="stops")
    position = models.PositiveIntegerField(null=True, blank=True)
    planned_start = models.DateTimeField(null=True, blank=True)
    planned_minutes = models.PositiveIntegerField(null=True, blank=True)

    # The latest prediction (re-made on every event of the day).
    predicted_arrival = models.DateTimeField(null=True, blank=True)
    miss_probability = models.FloatField(default=0.0)
    predicted_at = models.DateTimeField(null=True, blank=True)
    # The newer window a delay notice told the customer, and why.
    notice_window_start = models.DateTimeField(null=True, blank=True)
    notice_window_end = models.DateTimeField(null=True, blank=True)
    notice_reason = models.CharField(max_length=200, blank=True, default="")
    notice_sent_at = models.DateTimeField(null=True, blank=True)  # the first notice (later ones are events)
    # The miss probability in the last look before the window opened, if the customer had not been told
    # anything by then: learning sets the last-look bar from these (learning.last_look_bar).
    last_look_risk = models.FloatField(null=True, blank=True)

    # What happened.
    en_route_at = models.DateTimeField(null=True, blank=True)
    travel_estimate_seconds = models.PositiveIntegerField(null=True, blank=True)
    eta = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    # A running-long estimate from the technician: when they now expect to finish.
    expected_finish = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.TextField(blank=True, default="")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # A dispatcher's choice of technician (a move on the board, a revisit kept with whoever was there):
    # re-planning keeps the job on this technician's route.
    pinned = models.BooleanField(default=False)
    # A visit booked because this earlier one did not fix the problem (see revisit.py).
    revisit_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisits"
    )

    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["window_start", "id"]
        indexes = [
            models.Index(fields=["technician", "window_start"], name="field_appt_tech_window_idx"),
            models.Index(fields=["status", "window_start"], name="field_appt_status_window_idx"),
            models.Index(fields=["plan", "position"], name="field_appt_plan_position_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.job_type} for customer {self.customer_id} ({self.status})"

    @property
    def reference(self) -> str:
        """The job id events carry (`job` in payloads)."""
        return f"JOB-{self.pk}"


class DurationProfile(models.Model):
    """A fitted lognormal of job minutes: per job type (technician empty, the company profile) or per
    technician and job type (the personal profile, already shrunk toward the company one)."""

    job_type = models.ForeignKey(JobType, on_delete=models.CASCADE, related_name="duration_profiles")
    technician = models.ForeignKey(
        Technician, null=True, blank=True, on_delete=models.CASCADE, related_name="duration_profiles"
    )
    mu = models.FloatField()
    sigma = models.FloatField()
    samples = models.PositiveIntegerField()
    fitted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["job_type"],
                condition=models.Q(technician__isnull=True),
                name="field_company_profile_once",
            ),
            models.UniqueConstraint(
                fields=["job_type", "technician"],
                condition=models.Q(technician__isnull=False),
                name="field_personal_profile_once",
            ),
        ]

    def __str__(self) -> str:
        owner = f"technician {self.technician_id}" if self.technician_id else "company"
        return f"{self.job_type_id} ({owner}): lognormal({self.mu:.3f}, {self.sigma:.3f})"


class WindowCalibration(models.Model):
    """What history says about the predictions: the travel model's error (log-ratio mean and spread) and
    the widening that makes promised windows hold at the stated coverage. The newest row is used."""

    travel_log_bias = models.FloatField(default=0.0)
    travel_log_sigma = models.FloatField(default=0.25)
    # The modelled P(arrival <= window end) a window needs so that, judged by past promises, the
    # stated coverage holds (split-conformal on the predicted CDF at the actual arrivals).
    model_level = models.FloatField(default=0.9)
    target_coverage = models.FloatField(default=0.9)
    # In the last look before a window opens, a miss more likely than this is told to the customer.
    last_look_bar = models.FloatField(default=0.05)
    observed_coverage = models.FloatField(null=True, blank=True)
    samples = models.PositiveIntegerField(default=0)
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-fitted_at", "-id"]

    def __str__(self) -> str:
        return f"calibration of {self.fitted_at:%Y-%m-%d %H:%M}"
