"""`tenure insights evaluate`: one JSON line for a flat table or a generic timeline, clear errors otherwise."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tenure.insights.churn import backtest
from tenure.insights.generic import extract_from_csv
from tenure.insights.models import ChurnModel, CustomerScore

from .timeline_files import write_files


def _evaluate(*args: str) -> dict[str, object]:
    out = StringIO()
    call_command("insights", "evaluate", *args, stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert isinstance(result, dict)
    return result


def _table(path: Path, rows: int) -> Path:
    rng = np.random.default_rng(1)
    visits = rng.poisson(2, rows)
    left = rng.random(rows) < 1 / (1 + np.exp(2 - 0.8 * visits))
    pl.DataFrame(
        {"id": [f"u{i}" for i in range(rows)], "visits": visits, "gone": np.where(left, "1", "0")}
    ).write_csv(path)
    return path


@pytest.mark.django_db
def test_table_prints_one_json_line_and_stores_nothing(tmp_path: Path) -> None:
    result = _evaluate("--table", str(_table(tmp_path / "t.csv", 600)), "--label", "gone", "--folds", "3")
    assert {"auc", "top_decile_lift", "brier", "n", "positives", "model"} <= set(result)
    assert result["n"] == 600 and result["folds"] == 3
    assert result["columns"] == {"numeric": ["visits"], "categorical": [], "dropped": {"id": "id"}}
    assert not ChurnModel.objects.exists() and not CustomerScore.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "missing.csv", "--label", "x"], "cannot read"),
        (["--table", "TABLE"], "--table needs --label"),
        (["--table", "TABLE", "--label", "churn"], "no column 'churn'"),
        ([], "give either --table"),
        (["--table", "TABLE", "--label", "gone", "--events", "E"], "give either --table"),
    ],
)
def test_bad_arguments_are_explained(tmp_path: Path, args: list[str], message: str) -> None:
    table = str(_table(tmp_path / "t.csv", 300))
    with pytest.raises(CommandError, match=message):
        _evaluate(*[table if a == "TABLE" else a for a in args])


def test_small_table_is_refused_with_the_counts(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not enough rows to evaluate: 41 customers, need 200"):
        _evaluate("--table", str(_table(tmp_path / "t.csv", 41)), "--label", "gone")


def test_timeline_backtest_from_generic_files(tmp_path: Path) -> None:
    subscriptions, events = write_files(tmp_path, 900)
    result = _evaluate("--subscriptions", str(subscriptions), "--events", str(events), "--horizon-days", "90")
    assert result["horizon_days"] == 90
    assert result["auc"] > 0.6  # late visits (and the trouble behind them) drive leaving in these files
    assert 0 < result["brier"] < 0.25 and result["n"] > 200
    # No leakage: every training label window closes before the test date's features are taken.
    test_date = np.datetime64(result["test_date"][:19])
    for train_date in result["train_dates"]:
        assert np.datetime64(train_date[:19]) + np.timedelta64(90, "D") <= test_date


def test_timeline_backtest_is_reproducible(tmp_path: Path) -> None:
    subscriptions, events = write_files(tmp_path, 700, seed=3)
    extract = extract_from_csv(subscriptions, events)
    assert backtest(extract).as_dict() == backtest(extract).as_dict()


def test_too_short_a_timeline_is_refused(tmp_path: Path) -> None:
    subscriptions, events = write_files(tmp_path, 41)
    # Customers who joined after the last training date do not count towards the 200.
    with pytest.raises(CommandError, match=r"not enough history to score: \d+ customers, need 200"):
        _evaluate("--subscriptions", str(subscriptions), "--events", str(events))


def test_bad_timeline_files_name_the_line(tmp_path: Path) -> None:
    events = tmp_path / "e.csv"
    events.write_text("customer,time,type\nc1,2024-01-01T10:00:00,request.received\n")
    with pytest.raises(CommandError, match="line 2"):
        _evaluate("--events", str(events))
