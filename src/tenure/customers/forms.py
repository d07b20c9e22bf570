"""Forms for the customer pages; they only collect input, the services validate and write."""

from __future__ import annotations

from django import forms

from tenure.customers.models import CustomerKind, IdentityChannel, Lifecycle, Purpose


class CustomerForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=CustomerKind.choices)
    email = forms.CharField(max_length=254, required=False, help_text="Added as an e-mail identity")
    phone = forms.CharField(max_length=40, required=False, help_text="Any format; stored as +E.164")
    address = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
    preferred_channel = forms.ChoiceField(
        choices=[("", "No preference"), *IdentityChannel.choices], required=False
    )
    language = forms.CharField(max_length=10, initial="en")
    quiet_hours_start = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    quiet_hours_end = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
    opted_out_purposes = forms.MultipleChoiceField(
        choices=Purpose.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    tags = forms.CharField(max_length=500, required=False, help_text="Comma-separated")

    def clean_tags(self) -> list[str]:
        return [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]


class LifecycleForm(forms.Form):
    lifecycle = forms.ChoiceField(choices=Lifecycle.choices)
    reason = forms.CharField(max_length=200, required=False)
