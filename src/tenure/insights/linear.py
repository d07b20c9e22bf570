"""Regularised logistic regression for a typed table: splines for numbers, one-hot for categories.

Numbers with more than a handful of distinct values also get a cubic spline basis (knots at quantiles),
so a curved effect such as "risk falls fast over the first months, then flattens" fits without
hand-made bins. Missing numbers are filled with the training median and flagged.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import OneHotEncoder, SplineTransformer, StandardScaler

from tenure.insights.tabular import Table

SPLINE_MIN_DISTINCT = 10
SPLINE_KNOTS = 5


class SplineLogistic:
    def __init__(self, *, c: float = 1.0) -> None:
        self.c = c

    def _numbers(self, table: Table, rows: np.ndarray) -> np.ndarray:
        if not table.numeric:
            return np.empty((rows.size, 0))
        return np.column_stack([values[rows] for values in table.numeric.values()])

    def _categories(self, table: Table, rows: np.ndarray) -> np.ndarray:
        if not table.categorical:
            return np.empty((rows.size, 0), dtype=np.int32)
        return np.column_stack([column.codes[rows] for column in table.categorical.values()])

    def _design(self, table: Table, rows: np.ndarray) -> np.ndarray:
        raw = self._numbers(table, rows)
        missing = np.isnan(raw)
        filled = np.where(missing, self.medians, raw)
        parts = [self.scaler.transform(filled), missing[:, self.flagged].astype(np.float64)]
        if self.curved:
            parts.append(self.splines.transform(filled[:, self.curved]))
        if table.categorical:
            parts.append(self.onehot.transform(self._categories(table, rows)))
        return np.hstack(parts)

    def fit(self, table: Table, rows: np.ndarray) -> SplineLogistic:
        raw = self._numbers(table, rows)
        missing = np.isnan(raw)
        self.medians = np.array(
            [np.median(col[~np.isnan(col)]) if (~np.isnan(col)).any() else 0.0 for col in raw.T]
        )
        filled = np.where(missing, self.medians, raw)
        self.flagged = missing.any(axis=0)
        self.scaler = StandardScaler().fit(filled)
        self.curved = [
            j for j in range(filled.shape[1]) if np.unique(filled[:, j]).size > SPLINE_MIN_DISTINCT
        ]
        if self.curved:
            self.splines = SplineTransformer(
                n_knots=SPLINE_KNOTS, degree=3, knots="quantile", extrapolation="constant"
            ).fit(filled[:, self.curved])
        if table.categorical:
            self.onehot = OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(
                self._categories(table, rows)
            )
        self.model = LogisticRegression(C=self.c, max_iter=3000).fit(
            self._design(table, rows), table.labels[rows]
        )
        return self

    def predict(self, table: Table, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._design(table, rows))[:, 1])
