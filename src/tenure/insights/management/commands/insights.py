"""`tenure insights SUBCOMMAND`: each subcommand lives in its own module under `tenure.insights.commands`.

A subcommand module exposes `HELP: str`, `add_arguments(parser)` and `run(options, stdout) -> int`.
"""

from __future__ import annotations

import importlib
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

SUBCOMMANDS = ("score", "evaluate", "report")


class Command(BaseCommand):
    help = "Retention insights: score customers, evaluate the churn model on your data, write a report."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="subcommand", required=True)
        for name in SUBCOMMANDS:
            module = importlib.import_module(f"tenure.insights.commands.{name}")
            module.add_arguments(actions.add_parser(name, help=module.HELP))

    def handle(self, *args: Any, **options: Any) -> None:
        module = importlib.import_module(f"tenure.insights.commands.{options['subcommand']}")
        code = module.run(options, self.stdout)
        if code:
            raise CommandError(f"insights {options['subcommand']} failed", returncode=code)
