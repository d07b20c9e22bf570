"""Gradient boosting (LightGBM) settings shared by the table and timeline paths.

Shallow trees, a slow learning rate and strong leaf/regularisation limits: churn tables are small and
noisy, and these settings beat deeper, faster trees in cross-validation on the Telco table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np

ROUNDS = 500


def params(*, rows: int, seed: int = 0) -> dict[str, Any]:
    return {
        "objective": "binary",
        "num_leaves": 4,
        "learning_rate": 0.03,
        "min_data_in_leaf": max(5, min(50, rows // 40)),
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 5.0,
        "cat_smooth": 20.0,
        "cat_l2": 10.0,
        "min_data_per_group": 50,
        "seed": seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbose": -1,
    }


def train(
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    *,
    categorical: Sequence[str] = (),
    seed: int = 0,
    rounds: int = ROUNDS,
) -> lgb.Booster:
    """A booster fitted to `x` (NaN = missing) with the named columns treated as categories."""
    data = lgb.Dataset(
        x,
        label=y,
        feature_name=list(names),
        categorical_feature=list(categorical) or "auto",
        free_raw_data=True,
    )
    return lgb.train(params(rows=len(y), seed=seed), data, num_boost_round=rounds)


def load(text: str) -> lgb.Booster:
    """A booster from its `model_to_string()` text (never a pickle)."""
    return lgb.Booster(model_str=text)
