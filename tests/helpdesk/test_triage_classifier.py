"""The triage classifier: training, JSON round-trip, abstention, metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import f1_score

from tenure.helpdesk.triage.classifier import TriageClassifier, TriageModelError
from tenure.helpdesk.triage.metrics import accuracy, macro_f1

ROWS = [
    ("I was charged twice on my invoice", "billing"),
    ("Why is my bill so high this month?", "billing"),
    ("Please refund the duplicate payment", "billing"),
    ("The invoice amount is wrong", "billing"),
    ("Can the technician come on Tuesday morning?", "scheduling"),
    ("I need to move my appointment to next week", "scheduling"),
    ("What time slots are free for a visit?", "scheduling"),
    ("Please book a visit for Friday afternoon", "scheduling"),
    ("The boiler you installed is leaking again", "service"),
    ("My heating stopped working after the repair", "service"),
    ("The device shows an error code and will not start", "service"),
    ("Something is broken since your engineer came", "service"),
]


@pytest.fixture(scope="module")
def model() -> TriageClassifier:
    texts, labels = zip(*ROWS, strict=True)
    return TriageClassifier.train(list(texts), list(labels), threshold=0.0)


def test_predicts_the_department(model: TriageClassifier) -> None:
    predictions = model.predict(
        ["There is a wrong charge on my bill", "Could you reschedule my appointment?"]
    )
    assert [p.label for p in predictions] == ["billing", "scheduling"]
    assert all(0 < p.confidence <= 1 for p in predictions)


def test_round_trip_through_json_keeps_every_probability(model: TriageClassifier) -> None:
    stored = model.to_json()
    data = json.loads(stored)  # plain data, no pickle
    assert data["classes"] == ["billing", "scheduling", "service"]
    loaded = TriageClassifier.from_json(stored)
    vectors = np.random.default_rng(0).normal(size=(5, 384)).astype(np.float32)
    np.testing.assert_array_equal(loaded.probabilities(vectors), model.probabilities(vectors))
    assert loaded.threshold == model.threshold


def test_below_the_threshold_goes_to_the_triage_queue(model: TriageClassifier) -> None:
    text = "There is a wrong charge on my bill"
    confident = model.predict_one(text)
    cautious = TriageClassifier(
        model.classes, model.coef, model.intercept, threshold=confident.confidence + 1e-6
    )
    queued = cautious.predict_one(text)
    assert queued.label is None
    assert queued.best_guess == confident.label
    at_threshold = TriageClassifier(
        model.classes, model.coef, model.intercept, threshold=confident.confidence
    )
    assert at_threshold.predict_one(text).label == confident.label


def test_two_labels_use_the_same_softmax() -> None:
    rows = [row for row in ROWS if row[1] != "service"]
    texts, labels = zip(*rows, strict=True)
    binary = TriageClassifier.train(list(texts), list(labels))
    assert binary.coef.shape == (2, 384)
    restored = TriageClassifier.from_json(binary.to_json())
    prediction = restored.predict_one("refund my double payment")
    assert prediction.best_guess == "billing"
    assert prediction.confidence > 0.5


def test_training_needs_two_labels() -> None:
    with pytest.raises(TriageModelError, match="at least two different labels"):
        TriageClassifier.train(["a", "b"], ["billing", "billing"])


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"format": "pickle"}', "not a triage model"),
        (
            '{"format": "tenure.triage.logreg/1", "classes": ["a"], "coef": [[1.0]], "intercept": [0], "threshold": 0.5}',
            "shapes do not match",
        ),
    ],
)
def test_bad_stored_models_are_refused(stored: str, message: str) -> None:
    with pytest.raises(TriageModelError, match=message):
        TriageClassifier.from_json(stored)


def test_metrics_match_scikit_learn() -> None:
    truth = ["a", "a", "b", "b", "c", "c", "c"]
    predicted = ["a", "b", "b", "b", "c", "a", "d"]
    assert accuracy(truth, predicted) == pytest.approx(4 / 7)
    assert macro_f1(truth, predicted) == pytest.approx(f1_score(truth, predicted, average="macro"))
    with pytest.raises(ValueError, match="no rows"):
        accuracy([], [])
