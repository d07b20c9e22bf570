"""What insights stores: fitted churn models (as data, never pickles), per-customer scores, cached reports."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models


class ChurnModel(models.Model):
    """One fitted churn model: the booster as LightGBM text, its calibration and the metrics it earned."""

    version = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    algorithm = models.CharField(max_length=50)
    model_text = models.TextField()
    calibration = models.JSONField(default=dict)
    features = models.JSONField(default=list)
    metrics = models.JSONField(default=dict)
    training = models.JSONField(default=dict)
    is_active = models.BooleanField(default=False)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"churn model v{self.version} ({self.algorithm})"


class CustomerScore(models.Model):
    """The latest scores of one customer; rewritten by every scoring run."""

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="score")
    model = models.ForeignKey(ChurnModel, null=True, blank=True, on_delete=models.SET_NULL)
    churn_probability = models.FloatField(null=True, blank=True, db_index=True)
    # [{"feature": "unanswered_requests_30d", "text": "3 unanswered requests in the last 30 days", "weight": 0.12}]
    reasons = models.JSONField(default=list, blank=True)
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases_12m = models.FloatField(null=True, blank=True)
    expected_value_12m = models.FloatField(null=True, blank=True)
    next_best_action = models.CharField(max_length=200, blank=True, default="")
    scored_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"score of customer {self.customer_id}"


class InsightSnapshot(models.Model):
    """A computed report (drivers, scorecard, retention) kept so pages read it instead of recomputing."""

    kind = models.CharField(max_length=50, db_index=True)
    computed_at = models.DateTimeField(auto_now_add=True)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["-computed_at"]
        permissions = [
            ("view_insights", "Can see the retention dashboard and reports"),
            ("act_on_risk", "Can see the customers at risk and enroll them in a journey"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} @ {self.computed_at:%Y-%m-%d %H:%M}"


class RetentionTarget(models.Model):
    """'From 32% to under 5% a year within two years': the owner's goal for annual customer loss."""

    baseline_annual_churn = models.FloatField()
    target_annual_churn = models.FloatField()
    start_date = models.DateField()
    target_date = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.baseline_annual_churn:.0%} -> {self.target_annual_churn:.0%} by {self.target_date}"

    def clean(self) -> None:
        errors = {}
        for name in ("baseline_annual_churn", "target_annual_churn"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                errors[name] = "a share of customers a year, between 0 and 1 (0.3 for 30%)"
        if self.start_date and self.target_date and self.target_date <= self.start_date:
            errors["target_date"] = "must be after the start date"
        if errors:
            raise ValidationError(errors)


class BusinessModel(models.TextChoices):
    SUBSCRIPTION = "subscription", "Subscription: lost when marked lost or the contract ends"
    REPEAT_PURCHASE = (
        "repeat_purchase",
        "Repeat purchase: lost when the chance they still buy falls below a threshold",
    )


class InsightsSettings(models.Model):
    """One row (pk 1): how this business decides who is still a customer. Missing row = the defaults."""

    business_model = models.CharField(
        max_length=20, choices=BusinessModel.choices, default=BusinessModel.SUBSCRIPTION
    )
    p_alive_threshold = models.FloatField(
        default=0.5,
        help_text="Repeat purchase only: a customer whose probability of still buying (BG/NBD) falls "
        "below this share counts as lost.",
    )

    class Meta:
        verbose_name = "insights settings"
        verbose_name_plural = "insights settings"

    def __str__(self) -> str:
        return f"{self.get_business_model_display()} (threshold {self.p_alive_threshold:g})"

    def clean(self) -> None:
        if self.p_alive_threshold is not None and not 0 < self.p_alive_threshold < 1:
            raise ValidationError(
                {"p_alive_threshold": "a probability strictly between 0 and 1 (0.5 for 50%)"}
            )
