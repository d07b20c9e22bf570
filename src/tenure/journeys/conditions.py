"""Evaluate a journey's conditions against a customer, the triggering event and the enrollment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps

from tenure.customers.models import Customer

MISSING = object()


def churn_risk(customer_id: int) -> float | None:
    """The latest churn probability from insights, if that app is installed and has scored this customer.

    Insights sits above journeys, so it is looked up by name instead of imported.
    """
    if not apps.is_installed("tenure.insights"):
        return None
    score_model = apps.get_model("insights", "CustomerScore")
    value = (
        score_model.objects.filter(customer_id=customer_id)
        .values_list("churn_probability", flat=True)
        .first()
    )
    return None if value is None else float(value)


@dataclass
class Subject:
    """What a condition can look at."""

    customer: Customer
    event: Mapping[str, Any] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)
    tags: Callable[[], set[str]] | None = None
    risk: Callable[[int], float | None] = churn_risk

    def tag_names(self) -> set[str]:
        if self.tags is not None:
            return self.tags()
        return set(self.customer.tags.values_list("name", flat=True))


def _dig(value: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


def lookup(subject: Subject, name: str) -> Any:
    root, _, rest = name.partition(".")
    path = rest.split(".") if rest else []
    if root == "customer":
        if path == ["tags"]:
            return sorted(subject.tag_names())
        return getattr(subject.customer, path[0], MISSING) if len(path) == 1 else MISSING
    if root == "event":
        return _dig(subject.event, path)
    if root == "context":
        return _dig(subject.context, path)
    if root == "fact":
        return _dig(subject.context.get("fact", {}), path)
    if root == "risk":
        return subject.risk(subject.customer.pk)
    return MISSING


def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    """Dates compare with ISO strings; numbers with numeric strings."""
    if isinstance(left, dt.datetime) and isinstance(right, str):
        return left.isoformat(), right
    if isinstance(left, int | float) and isinstance(right, str):
        try:
            return left, float(right)
        except ValueError:
            return str(left), right
    return left, right


def holds(condition: Mapping[str, Any], subject: Subject) -> bool:
    if "any" in condition:
        return any(holds(inner, subject) for inner in condition["any"])
    op = condition.get("op", "eq")
    value = lookup(subject, condition["field"])
    if op == "exists":
        return value is not MISSING and value is not None and value != ""
    if op == "missing":
        return value is MISSING or value is None or value == ""
    if op == "has_tag":
        return str(condition["value"]) in subject.tag_names()
    if value is MISSING or value is None:
        return op in ("ne", "not_in")
    expected = condition["value"]
    if op == "in":
        return value in expected
    if op == "not_in":
        return value not in expected
    left, right = _comparable(value, expected)
    try:
        return {
            "eq": lambda: left == right,
            "ne": lambda: left != right,
            "gt": lambda: left > right,
            "gte": lambda: left >= right,
            "lt": lambda: left < right,
            "lte": lambda: left <= right,
        }[op]()
    except TypeError:
        return False


def all_hold(conditions: list[Mapping[str, Any]], subject: Subject) -> bool:
    return all(holds(condition, subject) for condition in conditions)
