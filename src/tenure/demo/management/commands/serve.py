"""`tenure serve`: migrate, then run the web server and the worker until Ctrl-C / SIGTERM."""

from __future__ import annotations

from typing import IO, Any, cast

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console

from tenure.demo.runner import serve


class Command(BaseCommand):
    help = "Run Tenure on this machine: web server and background worker (migrates first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
        parser.add_argument("--no-worker", action="store_true", help="serve without the background worker")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535")
        self.stdout.ending = ""  # rich writes whole lines itself
        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        call_command("migrate", interactive=False, verbosity=0)

        def ready(url: str) -> None:
            console.print(f"Tenure is running at {url}\nPress Ctrl-C to stop.")

        code = serve(host=options["host"], port=options["port"], console=console, on_ready=ready,
                     with_worker=not options["no_worker"])  # fmt: skip
        if code:
            raise CommandError("the server stopped with an error")
