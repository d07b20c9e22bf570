"""`tenure field learn` refits job durations, travel error and window calibration from finished jobs;
`tenure field report` prints promised vs actual arrivals (and can write the weekly chart as SVG)."""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenure.field import report
from tenure.field.learning import learn


class Command(BaseCommand):
    help = "Field service: learn from finished jobs, report promised vs actual arrival windows."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="subcommand", required=True)
        learning = actions.add_parser(
            "learn", help="refit durations, travel error and window calibration now"
        )
        learning.add_argument("--target", type=float, default=None, help="stated coverage, e.g. 0.9")
        reporting = actions.add_parser(
            "report", help="arrivals inside the promised window, by week and technician"
        )
        reporting.add_argument("--days", type=int, default=90)
        reporting.add_argument(
            "--chart", type=Path, default=None, help="write the weekly chart to this SVG file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if options["subcommand"] == "learn":
            target = options["target"]
            if target is not None and not 0.5 <= target <= 0.99:
                raise CommandError("--target is a coverage between 0.5 and 0.99")
            row = learn(now, target)
            self.stdout.write(
                json.dumps(
                    {
                        "target_coverage": row.target_coverage,
                        "model_level": round(row.model_level, 3),
                        "observed_coverage": row.observed_coverage,
                        "promises_scored": row.samples,
                        "travel_log_bias": round(row.travel_log_bias, 3),
                        "travel_log_sigma": round(row.travel_log_sigma, 3),
                    }
                )
            )
            return
        if not 1 <= options["days"] <= 730:
            raise CommandError("--days is between 1 and 730")
        result = report.coverage(now - dt.timedelta(days=options["days"]), now)
        self.stdout.write(json.dumps(result.as_dict(), default=str))
        if options["chart"] is not None:
            try:
                options["chart"].write_text(result.chart(), encoding="utf-8")
            except OSError as error:
                raise CommandError(f"cannot write {options['chart']}: {error.strerror}") from None
