"""`tenure export customers [-o FILE]` / `tenure export events [--customer ID] [-o FILE]`."""

from __future__ import annotations

import sys
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenure.customers.exporting import customers_csv, events_csv, find_customer, write_csv


class Command(BaseCommand):
    help = "Export customers or the timeline as CSV (the same columns the import reads)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("what", choices=["customers", "events"])
        parser.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
        parser.add_argument("--customer", help="events: only this customer's (Tenure id or external id)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["what"] == "customers":
            if options["customer"]:
                raise CommandError("--customer only applies to events")
            header, rows = customers_csv()
        else:
            customer = None
            if options["customer"]:
                try:
                    customer = find_customer(options["customer"])
                except ValidationError as exc:
                    raise CommandError("; ".join(exc.messages)) from None
            header, rows = events_csv(customer)
        output: Path | None = options["output"]
        if output is None:
            write_csv(sys.stdout, header, rows)
            return
        with output.open("w", encoding="utf-8", newline="") as target:
            count = write_csv(target, header, rows)
        self.stderr.write(f"wrote {count} {options['what']} to {output}")
