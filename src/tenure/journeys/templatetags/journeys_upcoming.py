"""`{% journeys_upcoming customer %}`: what journeys have scheduled next for a customer, for the customer page."""

from __future__ import annotations

from typing import Any

from django import template

from tenure.customers.models import Customer
from tenure.journeys import selectors

register = template.Library()


@register.inclusion_tag("journeys/_upcoming.html", takes_context=True)
def journeys_upcoming(context: dict[str, Any], customer: Customer) -> dict[str, Any]:
    user = context.get("user")
    if user is None or not user.has_perm("journeys.view_journey"):
        return {"upcoming": [], "tasks": []}
    return {
        "upcoming": selectors.upcoming_for_customer(customer),
        "tasks": list(selectors.open_tasks(customer=customer)[:10]),
    }
