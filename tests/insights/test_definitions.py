"""The churn definition the business chose (subscription or repeat purchase) drives the retention figures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from tenure.demo.generator import build_company
from tenure.insights import retention, selectors
from tenure.insights.definitions import REPEAT_PURCHASE, SUBSCRIPTION, churn_definition
from tenure.insights.extract import TimelineExtract
from tenure.insights.models import InsightSnapshot, InsightsSettings
from tenure.insights.services import refresh_snapshots
from tenure.insights.spans import RepeatPurchase, Subscription

from .handmade import Builder, day

AS_OF = day(2024, 7, 1, 0)


def _shop() -> TimelineExtract:
    """150 customers who all joined in January: 100 buy every week to the end, 50 stop in February.
    Nobody is ever marked lost, so only the repeat-purchase definition can see the 50 go."""
    b = Builder()
    for cid in range(150):
        joined = day(2024, 1, 1 + cid % 28)
        b.customer(cid, joined)
        stop = AS_OF if cid < 100 else day(2024, 2, 20)
        at = joined
        while at < stop:
            b.event(cid, "order.placed", at, amount=20.0)
            at += dt.timedelta(days=7 + cid % 3)
    return b.build()


def test_subscription_definition_sees_nobody_lost_without_a_loss_mark() -> None:
    report = retention.churn_by_month(_shop(), AS_OF, churn_definition(SUBSCRIPTION, 0.5))
    assert report.active_now == 150
    assert sum(month.lost for month in report.months) == 0


def test_repeat_purchase_definition_counts_the_customers_who_stopped_buying() -> None:
    shop = _shop()
    report = retention.churn_by_month(shop, AS_OF, churn_definition(REPEAT_PURCHASE, 0.5))
    assert report.active_now == 100
    assert sum(month.lost for month in report.months) == 50
    assert "below 50%" in report.definition
    # A stricter threshold can only lose fewer; a laxer one at least as many.
    strict = retention.churn_by_month(shop, AS_OF, churn_definition(REPEAT_PURCHASE, 0.01))
    lax = retention.churn_by_month(shop, AS_OF, churn_definition(REPEAT_PURCHASE, 0.99))
    assert strict.active_now >= report.active_now >= lax.active_now


@pytest.mark.parametrize(("kind", "threshold"), [("subscription", 0.0), ("repeat_purchase", 1.0), ("x", 0.5)])
def test_a_definition_that_makes_no_sense_is_refused(kind: str, threshold: float) -> None:
    if kind == "subscription":
        assert isinstance(churn_definition(kind, threshold), Subscription)  # the threshold is not used
        return
    with pytest.raises(ValueError, match=r"threshold|unknown business model"):
        churn_definition(kind, threshold)


@pytest.mark.django_db
@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.2, 1.5])
def test_settings_refuse_a_threshold_outside_zero_and_one(threshold: float) -> None:
    with pytest.raises(ValidationError) as error:
        InsightsSettings(business_model=REPEAT_PURCHASE, p_alive_threshold=threshold).full_clean()
    assert "p_alive_threshold" in error.value.message_dict


@pytest.mark.django_db
def test_the_settings_row_picks_the_definition_of_every_stored_figure(
    client_as: Callable[[str], Client],
) -> None:
    end = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    build_company(seed=3, customers=400, months=12, end=end, present=False)
    assert isinstance(selectors.churn_definition(), Subscription)  # no row: the default
    refresh_snapshots(now=end)
    subscription = InsightSnapshot.objects.filter(kind="retention").latest("pk").payload["churn"]

    InsightsSettings.objects.create(pk=1, business_model=REPEAT_PURCHASE, p_alive_threshold=0.5)
    definition = selectors.churn_definition()
    assert isinstance(definition, RepeatPurchase) and definition.threshold == 0.5
    refresh_snapshots(now=end)
    repeat = InsightSnapshot.objects.filter(kind="retention").latest("pk").payload["churn"]

    assert "contract" in subscription["definition"] and "below 50%" in repeat["definition"]
    # Marked-lost customers are lost under both; repeat purchase adds those who stopped buying.
    assert repeat["active_now"] < subscription["active_now"]
    lost = [sum(m["lost"] for m in churn["months"]) for churn in (subscription, repeat)]
    assert lost[1] > lost[0]
    page = client_as("manager").get("/insights/").content.decode()
    assert "below 50%" in page and f"<strong>{repeat['active_now']}</strong>" in page
