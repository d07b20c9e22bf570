"""Accuracy and macro-F1 of predicted labels, plain Python so the figures are easy to audit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence


def accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
    if not truth:
        raise ValueError("no rows to score")
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of per-label F1 over every label that is true or predicted somewhere (as scikit-learn)."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predictions")
    if not truth:
        raise ValueError("no rows to score")
    hits = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    true_counts, predicted_counts = Counter(truth), Counter(predicted)
    scores = []
    for label in true_counts.keys() | predicted_counts.keys():
        denominator = true_counts[label] + predicted_counts[label]
        scores.append(2 * hits[label] / denominator if denominator else 0.0)
    return sum(scores) / len(scores)


def scores(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    return {"accuracy": accuracy(truth, predicted), "macro_f1": macro_f1(truth, predicted)}
