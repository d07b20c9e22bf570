"""Churn risk from the timeline: a time-based backtest, a calibrated LightGBM model stored as data, predictions
and each customer's top reasons in plain words.

Observation dates step back from the end of the history. At each date the features see only events before
it and the label is "lost within `horizon_days` after it". The backtest tests on the latest date whose
horizon has fully passed and trains only on dates whose label windows closed by then, so no training
feature or label overlaps the period being predicted. Calibration maps are fitted on out-of-fold
predictions grouped by customer (one customer's snapshots never sit on both sides of a fold).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
import pyarrow.compute as pc
from django.db import transaction
from django.db.models import Max
from sklearn.model_selection import GroupKFold

from tenure.insights import calibration, gbm, metrics
from tenure.insights.extract import TimelineExtract
from tenure.insights.features import build_features, churn_labels, describe
from tenure.insights.models import ChurnModel

HORIZON_DAYS = 90
STEP_DAYS = 30
TRAIN_DATES = 12  # more past dates helped on the demo (AUC 0.67 with 6, 0.70 with 10)
MIN_CUSTOMERS = 200
MIN_LEAVERS = 20
MIN_TEST_EACH = 5
CALIBRATION_FOLDS = 3
REASONS = 3
ALGORITHM = "lightgbm"


class ChurnDataError(ValueError):
    """Too little history (or a mismatched model) to train, test or score honestly."""


@dataclass
class Snapshots:
    """Feature rows stacked over observation dates, with their labels and the customer each belongs to."""

    x: np.ndarray
    y: np.ndarray
    customers: np.ndarray
    names: list[str]
    dates: list[dt.datetime]

    @property
    def rows(self) -> int:
        return int(self.y.size)


@dataclass
class BacktestResult:
    metrics: dict[str, Any]
    horizon_days: int
    test_date: dt.datetime
    train_dates: list[dt.datetime]
    train_rows: int
    train_customers: int
    calibration: str
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.metrics,
            "horizon_days": self.horizon_days,
            "test_date": self.test_date.isoformat(),
            "train_dates": [d.isoformat() for d in self.train_dates],
            "train_rows": self.train_rows,
            "train_customers": self.train_customers,
            "calibration": self.calibration,
            "model": ALGORITHM,
            **self.extra,
        }


def history_bounds(extract: TimelineExtract) -> tuple[dt.datetime, dt.datetime]:
    """First and last moment the timeline knows about (joins, events, losses)."""
    starts, ends = [], []
    for table, column in (
        (extract.customers, "joined_at"),
        (extract.events, "occurred_at"),
        (extract.customers, "lost_at"),
    ):
        if table.num_rows and table[column].null_count < table.num_rows:
            starts.append(pc.min(table[column]).as_py())
            ends.append(pc.max(table[column]).as_py())
    if not starts:
        raise ChurnDataError("not enough history to score: the timeline is empty")
    return min(starts), max(ends)


def observation_dates(
    last: dt.datetime, first: dt.datetime, *, count: int, step_days: int
) -> list[dt.datetime]:
    """Up to `count` dates stepping back from `last` by `step_days`, at least one step after `first`, oldest first."""
    earliest = first + dt.timedelta(days=step_days)
    dates = [last - dt.timedelta(days=step_days * k) for k in range(count)]
    return sorted(d for d in dates if d >= earliest)


def snapshots(extract: TimelineExtract, dates: list[dt.datetime], horizon_days: int) -> Snapshots:
    frames = []
    for as_of in dates:
        features = build_features(extract, as_of)
        labels = churn_labels(extract, as_of, horizon_days)
        frames.append(features.join(labels, on="customer_id", how="inner"))
    stacked = pl.concat(frames) if frames else pl.DataFrame()
    if stacked.is_empty():
        return Snapshots(np.empty((0, 0)), np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int64), [], dates)
    names = [c for c in stacked.columns if c not in ("customer_id", "churned")]
    return Snapshots(
        x=stacked.select(names).to_numpy().astype(np.float64),
        y=stacked["churned"].to_numpy().astype(np.int8),
        customers=stacked["customer_id"].to_numpy(),
        names=names,
        dates=dates,
    )


def _check_training(data: Snapshots) -> None:
    customers = int(np.unique(data.customers).size)
    if customers < MIN_CUSTOMERS:
        raise ChurnDataError(f"not enough history to score: {customers} customers, need {MIN_CUSTOMERS}")
    leavers = int(data.y.sum())
    if leavers < MIN_LEAVERS:
        raise ChurnDataError(
            f"not enough history to score: {leavers} customers lost in the training windows, need {MIN_LEAVERS}"
        )


@dataclass
class Fitted:
    booster: lgb.Booster
    calibration: dict[str, Any]
    names: list[str]


def fit(data: Snapshots, *, seed: int = 0) -> Fitted:
    """A booster on all rows plus a calibration map from customer-grouped out-of-fold predictions."""
    _check_training(data)
    folds = np.zeros(data.rows, dtype=np.int32)
    oof = np.zeros(data.rows)
    for fold, (train, held) in enumerate(
        GroupKFold(n_splits=CALIBRATION_FOLDS).split(data.x, groups=data.customers)
    ):
        folds[held] = fold
        oof[held] = gbm.train(data.x[train], data.y[train], data.names, seed=seed).predict(data.x[held])
    method, _ = calibration.choose(oof, data.y, folds)
    booster = gbm.train(data.x, data.y, data.names, seed=seed)
    return Fitted(booster, calibration.fit(oof, data.y, method), data.names)


def backtest(
    extract: TimelineExtract,
    *,
    horizon_days: int = HORIZON_DAYS,
    end: dt.datetime | None = None,
    seed: int = 0,
) -> BacktestResult:
    """Train on earlier observation dates, test on the latest one whose outcome is known."""
    first, last = history_bounds(extract)
    end = min(end or last, last)
    horizon = dt.timedelta(days=horizon_days)
    test_date = end - horizon
    train_dates = observation_dates(test_date - horizon, first, count=TRAIN_DATES, step_days=STEP_DAYS)
    if not train_dates:
        days = (end - first).days
        raise ChurnDataError(
            f"not enough history to backtest: the timeline covers {days} days, "
            f"need more than {2 * horizon_days} (two {horizon_days}-day horizons)"
        )
    train = snapshots(extract, train_dates, horizon_days)
    fitted = fit(train, seed=seed)
    test = snapshots(extract, [test_date], horizon_days)
    leavers = int(test.y.sum())
    if min(leavers, test.rows - leavers) < MIN_TEST_EACH:
        raise ChurnDataError(
            f"not enough history to test: {leavers} of {test.rows} customers lost after {test_date:%Y-%m-%d}, "
            f"need at least {MIN_TEST_EACH} leavers and {MIN_TEST_EACH} stayers"
        )
    probabilities = predict_matrix(fitted.booster, fitted.calibration, _align(test, fitted.names))
    return BacktestResult(
        metrics=metrics.summary(test.y, probabilities),
        horizon_days=horizon_days,
        test_date=test_date,
        train_dates=train_dates,
        train_rows=train.rows,
        train_customers=int(np.unique(train.customers).size),
        calibration=fitted.calibration["method"],
    )


def _align(data: Snapshots, names: list[str]) -> np.ndarray:
    missing = [n for n in names if n not in data.names]
    if missing:
        raise ChurnDataError(f"the model needs features that are no longer computed: {', '.join(missing)}")
    index = [data.names.index(n) for n in names]
    return data.x[:, index]


def predict_matrix(booster: lgb.Booster, calibrated: dict[str, Any], x: np.ndarray) -> np.ndarray:
    return calibration.apply(calibrated, np.asarray(booster.predict(x), dtype=np.float64))


def fit_model(
    extract: TimelineExtract,
    *,
    as_of: dt.datetime | None = None,
    horizon_days: int = HORIZON_DAYS,
    seed: int = 0,
) -> ChurnModel:
    """Backtest, then fit on every date whose outcome is known by `as_of`: an unsaved model row (see `store_model`)."""
    result = backtest(extract, horizon_days=horizon_days, end=as_of, seed=seed)
    first, last = history_bounds(extract)
    end = min(as_of or last, last)
    dates = observation_dates(
        end - dt.timedelta(days=horizon_days), first, count=TRAIN_DATES, step_days=STEP_DAYS
    )
    data = snapshots(extract, dates, horizon_days)
    fitted = fit(data, seed=seed)
    return ChurnModel(
        algorithm=ALGORITHM,
        model_text=fitted.booster.model_to_string(),
        calibration=fitted.calibration,
        features=fitted.names,
        metrics={"backtest": result.as_dict()},
        training={
            "horizon_days": horizon_days,
            "observation_dates": [d.isoformat() for d in dates],
            "step_days": STEP_DAYS,
            "rows": data.rows,
            "customers": int(np.unique(data.customers).size),
            "leavers": int(data.y.sum()),
            "seed": seed,
            "rounds": gbm.ROUNDS,
            "params": gbm.params(rows=data.rows, seed=seed),
            "history_end": end.isoformat(),
        },
    )


def store_model(model: ChurnModel, *, activate: bool = True) -> ChurnModel:
    """Save a fitted model as the next version; when `activate`, it becomes the only active one."""
    with transaction.atomic():
        latest = ChurnModel.objects.aggregate(top=Max("version"))["top"] or 0
        if activate:
            ChurnModel.objects.filter(is_active=True).update(is_active=False)
        model.version = latest + 1
        model.is_active = activate
        model.save()
    return model


def train_model(
    extract: TimelineExtract,
    *,
    as_of: dt.datetime | None = None,
    horizon_days: int = HORIZON_DAYS,
    seed: int = 0,
    activate: bool = True,
) -> ChurnModel:
    """Fit (with its backtest) and store a new model version."""
    return store_model(
        fit_model(extract, as_of=as_of, horizon_days=horizon_days, seed=seed), activate=activate
    )


@dataclass
class LoadedModel:
    """A stored model ready to predict: the booster rebuilt from its text, never unpickled."""

    version: int
    booster: lgb.Booster
    calibration: dict[str, Any]
    names: list[str]
    pk: int | None = None

    @classmethod
    def from_row(cls, row: ChurnModel) -> LoadedModel:
        if row.algorithm != ALGORITHM:
            raise ChurnDataError(
                f"churn model v{row.version} uses {row.algorithm!r}, which this version cannot run"
            )
        return cls(row.version, gbm.load(row.model_text), dict(row.calibration), list(row.features), row.pk)

    def matrix(self, features: pl.DataFrame) -> np.ndarray:
        missing = [n for n in self.names if n not in features.columns]
        if missing:
            raise ChurnDataError(
                f"churn model v{self.version} needs features that are no longer computed: {', '.join(missing)}"
            )
        return features.select(self.names).to_numpy().astype(np.float64)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        """Calibrated probability of leaving within the model's horizon, one per row of `features`."""
        return predict_matrix(self.booster, self.calibration, self.matrix(features))

    def explain(self, features: pl.DataFrame, top: int = REASONS) -> list[list[dict[str, Any]]]:
        """Per row, the features pushing the risk up most (largest positive contributions), in plain words."""
        x = self.matrix(features)
        if x.shape[0] == 0:
            return []
        contributions = np.asarray(self.booster.predict(x, pred_contrib=True))[:, : len(self.names)]
        order = np.argsort(-contributions, axis=1, kind="stable")[:, :top]
        reasons: list[list[dict[str, Any]]] = []
        for row, columns in enumerate(order):
            reasons.append(
                [
                    {
                        "feature": self.names[j],
                        "text": describe(self.names[j], float(x[row, j])),
                        "weight": round(float(contributions[row, j]), 4),
                    }
                    for j in columns
                    if contributions[row, j] > 0
                ]
            )
        return reasons
