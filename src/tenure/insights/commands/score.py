"""`tenure insights score`: score every live customer now (what the nightly task does), with progress."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import IO, Any, cast

from django.core.management.base import CommandError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

HELP = "score every live customer now (churn risk with reasons, customer value) and refresh the reports"
STAGES = {
    "extract": "Reading the timeline",
    "train": "Training and backtesting a model",
    "features": "Computing features",
    "predict": "Predicting and explaining",
    "write": "Writing scores",
    "reports": "Retention, drivers and scorecard",
}


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--retrain", action="store_true", help="train a new model version even if one is active"
    )


def run(options: dict[str, Any], stdout: Any) -> int:
    from tenure.insights.services import run_insights

    stdout.ending = ""  # rich writes whole lines itself
    console = Console(file=cast(IO[str], stdout), highlight=False)
    tasks: dict[str, TaskID] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGES.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        outcome = run_insights(retrain=options.get("retrain", False), progress=report)
    for kind, reason in outcome.refresh.failed.items():
        console.print(f"The {kind} report was not computed: {reason}")
    if outcome.refresh.computed:
        console.print(f"Refreshed the reports: {', '.join(outcome.refresh.computed)}.")
    result = outcome.scoring
    if result is None:
        raise CommandError(f"{outcome.scoring_skipped} (no scores were changed)")
    trained = "trained and activated" if result.trained else "using"
    console.print(f"Scored {result.scored:,} customers, {trained} churn model v{result.model_version}.")
    if result.removed:
        console.print(f"Removed {result.removed:,} scores of customers who are no longer live.")
    if result.clv_note:
        console.print(f"Customer value left empty: {result.clv_note}")
    return 0
