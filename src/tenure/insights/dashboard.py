"""Turns stored insight snapshots and scores into what the dashboard page and the HTML report show."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.safestring import SafeString

from tenure.insights import selectors
from tenure.insights.charts import Series, bar_chart, line_chart


def _percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def _month_axis(months: list[str]) -> Any:
    return lambda x: months[int(x)] if 0 <= int(x) < len(months) else ""


def churn_chart(retention: dict[str, Any]) -> SafeString:
    months = [row for row in retention["churn"]["months"] if row["rate"] is not None]
    labels = [row["month"] for row in months]
    points = [(float(index), row["rate"]) for index, row in enumerate(months)]
    return line_chart(
        [Series("Monthly churn", points)] if points else [],
        title="Customers lost each month, as a share of those at the start of the month",
        x_labels=_month_axis(labels),
        y_format=_percent,
        y_min=0,
    )


def target_chart(target: dict[str, Any]) -> SafeString:
    actual = [(month, rate) for month, rate in target["actual"] if rate is not None]
    start, end = (dt.date.fromisoformat(day) for day, _ in target["path"])
    span = (end - start).days or 1

    def position(month: str) -> float:
        return (dt.date.fromisoformat(f"{month}-01") - start).days / span

    path = [(0.0, target["baseline"]), (1.0, target["target"])]
    series = [
        Series("Straight path to target", path),
        Series("Trailing 12-month churn", [(position(m), r) for m, r in actual]),
    ]
    return line_chart(
        series,
        title="Annual churn against the path to the target",
        x_labels=lambda x: (start + dt.timedelta(days=x * span)).strftime("%b %Y"),
        y_format=_percent,
        y_min=0,
    )


def survival_chart(survival: dict[str, Any]) -> SafeString:
    series = [
        Series(
            f"{curve['segment']} ({curve['customers']})",
            [(days, value) for days, value, _, _ in curve["points"]],
            band=[(days, low, high) for days, _, low, high in curve["points"]],
        )
        for curve in survival["curves"]
    ]
    return line_chart(
        series,
        title="Share of customers still with us, by days since they joined (95% band)",
        x_labels=lambda x: f"{x:.0f}d",
        y_format=_percent,
        y_max=1.0,
    )


def drivers_chart(drivers: dict[str, Any]) -> SafeString:
    bars = [
        (row["label"], row["kept_per_year"], row["kept_low"], row["kept_high"])
        for row in drivers["drivers"]
        if row["kept_per_year"] is not None
    ]
    return bar_chart(
        bars, title="Customers a year kept if this failure were halved", value_format=lambda v: f"{v:.0f}"
    )


def departments_chart(drivers: dict[str, Any]) -> SafeString:
    bars = [(row["department"], row["kept_per_year"], None, None) for row in drivers["departments"]]
    return bar_chart(
        bars,
        title="Customers a year kept if each department halved its failures",
        value_format=lambda v: f"{v:.0f}",
    )


def cohort_rows(cohorts: dict[str, Any]) -> list[dict[str, Any]]:
    """Cells with a shade from their retention share, for a heat-map table."""
    rows = []
    for row in cohorts["rows"]:
        cells = [
            {
                "text": "" if share is None else f"{share:.0%}",
                "shade": 0 if share is None else round((1 - share) * 100),
            }
            for share in row["retained"]
        ]
        rows.append({"cohort": row["cohort"], "customers": row["customers"], "cells": cells})
    return rows


def build_context() -> dict[str, Any]:
    payloads = selectors.latest_payloads(("retention", "drivers", "scorecard"))
    snapshot = selectors.latest_snapshot("retention")
    context: dict[str, Any] = {
        "risk": selectors.risk_summary(),
        "model": selectors.active_model(),
        "computed_at": snapshot.computed_at if snapshot else None,
        "retention": payloads["retention"],
        "drivers": payloads["drivers"],
        "scorecard": payloads["scorecard"],
    }
    if retention := payloads["retention"]:
        context["churn_chart"] = churn_chart(retention)
        context["survival_chart"] = survival_chart(retention["survival"])
        context["cohorts"] = cohort_rows(retention["cohorts"])
        if retention.get("target"):
            context["target_chart"] = target_chart(retention["target"])
    if drivers := payloads["drivers"]:
        context["drivers_chart"] = drivers_chart(drivers)
        context["departments_chart"] = departments_chart(drivers)
    return context
