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


@pytest.mark.parametrize(("role", "at_risk"), [("agent", 200), ("dispatcher", 403), ("technician", 403)])
def test_the_dashboard_is_for_managers_and_the_at_risk_list_for_those_who_work_customers(
    role: str, at_risk: int, client_as: Callable[[str], Client]
) -> None:
    client = client_as(role)
    assert client.get("/insights/").status_code == 403
    assert client.get("/insights/at-risk/").status_code == at_risk


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


SILENT = [{"feature": "days_since_two_way_contact", "text": "no two-way contact for 200 days"}]
UNANSWERED = [{"feature": "unanswered_requests_30d", "text": "3 unanswered requests in the last 30 days"}]


@pytest.mark.parametrize("role", ["agent", "manager"])
def test_a_customer_at_risk_is_enrolled_in_the_journey_their_reason_calls_for(
    role: str, client_as: Callable[[str], Client]
) -> None:
    from tenure.journeys.models import Enrollment

    _score("Quiet Quinn", 0.6, SILENT)
    _score("Waiting Wanda", 0.7, UNANSWERED)
    client = client_as(role)
    body = client.get("/insights/at-risk/").content.decode()
    assert "Enroll in Stay in touch" in body.split("Quiet Quinn")[1].split("</tr>")[0]
    assert "Call them: Call today and close the open request" in body
    quinn = CustomerScore.objects.get(customer__name="Quiet Quinn").customer
    response = client.post(f"/insights/at-risk/{quinn.pk}/enroll/")
    assert response.status_code == 303
    assert Enrollment.objects.filter(customer=quinn, journey__key="stay-in-touch").count() == 1
    assert "Enrolled in" in client.get("/insights/at-risk/").content.decode()


def test_no_journey_for_a_failure_a_person_must_fix_and_nothing_is_enrolled(
    client_as: Callable[[str], Client],
) -> None:
    from tenure.journeys.models import Enrollment

    _score("Waiting Wanda", 0.7, UNANSWERED)
    wanda = CustomerScore.objects.get().customer
    before = Enrollment.objects.count()  # creating a customer may start a welcome journey
    agent = client_as("agent")
    response = agent.post(f"/insights/at-risk/{wanda.pk}/enroll/")
    assert response.status_code == 400
    assert "no active journey answers this customer" in response.content.decode()
    assert agent.post("/insights/at-risk/999999/enroll/").status_code == 400
    assert Enrollment.objects.count() == before


def test_a_switched_off_journey_is_not_offered(client_as: Callable[[str], Client]) -> None:
    from tenure.journeys.models import Journey

    Journey.objects.filter(key="stay-in-touch").update(is_active=False)
    _score("Quiet Quinn", 0.6, SILENT)
    body = client_as("manager").get("/insights/at-risk/").content.decode()
    assert "Enroll in Stay in touch" not in body and "Call them: Enroll in the stay-in-touch journey" in body


@pytest.mark.parametrize("role", ["dispatcher", "technician"])
def test_other_roles_cannot_enroll(role: str, client_as: Callable[[str], Client]) -> None:
    from tenure.journeys.models import Enrollment

    _score("Quiet Quinn", 0.6, SILENT)
    quinn = CustomerScore.objects.get().customer
    before = Enrollment.objects.count()
    assert client_as(role).post(f"/insights/at-risk/{quinn.pk}/enroll/").status_code == 403
    assert Enrollment.objects.count() == before


@pytest.mark.parametrize(
    ("feature", "code"),
    [
        ("days_since_two_way_contact", "no_contact"),
        ("late_payments_365d", "late_payment"),
        ("renewals_365d", "renewal_due"),
        ("unanswered_requests_30d", None),
        ("late_jobs_90d", None),
        ("mystery_feature", "high_risk"),
    ],
)
def test_the_reason_decides_between_a_journey_and_a_call(feature: str, code: str | None) -> None:
    from tenure.insights.actions import journey_reason

    assert journey_reason(0.5, [{"feature": feature}]) == code
    assert journey_reason(0.1, []) is None
