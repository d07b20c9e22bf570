"""Triage of a new request: admin rules first, then the classifier trained on our own requests.

Below the classifier's confidence threshold (or with no classifier yet) the request goes to the triage
queue instead of a guess. Urgency and sentiment come from the lexicon (see `lexicon.py`); a rule may
override urgency and priority.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from tenure.helpdesk.conf import current
from tenure.helpdesk.lexicon import read_tone
from tenure.helpdesk.models import Department, Priority, TriageModel, TriageRule, TriageSource
from tenure.helpdesk.triage import embeddings
from tenure.helpdesk.triage.classifier import TriageClassifier, TriageModelError

_URGENCY_PRIORITY = {"high": Priority.HIGH, "normal": Priority.NORMAL, "low": Priority.LOW}


@dataclass(frozen=True)
class Triage:
    department: Department | None
    source: str
    confidence: float | None
    needs_triage: bool
    priority: str
    urgency: str
    sentiment: str
    rule: str = ""


def rule_matches(rule: TriageRule, *, text: str, channel: str, sender: str) -> bool:
    conditions = 0
    if rule.keywords.strip():
        conditions += 1
        words = [w.strip().lower() for w in rule.keywords.split(",") if w.strip()]
        if not any(word in text.lower() for word in words):
            return False
    if rule.regex.strip():
        conditions += 1
        try:
            if not re.search(rule.regex, text, flags=re.IGNORECASE):
                return False
        except re.error:
            return False  # admin validation refuses these; an old bad row must not break intake
    if rule.channel:
        conditions += 1
        if rule.channel != channel:
            return False
    if rule.sender_contains.strip():
        conditions += 1
        if rule.sender_contains.strip().lower() not in sender.lower():
            return False
    return conditions > 0


_cache_lock = threading.Lock()
_cached: tuple[int, TriageClassifier] | None = None


def active_classifier() -> TriageClassifier | None:
    """The newest active stored model (parsed once per process and model row)."""
    global _cached
    row = TriageModel.objects.filter(active=True).only("id").first()
    if row is None:
        return None
    with _cache_lock:
        if _cached is None or _cached[0] != row.pk:
            stored = TriageModel.objects.get(pk=row.pk)
            try:
                _cached = (row.pk, TriageClassifier.from_dict(stored.model))
            except TriageModelError:
                return None
        return _cached[1]


def triage(*, text: str, channel: str, sender: str, vector: np.ndarray | None = None) -> Triage:
    tone = read_tone(text)
    priority = _URGENCY_PRIORITY[tone.urgency]
    if tone.urgency == "high" and tone.sentiment == "negative":
        priority = Priority.URGENT
    for rule in TriageRule.objects.filter(active=True).select_related("department"):
        if rule_matches(rule, text=text, channel=channel, sender=sender):
            return Triage(
                department=rule.department,
                source=TriageSource.RULE,
                confidence=None,
                needs_triage=rule.department is None,
                priority=rule.priority or priority,
                urgency=rule.urgency or tone.urgency,
                sentiment=tone.sentiment,
                rule=rule.name,
            )
    classifier = active_classifier()
    if classifier is None:
        return Triage(None, TriageSource.NONE, None, True, priority, tone.urgency, tone.sentiment)
    vectors = embeddings.embed([text]) if vector is None else vector.reshape(1, -1)
    prediction = classifier.predict_vectors(vectors)[0]
    threshold = current().triage_threshold
    department = None
    if prediction.confidence >= threshold:
        department = Department.objects.filter(slug=prediction.best_guess, active=True).first()
    return Triage(
        department=department,
        source=TriageSource.CLASSIFIER if department else TriageSource.NONE,
        confidence=round(prediction.confidence, 4),
        needs_triage=department is None,
        priority=priority,
        urgency=tone.urgency,
        sentiment=tone.sentiment,
    )
