"""`tenure insights evaluate` (not written yet)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

HELP = "not available yet"


def add_arguments(parser: ArgumentParser) -> None:
    pass


def run(options: dict[str, Any], stdout: Any) -> int:
    stdout.write("tenure insights evaluate is not available yet\n")
    return 1
