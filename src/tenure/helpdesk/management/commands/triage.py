"""`tenure triage evaluate --train A.csv --test B.csv`: check the triage classifier on your own labelled data."""

from __future__ import annotations

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenure.helpdesk.triage.classifier import DEFAULT_THRESHOLD, TriageClassifier, TriageModelError
from tenure.helpdesk.triage.dataset import DatasetError, read_labelled_csv
from tenure.helpdesk.triage.metrics import scores


class Command(BaseCommand):
    help = (
        "Triage classifier tools. `evaluate`: train a fresh classifier on one CSV, score it on another. "
        "`retrain`: train on this business's resolved requests and make it the active model."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        evaluate = actions.add_parser(
            "evaluate",
            help="train on --train, print accuracy and macro-F1 on --test as one JSON line",
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        evaluate.add_argument("--train", required=True, help="CSV with columns text,label (UTF-8)")
        evaluate.add_argument("--test", required=True, help="CSV with columns text,label (UTF-8)")
        evaluate.add_argument(
            "--threshold",
            type=float,
            default=DEFAULT_THRESHOLD,
            help="confidence below which a request would go to the triage queue",
        )

        actions.add_parser(
            "retrain",
            help="train on resolved requests (text -> department), store it as the active model, print metrics",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "evaluate":
            self.evaluate(options["train"], options["test"], options["threshold"])
        elif options["action"] == "retrain":
            self.retrain()

    def retrain(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

        from tenure.helpdesk.training import retrain

        console = Console(stderr=True)
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        ) as bar:
            tasks: dict[str, TaskID] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(
                        {"embed": "embedding", "fit": "fitting"}.get(stage, stage), total=total
                    )
                bar.update(tasks[stage], completed=done, total=total)

            try:
                stored = retrain(progress=report)
            except TriageModelError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            json.dumps({"model_id": stored.pk, "trained_rows": stored.trained_rows, **stored.metrics})
        )

    def evaluate(self, train_path: str, test_path: str, threshold: float) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise CommandError(f"--threshold must be between 0 and 1, got {threshold}")
        try:
            train = read_labelled_csv(train_path)
            test = read_labelled_csv(test_path)
            model = TriageClassifier.train(train.texts, train.labels, threshold=threshold)
        except (DatasetError, TriageModelError) as error:
            raise CommandError(str(error)) from None
        predictions = model.predict(test.texts)
        guessed = [p.best_guess for p in predictions]
        answered = [
            (t, p.label) for t, p in zip(test.labels, predictions, strict=True) if p.label is not None
        ]
        result: dict[str, Any] = {
            **scores(test.labels, guessed),
            "train_rows": len(train.texts),
            "test_rows": len(test.texts),
            "labels": len(model.classes),
            "threshold": threshold,
            "abstention_rate": 1 - len(answered) / len(test.texts),
            "accuracy_when_answered": (
                sum(t == p for t, p in answered) / len(answered) if answered else None
            ),
        }
        self.stdout.write(json.dumps(result))
