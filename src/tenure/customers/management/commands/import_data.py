"""`tenure import customers FILE.csv` / `tenure import events FILE.csv`."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from tenure.customers.importing import DEFAULT_SOURCE, ImportRefused, ImportReport, import_file

# Printing a million errors helps nobody; the report says how many there were.
SHOWN_ERRORS = 50


class Command(BaseCommand):
    help = "Import customers or events from a CSV file (see docs/importing.md for the columns)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("what", choices=["customers", "events"])
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--all-or-nothing", action="store_true", help="write nothing at all if any row has an error"
        )
        parser.add_argument(
            "--source",
            default=DEFAULT_SOURCE,
            help="events: the source their keys are unique in (default: import)",
        )
        parser.add_argument("--user", help="the staff username the import is recorded under in the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        by = None
        if options["user"]:
            by = get_user_model().objects.filter(username=options["user"]).first()
            if by is None:
                raise CommandError(f"no user is called {options['user']!r}")
        console = Console(stderr=True)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=False) as bar:
            task = bar.add_task(f"importing {options['what']}", total=path.stat().st_size)
            try:
                report = import_file(
                    options["what"],
                    path,
                    by=by,
                    source=options["source"],
                    all_or_nothing=options["all_or_nothing"],
                    progress=lambda done: bar.update(task, completed=done),
                )
            except ImportRefused as exc:
                raise CommandError(f"{path.name}: " + "; ".join(exc.messages)) from None
        self._print(report, console)
        if not report.ok:
            raise CommandError(f"{report.error_count} rows had errors")

    def _print(self, report: ImportReport, console: Console) -> None:
        for error in report.errors[:SHOWN_ERRORS]:
            console.print(
                f"[red]{escape(report.name)}[/red] {escape(str(error))}", highlight=False, soft_wrap=True
            )
        if report.error_count > SHOWN_ERRORS:
            console.print(f"… and {report.error_count - SHOWN_ERRORS} more errors")
        self.stdout.write(f"{report.name}: {report.summary()}")
