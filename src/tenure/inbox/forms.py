"""The public contact form. `website` is the honeypot: hidden from people, filled in by bots."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tenure.customers.identities import normalize_email, normalize_phone

HONEYPOT = "website"


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200, label="Your name")
    email = forms.EmailField(max_length=254, required=False, label="E-mail")
    phone = forms.CharField(max_length=40, required=False, label="Phone")
    subject = forms.CharField(max_length=200, required=False, label="Subject")
    message = forms.CharField(
        max_length=10_000, widget=forms.Textarea(attrs={"rows": 6}), label="How can we help?"
    )
    website = forms.CharField(
        required=False,
        label="Leave this empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def clean_email(self) -> str:
        value: str = self.cleaned_data.get("email", "")
        return normalize_email(value) if value else ""

    def clean_phone(self) -> str:
        value: str = self.cleaned_data.get("phone", "")
        if not value.strip():
            return ""
        try:
            return normalize_phone(value)
        except ValidationError:
            raise ValidationError("Enter a phone number we can call, e.g. +1 202 555 0143.") from None

    def clean_message(self) -> str:
        value: str = self.cleaned_data.get("message", "")
        if not value.strip():
            raise ValidationError("Tell us what you need.")
        return value.strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors and not data.get("email") and not data.get("phone"):
            raise ValidationError("Give an e-mail address or a phone number so we can answer you.")
        return data

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get(HONEYPOT, "").strip())
