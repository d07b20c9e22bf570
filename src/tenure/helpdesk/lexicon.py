"""Urgency and sentiment from word lists (English), not a model.

This is a plain, documented rule approach: no sentiment model ships inside an installed package, and
nothing may be downloaded. A word from a list counts once; a negation just before a positive word turns
it negative ("not happy"). Text in other languages scores neutral / normal, which is the honest answer
for a lexicon that does not know them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[a-z']+")

URGENT_WORDS = frozenset(
    [
        "urgent",
        "urgently",
        "emergency",
        "asap",
        "immediately",
        "flood",
        "flooding",
        "flooded",
        "leak",
        "leaking",
        "gas",
        "smoke",
        "fire",
        "sparks",
        "dangerous",
        "danger",
        "unsafe",
        "burst",
        "outage",
        "down",
        "broken",
        "stuck",
        "trapped",
        "today",
        "tonight",
    ]
)
URGENT_PHRASES = ("as soon as possible", "right now", "no heat", "no hot water", "no power", "not working")
LOW_WORDS = frozenset(["whenever", "sometime", "eventually", "fyi", "curious", "wondering"])

NEGATIVE_WORDS = frozenset(
    [
        "angry",
        "annoyed",
        "awful",
        "bad",
        "cancel",
        "cancelling",
        "complain",
        "complaint",
        "disappointed",
        "disappointing",
        "disgusted",
        "frustrated",
        "frustrating",
        "furious",
        "horrible",
        "hopeless",
        "ignored",
        "incompetent",
        "joke",
        "ridiculous",
        "rude",
        "terrible",
        "unacceptable",
        "unhappy",
        "upset",
        "useless",
        "waste",
        "worst",
        "lawyer",
        "refund",
        "never",
        "again",
        "still",
        "nobody",
    ]
)
POSITIVE_WORDS = frozenset(
    [
        "thanks",
        "thank",
        "great",
        "excellent",
        "happy",
        "pleased",
        "perfect",
        "wonderful",
        "appreciate",
        "appreciated",
        "helpful",
        "love",
        "lovely",
        "fantastic",
        "awesome",
        "brilliant",
        "glad",
    ]
)
NEGATIONS = frozenset(
    ["not", "no", "never", "don't", "didn't", "isn't", "wasn't", "aren't", "won't", "can't", "cannot"]
)


@dataclass(frozen=True)
class Tone:
    urgency: str  # low / normal / high
    sentiment: str  # negative / neutral / positive
    score: float  # positive minus negative hits over hits, -1..1 (0 when none)


def read_tone(text: str) -> Tone:
    lowered = (text or "").lower()
    words = _WORD.findall(lowered)
    urgent = sum(word in URGENT_WORDS for word in words) + sum(p in lowered for p in URGENT_PHRASES)
    low = sum(word in LOW_WORDS for word in words)
    positive = negative = 0
    for index, word in enumerate(words):
        negated = index > 0 and words[index - 1] in NEGATIONS
        if word in POSITIVE_WORDS:
            if negated:
                negative += 1
            else:
                positive += 1
        elif word in NEGATIVE_WORDS:
            negative += 1
    hits = positive + negative
    score = (positive - negative) / hits if hits else 0.0
    sentiment = "negative" if score < -0.2 else "positive" if score > 0.2 else "neutral"
    urgency = "high" if urgent else "low" if low else "normal"
    return Tone(urgency=urgency, sentiment=sentiment, score=round(score, 3))
