"""Setting the retention target on the dashboard: managers may, agents may not, bad values change nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tenure.core.models import AuditLog
from tenure.insights.models import InsightSnapshot, RetentionTarget
from tenure.insights.retention import retention_report

from .handmade import Builder, day

pytestmark = pytest.mark.django_db
AS_OF = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

GOOD = {
    "baseline_annual_churn": "0.32",
    "target_annual_churn": "0.05",
    "start_date": "2026-01-01",
    "target_date": "2028-01-01",
}


def _stored_report() -> dict[str, Any]:
    """A retention snapshot as the nightly run leaves it, from a small hand-made company: 200 customers
    a year ago, one lost every month."""
    b = Builder()
    for cid in range(200):
        b.customer(
            cid,
            day(2025, 1, 1),
            lost=day(2025 + (5 + cid) // 12, (5 + cid) % 12 + 1, 15) if cid < 12 else None,
        )
    report = retention_report(b.build(), AS_OF).to_dict()
    InsightSnapshot.objects.create(kind="retention", payload=report)
    return report


def test_a_manager_sets_the_target_and_sees_progress_at_once(client_as: Callable[[str], Client]) -> None:
    churn = _stored_report()["churn"]
    manager = client_as("manager")
    assert 'action="/insights/target/"' in manager.get("/insights/").content.decode()
    response = manager.post("/insights/target/", GOOD)
    assert response.status_code == 302 and response["Location"].endswith("/insights/#target")
    target = RetentionTarget.objects.get()
    assert (target.baseline_annual_churn, target.target_date) == (0.32, dt.date(2028, 1, 1))
    assert AuditLog.objects.filter(action="insights.target_set", object_id=str(target.pk)).exists()

    progress = InsightSnapshot.objects.get(kind="retention").payload["target"]
    # 151 of 730 days gone: the straight path from 32% to 5% is at 32% - 27 points * 151/730 today.
    expected_now = 0.32 - 0.27 * (AS_OF.date() - dt.date(2026, 1, 1)).days / 730
    assert progress["expected_now"] == pytest.approx(expected_now)
    assert 0.05 < churn["trailing_12m"] < expected_now  # 12 of 200 lost in the year
    assert progress["current"] == pytest.approx(churn["trailing_12m"])
    assert progress["on_track"] is True
    page = manager.get("/insights/").content.decode()
    assert "<progress" in page and "on track" in page


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"baseline_annual_churn": "32"}, "baseline_annual_churn"),
        ({"target_annual_churn": "-0.1"}, "target_annual_churn"),
        ({"target_date": "2025-01-01"}, "target_date"),
        ({"start_date": "not a date"}, "start_date"),
    ],
)
def test_a_bad_target_is_refused_with_the_field_named_and_nothing_changes(
    change: dict[str, str], field: str, client_as: Callable[[str], Client]
) -> None:
    _stored_report()
    before = RetentionTarget.objects.create(
        baseline_annual_churn=0.3,
        target_annual_churn=0.1,
        start_date=dt.date(2026, 1, 1),
        target_date=dt.date(2027, 1, 1),
    )
    response = client_as("manager").post("/insights/target/", GOOD | change)
    assert response.status_code == 400
    assert field in response.context["target_form"].errors
    assert list(RetentionTarget.objects.all()) == [before]
    assert InsightSnapshot.objects.get(kind="retention").payload["target"] is None


@pytest.mark.parametrize("role", ["agent", "dispatcher", "technician"])
def test_other_roles_cannot_set_a_target(role: str, client_as: Callable[[str], Client]) -> None:
    response = client_as(role).post("/insights/target/", GOOD)
    assert response.status_code == 403
    assert not RetentionTarget.objects.exists()


def test_the_target_must_be_posted(client_as: Callable[[str], Client]) -> None:
    assert client_as("manager").get("/insights/target/").status_code == 405
