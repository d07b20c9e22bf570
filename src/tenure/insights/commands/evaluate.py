"""`tenure insights evaluate`: how well the churn model predicts on your own data, as one JSON line.

Two inputs, both read into memory only (nothing is written to the database):
- `--table T.csv --label COLUMN`: a one-row-per-customer table, scored by stratified cross-validation;
- `--subscriptions S.csv --events E.csv`: a timeline, scored by a time-based backtest.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

HELP = "AUC, top-decile lift and Brier score of the churn model on your files (one JSON line)"


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--table", type=Path, help="CSV with one row per customer")
    parser.add_argument(
        "--label", help="the --table column that says whether the customer left (yes/no, 1/0)"
    )
    parser.add_argument("--subscriptions", type=Path, help="CSV: customer,start,end,monthly_value")
    parser.add_argument("--events", type=Path, help="CSV: customer,time,type")
    parser.add_argument(
        "--horizon-days", type=int, default=90, help="timeline: predict leaving within this many days"
    )
    parser.add_argument("--folds", type=int, default=5, help="table: cross-validation folds")
    parser.add_argument("--seed", type=int, default=0)


def _evaluate_table(options: dict[str, Any]) -> dict[str, Any]:
    from tenure.insights.flat import NotEnoughData, evaluate_table
    from tenure.insights.tabular import TableError, read_table

    if not options.get("label"):
        raise CommandError("--table needs --label COLUMN (the column that says whether the customer left)")
    if options["folds"] < 2:
        raise CommandError("--folds must be at least 2")
    try:
        table = read_table(options["table"], options["label"])
        return evaluate_table(table, folds=options["folds"], seed=options["seed"])
    except (TableError, NotEnoughData) as error:
        raise CommandError(str(error)) from error


def _evaluate_timeline(options: dict[str, Any]) -> dict[str, Any]:
    from tenure.insights.churn import ChurnDataError, backtest
    from tenure.insights.generic import extract_from_csv

    if options["horizon_days"] < 1:
        raise CommandError("--horizon-days must be at least 1")
    try:
        extract = extract_from_csv(options.get("subscriptions"), options.get("events"))
        return backtest(extract, horizon_days=options["horizon_days"], seed=options["seed"]).as_dict()
    except (ChurnDataError, ValueError) as error:
        raise CommandError(str(error)) from error


def run(options: dict[str, Any], stdout: Any) -> int:
    table = options.get("table")
    timeline = options.get("subscriptions") or options.get("events")
    if bool(table) == bool(timeline):
        raise CommandError(
            "give either --table T.csv --label COLUMN, or --subscriptions S.csv and/or --events E.csv"
        )
    result = _evaluate_table(options) if table else _evaluate_timeline(options)
    stdout.write(json.dumps(result, sort_keys=False) + "\n")
    return 0
