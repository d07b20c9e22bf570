"""The flat-table path: column typing from the data alone, and cross-validated models on real tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tenure.insights.flat import NotEnoughData, evaluate_table
from tenure.insights.tabular import TableError, read_table, type_columns
from tests.shared_data import shared_data_dir

TELCO = shared_data_dir() / "churn" / "telco_wa_churn.csv"


def _synthetic(rows: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    months = rng.integers(1, 72, rows)
    plan = rng.choice(["monthly", "yearly", "two-year"], rows)
    complaints = rng.poisson(1.0, rows)
    logit = -1.0 - 0.04 * months + 0.8 * complaints + np.where(plan == "monthly", 1.2, -0.8)
    left = rng.random(rows) < 1 / (1 + np.exp(-logit))
    spend = np.round(rng.gamma(2.0, 30.0, rows), 2).astype(str)
    spend[rng.random(rows) < 0.05] = ""  # missing values
    return pl.DataFrame(
        {
            "account": [f"AC-{i:06d}" for i in range(rows)],  # an id: every value different
            "row_number": np.arange(rows),  # an integer id
            "months": months,
            "plan": plan,
            "complaints": complaints,
            "spend": spend,
            "country": ["US"] * rows,  # constant
            "left": np.where(left, "Yes", "No"),
        }
    )


def test_columns_are_typed_from_the_data() -> None:
    table = type_columns(_synthetic(500).cast(pl.String), "left")
    assert set(table.numeric) == {"months", "complaints", "spend"}
    assert set(table.categorical) == {"plan"}
    assert table.dropped == {"account": "id", "row_number": "id", "country": "constant"}
    assert np.isnan(table.numeric["spend"]).sum() > 0
    assert table.labels.dtype == np.int8 and set(np.unique(table.labels)) == {0, 1}


def test_rare_levels_are_pooled_and_missing_categories_are_minus_one() -> None:
    frame = pl.DataFrame(
        {"town": [f"t{i % 45}" if i % 10 else "" for i in range(900)], "y": ["1", "0", "0"] * 300}
    )
    table = type_columns(frame, "y")
    town = table.categorical["town"]
    assert len(town.levels) == 31 and town.levels[-1] == "(other)"
    assert (town.codes == -1).sum() == 90


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["yes", "no", "maybe"], "two values"),
        (["yes", "", "no"], "empty on line 3"),
    ],
)
def test_bad_labels_are_named(values: list[str], message: str) -> None:
    frame = pl.DataFrame({"x": ["1", "2", "3"], "churn": values})
    with pytest.raises(TableError, match=message):
        type_columns(frame, "churn")


def test_unknown_label_column_lists_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _synthetic(50).write_csv(path)
    with pytest.raises(TableError, match="no column 'churn'; the table has account, row_number"):
        read_table(path, "churn")


def test_too_small_a_table_is_refused() -> None:
    table = type_columns(_synthetic(41).cast(pl.String), "left")
    with pytest.raises(NotEnoughData, match="not enough rows to evaluate: 41 customers, need 200"):
        evaluate_table(table)


def test_synthetic_table_is_learned_and_reproducible(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    _synthetic(1500, seed=2).write_csv(path)
    first = evaluate_table(read_table(path, "left"), folds=3)
    again = evaluate_table(read_table(path, "left"), folds=3)
    assert first == again
    assert first["auc"] > 0.75
    assert first["model"] in {"lightgbm", "logistic", "blend"}
    assert 0 < first["brier"] < 0.25 and first["top_decile_lift"] > 1.5


def test_telco_reaches_the_reference_figures() -> None:
    result = evaluate_table(read_table(TELCO, "churn"), folds=5, seed=0)
    assert result["n"] == 7043 and result["positives"] == 1869
    # Published 5-fold references: logistic regression 0.845, gradient boosting 0.836.
    assert result["auc"] >= 0.845
    assert result["brier"] < 0.14
    assert result["top_decile_lift"] > 2.5
