"""`tenure insights report -o FILE.html`: the dashboard as one self-contained HTML file (no scripts, no links out)."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.contrib.staticfiles import finders
from django.template.loader import render_to_string
from django.utils import timezone

from tenure.insights import dashboard

HELP = "write the retention report as a self-contained HTML file"


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "-o", "--output", default="tenure-retention-report.html", help="where to write the report"
    )


def render_report() -> str:
    css_path = finders.find("tenure/app.css")
    css = Path(str(css_path)).read_text() if css_path else ""
    context = dashboard.build_context() | {"css": css, "generated_at": timezone.now()}
    return render_to_string("insights/report.html", context)


def run(options: dict[str, Any], stdout: Any) -> int:
    output = Path(options["output"])
    try:
        output.write_text(render_report(), encoding="utf-8")
    except OSError as error:
        stdout.write(f"cannot write {output}: {error.strerror}\n")
        return 1
    stdout.write(f"wrote {output} ({output.stat().st_size:,} bytes)\n")
    return 0
