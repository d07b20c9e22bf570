"""The next best action for a customer at risk, chosen from why they are at risk.

A reason names the feature that pushed the risk up most; the first rule whose keyword appears in that
feature's name decides. Order matters: specific failures before general silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

RULES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("unanswered", "callback", "repeat"), "Call today and close the open request they keep chasing"),
    (("sla", "breach", "response"), "Have a lead reply personally with a firm date"),
    (("not_fixed", "reopen"), "Send a technician back and confirm the fix"),
    (("payment", "billing", "overdue"), "Offer a payment plan before the next reminder"),
    (("late", "missed", "window"), "Apologise for the visit and offer a priority slot"),
    (("nps", "csat", "survey"), "Manager call to hear what went wrong"),
    (("contact", "silence", "recency", "days_since"), "Enroll in the stay-in-touch journey"),
)
# A one-in-five chance of leaving within the model's horizon (90 days) is already high for a service business.
HIGH_RISK = 0.2
DEFAULT_ACTION = "Call to check in"


def next_best_action(probability: float | None, reasons: Sequence[dict[str, Any]]) -> str:
    if probability is None or (probability < HIGH_RISK and not reasons):
        return ""
    for reason in reasons:
        feature = str(reason.get("feature", "")).lower()
        for keywords, action in RULES:
            if any(keyword in feature for keyword in keywords):
                return action
    return DEFAULT_ACTION if probability >= HIGH_RISK else ""
