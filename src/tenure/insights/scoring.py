"""Score every live customer: churn probability with its reasons, and customer value, written in one go.

Everything slow (the extract, training when no usable model is active, features, predictions, customer
value) happens before the database is written. The writes (a newly trained model, every CustomerScore,
removing the scores of customers who are no longer live) are then one transaction, so a failed run
leaves the previous scores and models exactly as they were.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from django.db import transaction
from django.utils import timezone

from tenure.core.progress import ProgressFn, no_progress
from tenure.customers.models import Customer
from tenure.insights import churn
from tenure.insights.actions import next_best_action
from tenure.insights.clv import ClvError, score_clv
from tenure.insights.extract import TimelineExtract, extract_from_database
from tenure.insights.features import build_features
from tenure.insights.models import ChurnModel, CustomerScore
from tenure.insights.selectors import active_model

WRITE_BATCH = 5000
UPDATED_FIELDS = [
    "model",
    "churn_probability",
    "reasons",
    "p_alive",
    "expected_purchases_12m",
    "expected_value_12m",
    "next_best_action",
    "scored_at",
]
# progress(stage, done, total)


@dataclass
class ScoringResult:
    scored: int
    removed: int
    model_version: int
    trained: bool
    scored_at: dt.datetime
    clv_note: str = ""  # why the customer-value fields were left empty, if they were

    def as_dict(self) -> dict[str, Any]:
        return {
            "scored": self.scored,
            "removed": self.removed,
            "model_version": self.model_version,
            "trained": self.trained,
            "scored_at": self.scored_at.isoformat(),
            "clv": self.clv_note or "filled",
        }


@dataclass
class _Scores:
    customer_ids: np.ndarray
    probabilities: np.ndarray
    reasons: list[list[dict[str, Any]]]
    clv: dict[int, tuple[float, float, float]]
    clv_note: str = ""


def _usable_model(retrain: bool) -> churn.LoadedModel | None:
    row = None if retrain else active_model()
    if row is None:
        return None
    try:
        return churn.LoadedModel.from_row(row)
    except churn.ChurnDataError:
        return None  # made for another algorithm: train a fresh one


def _customer_value(
    extract: TimelineExtract, now: dt.datetime
) -> tuple[dict[int, tuple[float, float, float]], str]:
    try:
        _, frame = score_clv(extract, now, horizon_days=365)
    except ClvError as error:
        return {}, str(error)
    rows = frame.select("customer_id", "p_alive", "expected_purchases", "expected_value").iter_rows()
    return {int(c): (float(a), float(p), float(v)) for c, a, p, v in rows}, ""


def _batches(scores: _Scores, model_pk: int | None, now: dt.datetime) -> Iterator[list[CustomerScore]]:
    for start in range(0, scores.customer_ids.size, WRITE_BATCH):
        batch = []
        for i in range(start, min(start + WRITE_BATCH, scores.customer_ids.size)):
            customer_id = int(scores.customer_ids[i])
            probability = float(scores.probabilities[i])
            reasons = scores.reasons[i]
            p_alive, purchases, value = scores.clv.get(customer_id, (None, None, None))
            batch.append(
                CustomerScore(
                    customer_id=customer_id,
                    model_id=model_pk,
                    churn_probability=probability,
                    reasons=reasons,
                    p_alive=p_alive,
                    expected_purchases_12m=purchases,
                    expected_value_12m=value,
                    next_best_action=next_best_action(probability, reasons),
                    scored_at=now,
                )
            )
        yield batch


def score_customers(
    now: dt.datetime | None = None,
    *,
    retrain: bool = False,
    extract: TimelineExtract | None = None,
    progress: ProgressFn = no_progress,
) -> ScoringResult:
    """Write a CustomerScore for every live customer; raises churn.ChurnDataError (changing nothing) when the
    history is too short to train a model."""
    now = now or timezone.now()
    if extract is None:
        progress("extract", 0, 1)
        extract = extract_from_database()
        progress("extract", 1, 1)
    loaded = _usable_model(retrain)
    new_row: ChurnModel | None = None
    if loaded is not None:
        progress("features", 0, 1)
        features = build_features(extract, now)
        progress("features", 1, 1)
        if any(name not in features.columns for name in loaded.names):
            loaded = None  # the stored model asks for features this version no longer computes
    if loaded is None:
        progress("train", 0, 1)
        new_row = churn.fit_model(extract, as_of=now)
        loaded = churn.LoadedModel(
            0, churn.gbm.load(new_row.model_text), new_row.calibration, new_row.features
        )
        progress("train", 1, 1)
        progress("features", 0, 1)
        features = build_features(extract, now)
        progress("features", 1, 1)
    progress("predict", 0, 1)
    scores = _predict(loaded, features, extract, now)
    progress("predict", 1, 1)
    with transaction.atomic():
        model_pk: int | None = loaded.pk
        version = loaded.version
        if new_row is not None:
            churn.store_model(new_row)
            model_pk, version = new_row.pk, new_row.version
        written = _write(scores, model_pk, now, progress)
        removed, _ = CustomerScore.objects.exclude(scored_at=now).delete()
    return ScoringResult(written, removed, version, new_row is not None, now, scores.clv_note)


def _predict(
    loaded: churn.LoadedModel, features: pl.DataFrame, extract: TimelineExtract, now: dt.datetime
) -> _Scores:
    clv, note = _customer_value(extract, now)
    return _Scores(
        customer_ids=features["customer_id"].to_numpy(),
        probabilities=loaded.predict(features),
        reasons=loaded.explain(features),
        clv=clv,
        clv_note=note,
    )


def _write(scores: _Scores, model_pk: int | None, now: dt.datetime, progress: ProgressFn) -> int:
    # A customer deleted since the extract has no row to point at; skip it rather than fail the run.
    existing = set(Customer.objects.values_list("pk", flat=True))
    keep = np.fromiter(
        (int(c) in existing for c in scores.customer_ids), dtype=bool, count=scores.customer_ids.size
    )
    if not keep.all():
        scores = _Scores(
            scores.customer_ids[keep],
            scores.probabilities[keep],
            [r for r, k in zip(scores.reasons, keep, strict=True) if k],
            scores.clv,
            scores.clv_note,
        )
    total = int(scores.customer_ids.size)
    written = 0
    progress("write", 0, total)
    for batch in _batches(scores, model_pk, now):
        CustomerScore.objects.bulk_create(
            batch, update_conflicts=True, unique_fields=["customer"], update_fields=UPDATED_FIELDS
        )
        written += len(batch)
        progress("write", written, total)
    return written
