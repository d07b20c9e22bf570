"""A logistic-regression classifier over sentence embeddings, stored as plain JSON data.

Training uses scikit-learn; prediction needs only the stored coefficients (a softmax over a linear map),
so a saved model is data that anyone can read, diff or audit, and loading it never runs code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tenure.helpdesk.triage import embeddings

FORMAT = "tenure.triage.logreg/1"
# Below this probability for the best label a request goes to the triage queue instead of a guess.
DEFAULT_THRESHOLD = 0.5
# Inverse regularisation strength: unit-length 384-d embeddings have small coordinates, so the
# weights need room (C=1 underfits them).
DEFAULT_C = 10.0


class TriageModelError(ValueError):
    """Training rows or a stored model that cannot be used, with the reason."""


@dataclass(frozen=True)
class Prediction:
    label: str | None  # None: not confident enough, the request goes to the triage queue
    confidence: float
    best_guess: str


@dataclass
class TriageClassifier:
    classes: list[str]
    coef: np.ndarray  # [n_classes, 384]
    intercept: np.ndarray  # [n_classes]
    threshold: float = DEFAULT_THRESHOLD

    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        threshold: float = DEFAULT_THRESHOLD,
        c: float = DEFAULT_C,
        vectors: np.ndarray | None = None,
    ) -> TriageClassifier:
        """Fit on (text, label) rows; pass `vectors` when the texts are already embedded."""
        if len(texts) != len(labels):
            raise TriageModelError(f"{len(texts)} texts but {len(labels)} labels")
        distinct = sorted(set(labels))
        if len(distinct) < 2:
            raise TriageModelError(f"training needs at least two different labels, got {len(distinct)}")
        x = embeddings.embed(texts) if vectors is None else vectors
        # Imported here, not at the top: scikit-learn takes about a second to import, and every process
        # that loads the apps (each worker, each restart of one) would pay it. Only training needs it.
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=2000)
        model.fit(x, list(labels))
        coef = np.asarray(model.coef_, dtype=np.float64)
        intercept = np.asarray(model.intercept_, dtype=np.float64)
        if len(model.classes_) == 2:
            # scikit-learn keeps one row for two classes; softmax over [0, z] gives the same probabilities.
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        return cls([str(c_) for c_ in model.classes_], coef, intercept, threshold)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        logits = vectors.astype(np.float64) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        result: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
        return result

    def predict_vectors(self, vectors: np.ndarray) -> list[Prediction]:
        probs = self.probabilities(vectors)
        best = probs.argmax(axis=1)
        predictions = []
        for row, index in enumerate(best):
            confidence = float(probs[row, index])
            label = self.classes[index]
            predictions.append(Prediction(label if confidence >= self.threshold else None, confidence, label))
        return predictions

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return self.predict_vectors(embeddings.embed(texts))

    def predict_one(self, text: str) -> Prediction:
        return self.predict([text])[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "embedding": "all-MiniLM-L6-v2 int8 onnx, mean pooling, L2 norm",
            "threshold": self.threshold,
            "classes": self.classes,
            "intercept": self.intercept.tolist(),
            "coef": self.coef.tolist(),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TriageClassifier:
        if data.get("format") != FORMAT:
            raise TriageModelError(f"not a triage model (format {data.get('format')!r}, expected {FORMAT!r})")
        classes = [str(c) for c in data["classes"]]
        coef = np.asarray(data["coef"], dtype=np.float64)
        intercept = np.asarray(data["intercept"], dtype=np.float64)
        if coef.shape != (len(classes), embeddings.DIMENSIONS) or intercept.shape != (len(classes),):
            raise TriageModelError(
                f"triage model shapes do not match: {len(classes)} classes, coef {coef.shape}, "
                f"intercept {intercept.shape}"
            )
        return cls(classes, coef, intercept, float(data["threshold"]))

    @classmethod
    def from_json(cls, text: str) -> TriageClassifier:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise TriageModelError(f"triage model is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise TriageModelError("triage model must be a JSON object")
        return cls.from_dict(data)
