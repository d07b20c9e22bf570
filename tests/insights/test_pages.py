"""Insights pages: managers see them, agents and technicians do not; the at-risk list shows reasons and actions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from tenure.customers.models import Lifecycle
from tenure.customers.services import create_customer
from tenure.insights.actions import next_best_action
from tenure.insights.models import CustomerScore, RetentionTarget

pytestmark = pytest.mark.django_db


def _score(
    name: str, probability: float, reasons: list[dict[str, object]], lifecycle: str = Lifecycle.ACTIVE
) -> None:
    customer = create_customer(name=name, lifecycle=lifecycle)
    CustomerScore.objects.create(
        customer=customer,
        churn_probability=probability,
        reasons=reasons,
        expected_value_12m=420.0,
        next_best_action=next_best_action(probability, reasons),
        scored_at=timezone.now(),
    )


def test_at_risk_list_orders_by_risk_and_explains(client_as: Callable[[str], Client]) -> None:
    unanswered = [{"feature": "unanswered_requests_30d", "text": "3 unanswered requests in the last 30 days"}]
    _score("Risky Rita", 0.81, unanswered)
    _score("Calm Carl", 0.12, [])
    _score("Gone Gary", 0.95, unanswered, lifecycle=Lifecycle.LOST)
    manager = client_as("manager")
    page = manager.get("/insights/at-risk/", {"min": "0"})
    body = page.content.decode()
    assert page.status_code == 200
    assert body.index("Risky Rita") < body.index("Calm Carl")
    assert "Gone Gary" not in body  # already lost: nothing left to save
    assert "3 unanswered requests in the last 30 days" in body and "81%" in body
    assert "Call today and close the open request" in body
    only_high = manager.get("/insights/at-risk/", {"min": "0.5"}).content.decode()
    assert "Risky Rita" in only_high and "Calm Carl" not in only_high
    assert manager.get("/insights/at-risk/", {"min": "lots"}).status_code == 200


@pytest.mark.parametrize("role", ["agent", "dispatcher", "technician"])
def test_insights_are_for_managers(role: str, client_as: Callable[[str], Client]) -> None:
    client = client_as(role)
    assert client.get("/insights/").status_code == 403
    assert client.get("/insights/at-risk/").status_code == 403


def test_dashboard_renders_without_any_data(client_as: Callable[[str], Client]) -> None:
    response = client_as("manager").get("/insights/")
    assert response.status_code == 200 and b"customers at high risk" in response.content


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ("callbacks_90d", "Call today"),
        ("jobs_late_365d", "offer a priority slot"),
        ("nps_last", "Manager call"),
        ("payment_late_365d", "payment plan"),
        ("days_since_two_way_contact", "stay-in-touch"),
        ("tenure_days", "Call to check in"),
    ],
)
def test_next_best_action_follows_the_top_reason(feature: str, expected: str) -> None:
    assert expected in next_best_action(0.7, [{"feature": feature}])


def test_no_action_for_low_risk_without_reasons() -> None:
    assert next_best_action(0.1, []) == ""
    assert next_best_action(None, []) == ""


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"baseline_annual_churn": 32, "target_annual_churn": 0.05}, "baseline_annual_churn"),
        (
            {"baseline_annual_churn": 0.32, "target_annual_churn": 0.05, "target_date": "2025-01-01"},
            "target_date",
        ),
    ],
)
def test_a_target_that_makes_no_sense_is_refused(fields: dict[str, object], field: str) -> None:
    values = {"start_date": dt.date(2026, 1, 1), "target_date": dt.date(2028, 1, 1)} | fields
    with pytest.raises(ValidationError) as error:
        RetentionTarget(**values).full_clean()
    assert field in error.value.message_dict
