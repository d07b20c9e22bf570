"""The retention target as a manager types it on the dashboard (RetentionTarget.clean checks the values)."""

from __future__ import annotations

from django import forms

from tenure.insights.models import RetentionTarget


class RetentionTargetForm(forms.ModelForm):
    class Meta:
        model = RetentionTarget
        fields = ["baseline_annual_churn", "target_annual_churn", "start_date", "target_date"]
        labels = {
            "baseline_annual_churn": "Annual churn at the start (0.32 for 32%)",
            "target_annual_churn": "Annual churn to reach (0.05 for 5%)",
            "start_date": "From",
            "target_date": "By",
        }
        widgets = {
            "baseline_annual_churn": forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "1"}),
            "target_annual_churn": forms.NumberInput(attrs={"step": "0.001", "min": "0", "max": "1"}),
            "start_date": forms.DateInput(attrs={"type": "date"}),
            "target_date": forms.DateInput(attrs={"type": "date"}),
        }
