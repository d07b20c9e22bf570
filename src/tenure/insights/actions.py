"""The next best action for a customer at risk, chosen from why they are at risk.

A reason names the feature that pushed the risk up most; the first rule whose keyword appears in that
feature's name decides. Order matters: specific failures before general silence.

Failures someone has to put right (an open request, a bad visit, a survey complaint) call for a person:
"call them". Silence, money and renewals have a journey that answers them (journeys' reason codes,
`journeys.selectors.journey_for_reason`); so does high risk with no reason a rule knows ("high_risk").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (keywords in the feature's name, what to do, the journeys reason code that answers it or None for a person)
RULES: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    (("unanswered", "callback", "repeat"), "Call today and close the open request they keep chasing", None),
    (("sla", "breach", "response"), "Have a lead reply personally with a firm date", None),
    (("not_fixed", "reopen"), "Send a technician back and confirm the fix", None),
    (("payment", "billing", "overdue"), "Offer a payment plan before the next reminder", "late_payment"),
    (("late", "missed", "window"), "Apologise for the visit and offer a priority slot", None),
    (("nps", "csat", "survey"), "Manager call to hear what went wrong", None),
    (("contact", "silence", "recency", "days_since"), "Enroll in the stay-in-touch journey", "no_contact"),
    (("renewal", "contract", "plan"), "Talk through the renewal before it is due", "renewal_due"),
)
# A one-in-five chance of leaving within the model's horizon (90 days) is already high for a service business.
HIGH_RISK = 0.2
DEFAULT_ACTION = "Call to check in"


def next_best_action(probability: float | None, reasons: Sequence[dict[str, Any]]) -> str:
    if probability is None or (probability < HIGH_RISK and not reasons):
        return ""
    for reason in reasons:
        feature = str(reason.get("feature", "")).lower()
        for keywords, action, _ in RULES:
            if any(keyword in feature for keyword in keywords):
                return action
    return DEFAULT_ACTION if probability >= HIGH_RISK else ""


def journey_reason(probability: float | None, reasons: Sequence[dict[str, Any]]) -> str | None:
    """The journeys reason code for this customer's next best action, or None when a person should call."""
    if probability is None or (probability < HIGH_RISK and not reasons):
        return None
    for reason in reasons:
        feature = str(reason.get("feature", "")).lower()
        for keywords, _, code in RULES:
            if any(keyword in feature for keyword in keywords):
                return code
    return "high_risk" if probability >= HIGH_RISK else None
