"""Customers, the people at them, and how to reach them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CustomerKind(models.TextChoices):
    PERSON = "person", "Person"
    COMPANY = "company", "Company"


class Lifecycle(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    ACTIVE = "active", "Active"
    LAPSED = "lapsed", "Lapsed"
    LOST = "lost", "Lost"


class Purpose(models.TextChoices):
    """What a message is for; customers opt out per purpose."""

    SERVICE_UPDATES = "service_updates", "Service updates"
    REMINDERS = "reminders", "Payment and renewal reminders"
    SURVEYS = "surveys", "Surveys"
    STAY_IN_TOUCH = "stay_in_touch", "Stay in touch"
    MARKETING = "marketing", "Marketing"


class IdentityChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    PHONE = "phone", "Phone"
    SOCIAL = "social", "Social handle"
    CHAT = "chat", "Chat visitor"


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    kind = models.CharField(max_length=10, choices=CustomerKind.choices, default=CustomerKind.PERSON)
    name = models.CharField(max_length=200)
    # The key of this customer in the system it was imported from; makes re-imports update, not duplicate.
    external_ref = models.CharField(max_length=100, unique=True, null=True, blank=True)
    address = models.TextField(blank=True, default="")

    lifecycle = models.CharField(max_length=10, choices=Lifecycle.choices, default=Lifecycle.PROSPECT)
    lost_at = models.DateTimeField(null=True, blank=True)
    lost_reason = models.CharField(max_length=200, blank=True, default="")

    assigned_rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")

    # Service tier for SLA policies (e.g. "gold"); blank is the standard tier.
    tier = models.CharField(max_length=20, blank=True, default="")
    preferred_channel = models.CharField(
        max_length=10, choices=IdentityChannel.choices, blank=True, default=""
    )
    language = models.CharField(max_length=10, default="en")
    time_zone = models.CharField(max_length=64, blank=True, default="")
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)
    opted_out_purposes = models.JSONField(default=list, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    # Timer column: when the sweeper should mark this customer lapsed if nothing happens before.
    lapse_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        permissions = [
            ("merge_customer", "Can merge two customers"),
            ("import_customers", "Can import customers and events"),
            ("export_customer", "Can export customers as CSV"),
        ]
        indexes = [models.Index(fields=["lifecycle"]), models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


class ContactPerson(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=100, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    phone = models.CharField(max_length=20, blank=True, default="")
    is_primary = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.name


class Identity(models.Model):
    """A normalised address at which a customer reaches us; one customer per address and channel."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    channel = models.CharField(max_length=10, choices=IdentityChannel.choices)
    value = models.CharField(max_length=254)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "value"], name="identity_unique_per_channel")
        ]
        verbose_name_plural = "identities"

    def __str__(self) -> str:
        return f"{self.channel}:{self.value}"
