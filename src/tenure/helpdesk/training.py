"""Retraining the triage classifier on the business's own resolved requests; the model is stored as data.

Rows: resolved or closed requests with a department (text = subject + the customer's first message,
label = department slug). A fifth is held out to report accuracy and macro-F1 before the final model is
fitted on every row. The new model becomes the active one; older ones stay for the record.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import OuterRef, Subquery

from tenure.core.progress import ProgressFn, no_progress
from tenure.helpdesk.conf import current
from tenure.helpdesk.models import DONE_STATUSES, Direction, Request, RequestMessage, TriageModel
from tenure.helpdesk.triage import embeddings
from tenure.helpdesk.triage.classifier import TriageClassifier, TriageModelError
from tenure.helpdesk.triage.metrics import scores

MIN_ROWS = 20
MIN_PER_LABEL = 2
CHUNK = 256
MAX_CHARS = 1000


@dataclass(frozen=True)
class Dataset:
    texts: list[str]
    labels: list[str]


def training_rows(limit: int = 50_000) -> Dataset:
    first_message = (
        RequestMessage.objects.filter(request=OuterRef("pk"), direction=Direction.INBOUND)
        .order_by("created_at", "id")
        .values("body")[:1]
    )
    rows = (
        Request.objects.filter(status__in=DONE_STATUSES, department__isnull=False, merged_into__isnull=True)
        .annotate(first_body=Subquery(first_message))
        .order_by("-resolved_at", "-id")
        .values_list("subject", "first_body", "department__slug")[:limit]
    )
    texts, labels = [], []
    for subject, body, label in rows:
        text = f"{subject}\n{body or ''}".strip()[:MAX_CHARS]
        if text:
            texts.append(text)
            labels.append(label)
    return Dataset(texts, labels)


def _embed(texts: list[str], progress: ProgressFn) -> np.ndarray:
    out = np.zeros((len(texts), embeddings.DIMENSIONS), dtype=np.float32)
    for start in range(0, len(texts), CHUNK):
        out[start : start + CHUNK] = embeddings.embed(texts[start : start + CHUNK])
        progress("embed", min(start + CHUNK, len(texts)), len(texts))
    return out


def retrain(*, progress: ProgressFn = no_progress, seed: int = 7) -> TriageModel:
    data = training_rows()
    counts: dict[str, int] = {}
    for label in data.labels:
        counts[label] = counts.get(label, 0) + 1
    usable = {label for label, n in counts.items() if n >= MIN_PER_LABEL}
    pairs = [(t, lab) for t, lab in zip(data.texts, data.labels, strict=True) if lab in usable]
    if len(pairs) < MIN_ROWS or len(usable) < 2:
        raise TriageModelError(
            f"need at least {MIN_ROWS} resolved requests with a department in at least two departments "
            f"(with {MIN_PER_LABEL}+ each); found {len(pairs)} in {len(usable)}"
        )
    texts = [t for t, _ in pairs]
    labels = [lab for _, lab in pairs]
    vectors = _embed(texts, progress)
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    cut = max(1, len(order) // 5)
    test_idx, train_idx = order[:cut], order[cut:]
    threshold = current().triage_threshold
    holdout: dict[str, float | int] = {}
    if len({labels[i] for i in train_idx}) >= 2:
        trial = TriageClassifier.train(
            [texts[i] for i in train_idx],
            [labels[i] for i in train_idx],
            threshold,
            vectors=vectors[train_idx],
        )
        guesses = [p.best_guess for p in trial.predict_vectors(vectors[test_idx])]
        holdout = {**scores([labels[i] for i in test_idx], guesses), "holdout_rows": len(test_idx)}
    progress("fit", 0, 1)
    model = TriageClassifier.train(texts, labels, threshold, vectors=vectors)
    progress("fit", 1, 1)
    with transaction.atomic():
        TriageModel.objects.filter(active=True).update(active=False)
        return TriageModel.objects.create(
            model=model.to_dict(),
            trained_rows=len(texts),
            metrics={**holdout, "labels": sorted(usable)},
            active=True,
        )
