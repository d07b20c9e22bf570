"""Benchmark: importing events through the public import path vs a raw executemany INSERT.

    python bench/import_events.py                       # 1,000,000 events on SQLite and on PostgreSQL
    python bench/import_events.py --rows 100000         # smaller
    python bench/import_events.py --database-url sqlite # one database only (sqlite, or a postgres:// URL)

For each database it migrates a fresh database, creates the customers, writes the synthetic events
(fixed seed) to a CSV file, then
  1. raw: reads the CSV and inserts the rows with `cursor.executemany("INSERT …")`, one transaction per
     batch, doing only the conversion the database needs (customer id lookup, timestamp text);
  2. empties the events table;
  3. import: `tenure.customers.importing.import_file("events", …)`, the function `tenure import events`
     calls (validation, duplicate detection, customer resolution, ON CONFLICT insert, activity update).
It prints events/s for both and the ratio. Each database runs in its own process because Django's
settings are fixed per process. The PostgreSQL database is created for the run and dropped after.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/tenure_bench_import"
SEED = 20261124
KINDS = (
    "order.placed",
    "order.paid",
    "job.scheduled",
    "job.completed",
    "request.opened",
    "request.closed",
    "message.received",
    "message.sent",
    "survey.answered",
    "call.inbound",
)
CHANNELS = ("email", "web", "chat", "sms", "phone", "portal", "system")
ACTORS = ("", "system", "staff:anna", "staff:ben", "staff:chloe", "staff:dev")
BATCH = 5000

console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


# --- the parent: one child process per database -------------------------------------------------


def _create_postgres(url: str) -> bool:
    """Create the database named in the URL if missing; True if this run created it."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
    return True


def _drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def run_parent(args: argparse.Namespace) -> int:
    urls = args.database_url or ["sqlite", DEFAULT_POSTGRES]
    results: list[dict[str, Any]] = []
    for url in urls:
        with tempfile.TemporaryDirectory(prefix="tenure-bench-") as workdir:
            created = False
            database_url = url
            if url == "sqlite":
                database_url = f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
            elif url.startswith(("postgres://", "postgresql://")):
                created = _create_postgres(url)
            env = {**os.environ, "DATABASE_URL": database_url, "TENURE_DATA_DIR": workdir}
            command = [
                sys.executable,
                __file__,
                "--child",
                "--rows",
                str(args.rows),
                "--customers",
                str(args.customers),
                "--workdir",
                workdir,
            ]
            try:
                child = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
            finally:
                if created:
                    _drop_postgres(url)
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    _print_results(results, args)
    return 0


def _print_results(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    table = Table(title=f"Importing {args.rows:,} events over {args.customers:,} customers")
    for column in ("database", "raw executemany", "import path", "ratio", "raw (insert calls only)", "ratio"):
        table.add_column(column, justify="right")
    for result in results:
        table.add_row(
            result["database"],
            f"{result['raw_rate']:,.0f} ev/s ({result['raw_seconds']:.1f} s)",
            f"{result['import_rate']:,.0f} ev/s ({result['import_seconds']:.1f} s)",
            f"{result['import_rate'] / result['raw_rate']:.0%}",
            f"{result['raw_insert_rate']:,.0f} ev/s ({result['raw_insert_seconds']:.1f} s)",
            f"{result['import_rate'] / result['raw_insert_rate']:.0%}",
        )
    Console().print(table)
    for result in results:
        print(json.dumps(result))


# --- the child: one database ---------------------------------------------------------------------


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenure.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_customers(count: int) -> dict[str, int]:
    from tenure.customers.models import Customer, Lifecycle

    Customer.objects.bulk_create(
        Customer(name=f"Customer {number}", external_ref=f"cust-{number:05d}", lifecycle=Lifecycle.ACTIVE)
        for number in range(count)
    )
    return dict(Customer.objects.values_list("external_ref", "id"))  # type: ignore[arg-type]


def _write_csv(path: Path, rows: int, refs: list[str]) -> None:
    generator = random.Random(SEED)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    span = 18 * 30 * 24 * 3600
    with path.open("w", encoding="utf-8", newline="") as target, _progress() as bar:
        task = bar.add_task("writing the CSV", total=rows)
        writer = csv.writer(target)
        writer.writerow(("event_id", "customer", "kind", "occurred_at", "channel", "actor", "payload"))
        for number in range(rows):
            kind = generator.choice(KINDS)
            payload = (
                json.dumps({"amount": round(generator.uniform(20, 900), 2), "order": f"ORD-{number}"})
                if kind.startswith("order.")
                else ""
            )
            writer.writerow(
                (
                    f"evt-{number:08d}",
                    generator.choice(refs),
                    kind,
                    (start + dt.timedelta(seconds=generator.randrange(span))).isoformat(),
                    generator.choice(CHANNELS),
                    generator.choice(ACTORS),
                    payload,
                )
            )
            if number % 20000 == 0:
                bar.update(task, completed=number)
        bar.update(task, completed=rows)


def _raw_insert(path: Path, rows: int, customer_ids: dict[str, int]) -> tuple[float, float]:
    """Insert the CSV's rows with a plain executemany; returns (total seconds, seconds inside executemany)."""
    from django.db import connection, transaction

    columns = "customer_id, kind, occurred_at, channel, actor, payload, source, idempotency_key, recorded_at"
    payload = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    sql = f"INSERT INTO core_event ({columns}) VALUES (%s, %s, %s, %s, %s, {payload}, %s, %s, %s)"  # noqa: S608
    sqlite = connection.vendor == "sqlite"
    now = dt.datetime.now(dt.UTC)
    recorded_at: Any = str(now.replace(tzinfo=None)) if sqlite else now
    inserting = 0.0
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as source, _progress() as bar:
        task = bar.add_task("raw executemany", total=rows)
        reader = csv.reader(source)
        next(reader)
        batch: list[tuple[Any, ...]] = []

        def flush() -> float:
            began = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, batch)
            return time.perf_counter() - began

        for key, ref, kind, occurred_at, channel, actor, data in reader:
            # SQLite keeps Django datetimes as naive UTC text; PostgreSQL parses the ISO text itself.
            when = str(dt.datetime.fromisoformat(occurred_at).replace(tzinfo=None)) if sqlite else occurred_at
            batch.append(
                (customer_ids[ref], kind, when, channel, actor, data or "{}", "import", key, recorded_at)
            )
            if len(batch) >= BATCH:
                inserting += flush()
                bar.advance(task, len(batch))
                batch = []
        if batch:
            inserting += flush()
            bar.advance(task, len(batch))
    return time.perf_counter() - started, inserting


def _empty_events() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("TRUNCATE core_event")
        else:
            cursor.execute("DELETE FROM core_event")
            cursor.execute("VACUUM")


def _import(path: Path, rows: int) -> tuple[float, Any]:
    from tenure.customers.importing import import_file

    with _progress() as bar:
        task = bar.add_task("import path", total=path.stat().st_size)
        started = time.perf_counter()
        report = import_file("events", path, progress=lambda done: bar.update(task, completed=done))
        seconds = time.perf_counter() - started
    return seconds, report


def run_child(args: argparse.Namespace) -> int:
    _setup_django()
    from django.db import connection

    from tenure.core.models import Event

    workdir = Path(args.workdir)
    customer_ids = _create_customers(args.customers)
    path = workdir / "events.csv"
    _write_csv(path, args.rows, sorted(customer_ids))

    raw_seconds, raw_insert_seconds = _raw_insert(path, args.rows, customer_ids)
    stored_raw = Event.objects.count()
    _empty_events()
    import_seconds, report = _import(path, args.rows)
    stored = Event.objects.count()
    if stored != args.rows or stored_raw != args.rows or not report.ok:
        console.print(f"[red]expected {args.rows} events, raw stored {stored_raw}, import stored {stored}")
        console.print(report.summary())
        return 1
    vendor = connection.vendor
    version = getattr(connection, "pg_version", None) if vendor == "postgresql" else None
    database = "SQLite" if vendor == "sqlite" else f"PostgreSQL {version // 10000 if version else ''}"
    result = {
        "database": database,
        "rows": args.rows,
        "raw_seconds": raw_seconds,
        "raw_rate": args.rows / raw_seconds,
        "raw_insert_seconds": raw_insert_seconds,
        "raw_insert_rate": args.rows / raw_insert_seconds,
        "import_seconds": import_seconds,
        "import_rate": args.rows / import_seconds,
    }
    print(json.dumps(result))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument(
        "--database-url",
        action="append",
        help="'sqlite' (a temporary file) or a postgres:// URL; repeat for several (default: both)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    return run_child(args) if args.child else run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
