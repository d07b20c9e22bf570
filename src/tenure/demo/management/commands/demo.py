"""`tenure demo`: migrate, build the demo company (once), then serve it with the worker."""

from __future__ import annotations

import os
import time
from typing import IO, Any, cast

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from tenure.demo.generator import DemoConflict, DemoSummary, build_company
from tenure.demo.runner import serve
from tenure.demo.staff import BUSINESS_TIME_ZONE
from tenure.insights.models import InsightSnapshot
from tenure.insights.tasks import nightly_scoring

STAGES = {
    "simulate": "Simulating 18 months",
    "staff": "Staff, teams, calendar",
    "customers": "Customers",
    "events": "Timeline events",
    "present": "Today's work",
}
# Where each role's login lands: the page that person works on.
START_PAGES = {
    "admin": "/insights/",
    "manager": "/insights/",
    "agent": "/console/",
    "dispatcher": "/field/board/",
    "technician": "/field/today/",
}


class _MigrationCounter:
    """A stdout for `migrate` that turns its "Applying …" lines into progress."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress, self.task = progress, task

    def write(self, text: str) -> int:
        if "Applying " in text:
            self.progress.advance(self.task)
        return len(text)

    def flush(self) -> None:
        return None


class Command(BaseCommand):
    help = "Build a realistic demo company (once) and run Tenure with it: web server, worker, logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
        parser.add_argument("--customers", type=int, default=3000, help="number of customers (default 3000)")
        parser.add_argument("--months", type=int, default=18, help="months of history (default 18)")
        parser.add_argument("--reset", action="store_true", help="delete a previous demo and build it again")
        parser.add_argument("--no-serve", action="store_true", help="build only; do not start the server")
        parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
        parser.add_argument("--no-worker", action="store_true", help="serve without the background worker")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["customers"] < 1 or options["customers"] > 1_000_000:
            raise CommandError("--customers must be between 1 and 1,000,000")
        if options["months"] < 1 or options["months"] > 120:
            raise CommandError("--months must be between 1 and 120")
        if not 0 < options["port"] < 65536:
            raise CommandError("--port must be between 1 and 65535")
        self.stdout.ending = ""  # rich writes whole lines itself
        console = Console(file=cast(IO[str], self.stdout), highlight=False)
        started = time.monotonic()
        self.migrate(console)
        try:
            summary = self.build(console, options)
        except DemoConflict as error:
            raise CommandError(str(error)) from None
        self.print_summary(console, summary, time.monotonic() - started)
        if options["no_serve"]:
            self.print_logins(console, summary, None)
            return

        if not options["no_worker"]:
            self.queue_insights(console)
        # The demo company keeps office hours in its own zone; show its pages in that zone too.
        os.environ.setdefault("TENURE_TIME_ZONE", BUSINESS_TIME_ZONE)

        def ready(url: str) -> None:
            self.print_logins(console, summary, url)
            console.print("Press Ctrl-C to stop.")

        code = serve(host=options["host"], port=options["port"], console=console, on_ready=ready,
                     with_worker=not options["no_worker"])  # fmt: skip
        if code:
            raise CommandError("the demo server stopped with an error")

    def queue_insights(self, console: Console) -> None:
        """Score the company and compute the retention reports in the worker, so pages answer at once."""
        if InsightSnapshot.objects.exists():
            return
        nightly_scoring.enqueue()
        console.print(
            "Retention insights are being computed by the worker; /insights/ fills in within a few minutes."
        )

    def migrate(self, console: Console) -> None:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if not plan:
            console.print("Database is up to date.")
            return
        with Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False,
        ) as progress:  # fmt: skip
            task = progress.add_task("Migrating database", total=len(plan))
            call_command("migrate", interactive=False, verbosity=1, stdout=_MigrationCounter(progress, task))
            progress.update(task, completed=len(plan))

    def build(self, console: Console, options: dict[str, Any]) -> DemoSummary:
        with Progress(
            TextColumn("{task.description:<24}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console,
        ) as progress:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def report(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(STAGES.get(stage, stage), total=total)
                progress.update(tasks[stage], completed=done, total=total)

            return build_company(
                seed=options["seed"],
                customers=options["customers"],
                months=options["months"],
                reset=options["reset"],
                progress=report,
            )

    def print_summary(self, console: Console, summary: DemoSummary, seconds: float) -> None:
        shape = summary.shape
        how = "already here, reused" if summary.reused else "built"
        console.print(
            f"Demo company (seed {summary.seed}, {summary.customers} customers, {summary.months} months) "
            f"{how} in {seconds:.1f} s."
        )
        lifecycle = ", ".join(f"{name} {count}" for name, count in sorted(shape.lifecycle.items()))
        console.print(f"Customers: {shape.customers} ({lifecycle})")
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(shape.events_by_kind.items()))
        console.print(f"Events: {shape.events} ({kinds})")
        console.print(
            f"Churn in the last 12 months: {shape.churn_12m:.1%}; "
            f"call-backs among contacts: {shape.callback_share:.1%}"
        )
        present = summary.extra.get("present")
        if present:
            desk, field = present["desk"], present["field"]
            console.print(
                f"Today: {desk['requests']} requests ({desk['open']} open, {desk['waiting']} waiting on the "
                f"customer, {desk['triage']} in the triage queue), {desk['callbacks']} call-backs "
                f"({desk['callbacks_overdue']} overdue); {field['appointments']} appointments "
                f"({field['today']} today, {field['tomorrow']} tomorrow; {field['completed']} done, "
                f"{field['on_site']} on site, {field['en_route']} on the way) for {field['technicians']} "
                f"technicians; {present['active_enrollments']} journey enrollments with a next step."
            )
            console.print(
                "Messages to customers (acknowledgements, answers, confirmations) wait in the outbox "
                "(/outbox/): unless TENURE_EMAIL_HOST / TENURE_SMS_* name real servers, e-mail goes to "
                "localhost:25 (retried, then marked failed) and SMS fails at once as not configured."
            )

    def print_logins(self, console: Console, summary: DemoSummary, url: str | None) -> None:
        table = Table(title="Demo logins", title_justify="left")
        for column in ("role", "name", "username", "password"):
            table.add_column(column, no_wrap=True)
        for login in summary.logins:
            table.add_row(login.role, login.name, login.username, login.password)
        console.print(table)
        base = (url or "/").rstrip("/")
        console.print("Each role starts on its own page (sign in there):")
        for role, page in START_PAGES.items():
            start = f"{base}/accounts/login/?next={page}" if url else page
            console.print(f"  {role:<11} {start}", soft_wrap=True)
        if url:
            console.print(f"Tenure is running at {url}")
