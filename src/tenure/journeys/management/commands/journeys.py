"""`tenure journeys export|import|list|report`: journeys as YAML files, and how each is doing."""

from __future__ import annotations

import json
import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenure.journeys import selectors
from tenure.journeys.documents import dump_yaml, export_document
from tenure.journeys.models import Journey
from tenure.journeys.reporting import journey_report
from tenure.journeys.services import import_yaml


class Command(BaseCommand):
    help = "Journeys: export and import them as YAML, list them, report holdout results."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="write journeys and their templates as YAML")
        export.add_argument("keys", nargs="*", help="journey keys (default: all)")
        export.add_argument("-o", "--output", help="file to write (default: standard output)")
        load = actions.add_parser(
            "import", help="create or update journeys from a YAML file (all or nothing)"
        )
        load.add_argument("file", help="a YAML file, or - for standard input")
        load.add_argument(
            "--keep-existing", action="store_true", help="leave journeys that exist as they are"
        )
        actions.add_parser("list", help="every journey with its trigger and counts")
        report = actions.add_parser("report", help="enrolled, sent, replies and retention vs holdout (JSON)")
        report.add_argument("key")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _export(self, options: dict[str, Any]) -> None:
        journeys = list(Journey.objects.all())
        if options["keys"]:
            missing = sorted(set(options["keys"]) - {j.key for j in journeys})
            if missing:
                raise CommandError(f"no journey with key {', '.join(missing)}")
            journeys = [j for j in journeys if j.key in options["keys"]]
        text = dump_yaml(export_document(journeys))
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stdout.write(f"wrote {len(journeys)} journeys to {options['output']}")
        else:
            self.stdout.write(text, ending="")

    def _import(self, options: dict[str, Any]) -> None:
        name = options["file"]
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"cannot read {name}: {error}") from None
        try:
            result = import_yaml(text, replace=not options["keep_existing"])
        except ValidationError as error:
            lines = [
                f"  {field}: {message}"
                for field, messages in error.message_dict.items()
                for message in messages
            ]
            raise CommandError(f"{name}: nothing imported, fix these first:\n" + "\n".join(lines)) from None
        self.stdout.write(f"{name}: {result.summary()}")

    def _list(self, options: dict[str, Any]) -> None:
        for row in selectors.journey_rows():
            state = "on " if row.journey.is_active else "off"
            self.stdout.write(
                f"{state} {row.journey.key:<28} {row.trigger:<40} active {row.active:>6}  enrolled {row.enrolled:>7}"
            )

    def _report(self, options: dict[str, Any]) -> None:
        journey = Journey.objects.filter(key=options["key"]).first()
        if journey is None:
            raise CommandError(f"no journey with key {options['key']!r}")
        self.stdout.write(json.dumps(journey_report(journey).as_dict(), indent=2))
