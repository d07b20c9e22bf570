"""Outbox at scale: N messages falling due within one minute, delivered by real `tenure worker` processes to a
loopback SMTP server that writes down every Message-ID it accepts: `--smtp-processes` server processes
sharing one port (SO_REUSEPORT), each with its own file, merged for counting, so that one server process is
not the limit. The server is `smtp_sink.py` (lean, counts only) or, with `--sink aiosmtpd`, aiosmtpd. `smtp_server_alone_per_s` is what plain smtplib clients (one per worker, in parallel) get
through the same servers in the same run: the measuring tool's own ceiling.

Two runs: a clean one (time until all are delivered, timer lag p99 = delivery time - due time), then a
crash run in which a worker is killed with SIGKILL several times while delivering and restarted at once;
lost and duplicated messages are counted at the SMTP server. Prints one JSON line with the goals beside
the figures.

    python bench/journeys.py                                   # SQLite in a temp dir, 1 worker
    python bench/journeys.py --postgres postgres://postgres@127.0.0.1:5432/postgres --workers 2
    python bench/journeys.py --count 2000 --kills 1            # a quick look
    python bench/journeys.py --count 5000 --skip-clean --kills 0 --profile prof  # cProfile stats per worker in prof/

With --postgres the bench creates a fresh database on that server, analyses it once the customers and
enrollments are seeded (as after any bulk load; servers with autovacuum off would otherwise plan
without statistics), and drops it afterwards.
By default each customer is enrolled in a one-step journey (send a `reminders` e-mail), the enrollments'
`next_step_at` spread over the minute; the journeys step runner queues the e-mails, the outbox sends them.
`--outbox-only` queues the e-mails directly (due times spread the same way) to measure the outbox alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
GOALS = {"all_delivered_s": 60.0, "lag_p99_s": 10.0, "lost": 0, "duplicated": 0}
SENDER = "reminders@bench.example"
MESSAGE_ID = re.compile(rb"^Message-ID: *(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


# --- the SMTP server (a separate process) ------------------------------------------------------------------


class Recorder:
    """aiosmtpd handler: one line per accepted message, `<message-id>\\t<unix time>`, flushed at once.

    Written before the 250 reply, so every message the client may count as accepted is on file.
    """

    def __init__(self, out: Path) -> None:
        self.out = out.open("ab", buffering=0)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        found = MESSAGE_ID.search(envelope.content)
        message_id = found.group(1) if found else b"<missing>"
        self.out.write(message_id + b"\t" + repr(time.time()).encode() + b"\n")
        return "250 OK"


def serve_smtp(port: int, out: Path) -> None:
    """One server process; several share the port (SO_REUSEPORT), the kernel spreads connections over them."""
    from aiosmtpd.smtp import SMTP

    loop = asyncio.new_event_loop()
    recorder = Recorder(out)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(recorder, hostname="bench"), host="127.0.0.1", port=port, reuse_port=True
        )
    )
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print("ready", flush=True)
    loop.run_forever()
    server.close()


# --- processes -----------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def smtp_server(
    out_dir: Path, processes: int = 1, sink: str = "lean", reply_delay: float = 0.0
) -> Iterator[int]:
    """`processes` SMTP server processes on one port, each writing `received-<n>.tsv` in `out_dir`.

    `sink` is "lean" (`smtp_sink.py`) or "aiosmtpd" (the server the tests use; about 1 ms of CPU a message).
    `reply_delay` (lean only): seconds each reply is held back, as by a relay across a network.
    """
    port = free_port()
    servers = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "smtp-server",
                "--sink",
                sink,
                "--port",
                str(port),
                "--out",
                str(received_file(out_dir, n)),
                "--reply-delay-ms",
                str(reply_delay * 1000),
            ],
            stdout=subprocess.PIPE,
        )
        for n in range(processes)
    ]
    try:
        for process in servers:
            assert process.stdout is not None
            if process.stdout.readline().strip() != b"ready":
                raise RuntimeError("an SMTP server process did not start")
        yield port
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            process.wait()


def received_file(out_dir: Path, n: int) -> Path:
    return out_dir / f"received-{n}.tsv"


@dataclass
class Workers:
    env: dict[str, str]
    logs: Path
    profile_dir: Path | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    started: int = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.started += 1
        log = (self.logs / f"worker-{self.started}.log").open("wb")
        # cProfile writes its file when the worker exits on SIGTERM (not after a SIGKILL).
        profiler = []
        if self.profile_dir:
            target = self.profile_dir / f"{self.logs.name}worker-{self.started}.prof"
            profiler = ["-m", "cProfile", "-o", str(target)]
        process = subprocess.Popen(
            [sys.executable, *profiler, "-m", "tenure", "worker", "--interval", "0.2", "--no-startup-delay"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
        self.processes.append(process)
        return process

    def kill_one(self, rng: random.Random) -> None:
        """SIGKILL a running worker and start another in its place."""
        alive = [process for process in self.processes if process.poll() is None]
        victim = rng.choice(alive)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        self.processes.remove(victim)
        self.start()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def worker_env(database_url: str, data_dir: Path, smtp_port: int, workers: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "TENURE_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])),
        "TENURE_EMAIL_HOST": "127.0.0.1",
        "TENURE_EMAIL_PORT": str(smtp_port),
        "TENURE_EMAIL_FROM": SENDER,
        "TENURE_DRAINERS": str(workers),
        # Crash recovery on a bench scale: a dead worker's tasks are re-queued after 3 s, its claimed
        # messages are due again after 20 s (the adapter timeout is 5 s, so no send can outlive a claim).
        "TENURE_WORKER_HEARTBEAT_SECONDS": "0.5",
        "TENURE_WORKER_STALE_SECONDS": "3",
        "TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS": "20",
        "TENURE_EMAIL_TIMEOUT_SECONDS": "5",
        "TENURE_SMS_TIMEOUT_SECONDS": "5",
    }


PROBE = b"From: %s\r\nTo: probe@bench.example\r\nSubject: probe\r\nMessage-ID: <%d.%d@probe>\r\n\r\nprobe\r\n"


def send_probes(port: int, client: int, messages: int) -> None:
    """One plain smtplib client on one connection; prints its start and end (unix time)."""
    import smtplib

    smtp = smtplib.SMTP("127.0.0.1", port)
    started = time.time()
    for n in range(messages):
        smtp.sendmail(SENDER, ["probe@bench.example"], PROBE % (SENDER.encode(), client, n))
    print(started, time.time(), flush=True)
    smtp.quit()


def smtp_ceiling(
    processes: int, clients: int, sink: str, messages: int = 4000, reply_delay: float = 0.0
) -> float:
    """Messages a second `clients` plain smtplib clients (one connection each, as each worker holds one) get
    through the same server processes, nothing else involved: the most the workers could deliver to it on
    this machine right now."""
    with tempfile.TemporaryDirectory() as tmp, smtp_server(Path(tmp), processes, sink, reply_delay) as port:
        share = messages // clients
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "smtp-client",
                    "--port",
                    str(port),
                    "--client",
                    str(n),
                    "--count",
                    str(share),
                ],
                stdout=subprocess.PIPE,
            )
            for n in range(clients)
        ]
        spans = [tuple(map(float, run.communicate()[0].split())) for run in runs]
    return share * clients / (max(end for _, end in spans) - min(start for start, _ in spans))


# --- data ----------------------------------------------------------------------------------------------------


def ensure_customers(count: int) -> list[int]:
    """`count` bench customers, each with one e-mail identity; created in bulk once, reused after."""
    from tenure.customers.models import Customer, Identity, Lifecycle

    existing = list(Customer.objects.filter(external_ref__startswith="bench-").values_list("pk", flat=True))
    missing = count - len(existing)
    if missing > 0:
        start = len(existing)
        customers = Customer.objects.bulk_create(
            [
                Customer(name=f"Bench Customer {n}", external_ref=f"bench-{n}", lifecycle=Lifecycle.ACTIVE)
                for n in range(start, start + missing)
            ],
            batch_size=5000,
        )
        Identity.objects.bulk_create(
            [
                Identity(customer=customer, channel="email", value=f"customer{start + n}@bench.example")
                for n, customer in enumerate(customers)
            ],
            batch_size=5000,
        )
        existing = list(
            Customer.objects.filter(external_ref__startswith="bench-").values_list("pk", flat=True)
        )
    return sorted(existing)[:count]


def queue_due(run: str, customer_ids: list[int], first_due: dt.datetime, spread: float) -> dict[str, float]:
    """One reminder per customer, due evenly over `spread` seconds from `first_due`, as the step runner queues
    them (a row plus its `message.queued` event); returns Message-ID -> due time (unix)."""
    from django.utils import timezone

    from tenure.core.models import Event
    from tenure.core.outbox.email import message_id_for
    from tenure.core.outbox_models import OutboundMessage

    domain = SENDER.rpartition("@")[2]
    due: dict[str, float] = {}
    rows = []
    step = spread / len(customer_ids) if customer_ids else 0.0
    for n, customer_id in enumerate(customer_ids):
        key = f"bench:{run}:enrollment:{n}:step:1"
        at = first_due + dt.timedelta(seconds=n * step)
        due[message_id_for(key, domain)] = at.timestamp()
        rows.append(
            OutboundMessage(
                customer_id=customer_id,
                channel="email",
                purpose="reminders",
                template="bench/payment_due",
                subject="Your payment is due on Friday",
                body=f"Hello,\n\nyour payment of 42.00 is due on Friday.\n\nReference {n}.\n",
                idempotency_key=key,
                send_after=at,
            )
        )
    created = OutboundMessage.objects.bulk_create(rows, batch_size=5000)
    Event.objects.bulk_create(
        [
            Event(
                customer_id=message.customer_id,
                kind="message.queued",
                occurred_at=timezone.now(),
                channel="email",
                source="outbox",
                idempotency_key=f"queued:{message.pk}",
                payload={"message_id": message.pk, "channel": "email", "purpose": "reminders"},
            )
            for message in created
        ],
        batch_size=5000,
    )
    return due


BENCH_JOURNEY = "bench-payment-due"
BENCH_STEP = "remind"


def bench_journey() -> Any:
    """A one-step journey (send the payment reminder by e-mail, no holdout), saved through its services."""
    from tenure.journeys.services import save_journey, save_template

    save_template(
        data={
            "key": BENCH_JOURNEY,
            "language": "en",
            "subject": "Your payment is due on Friday",
            "body": "Hello,\n\nyour payment of 42.00 is due on Friday.\n\nJust reply if anything changed.\n",
        }
    )
    return save_journey(
        data={
            "key": BENCH_JOURNEY,
            "name": "Bench: payment due",
            "trigger": {"manual": True},
            "purpose": "reminders",
            "holdout_percent": 0,
            "reentry": "always",
            "steps": [{"id": BENCH_STEP, "type": "send", "template": BENCH_JOURNEY, "channel": "email"}],
        }
    )


def enroll_due(run: str, customer_ids: list[int], first_due: dt.datetime, spread: float) -> dict[str, float]:
    """Enroll every customer, the first steps due over `spread` seconds from `first_due` (one group a
    second); returns Message-ID -> due time (unix) of the e-mail each first step will queue."""
    from tenure.core.outbox.email import message_id_for
    from tenure.journeys.enrolling import enroll_many
    from tenure.journeys.models import Enrollment

    journey = bench_journey()
    groups = max(1, min(len(customer_ids), int(spread)))
    size = -(-len(customer_ids) // groups)
    for group in range(groups):
        enroll_many(
            journey=journey,
            customer_ids=customer_ids[group * size : (group + 1) * size],
            trigger_key=f"bench:{run}",
            start_at=first_due + dt.timedelta(seconds=group * spread / groups),
        )
    domain = SENDER.rpartition("@")[2]
    rows = Enrollment.objects.filter(journey=journey, trigger_key=f"bench:{run}")
    return {
        message_id_for(f"journey:{pk}:{BENCH_STEP}", domain): at.timestamp()
        for pk, at in rows.values_list("pk", "next_step_at")
        if at is not None
    }


PARKED = dt.timedelta(days=3650)


def analyze_after_bulk_load() -> None:
    """Planner statistics for the rows just seeded, as after any bulk load.

    PostgreSQL gathers them in autovacuum, which some servers (these machines' CI among them) run
    without; with none at all, it guesses that a lookup of a few hundred customers by id matches most
    of the table and reads all of it. Tables that fill during the run (the outbox, the timeline) go
    without, as they would between two autovacuum passes.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def wait_for_workers(count: int, deadline: float = 300.0) -> None:
    """Until `count` workers keep a heartbeat (they are up and polling)."""
    from django.db import connection

    from tenure.core.models import WorkerHeartbeat

    give_up = time.monotonic() + deadline
    while WorkerHeartbeat.objects.count() < count:
        if time.monotonic() > give_up:
            raise RuntimeError(f"{count} workers did not start within {deadline:.0f} s")
        connection.close()
        time.sleep(0.2)


def move_due(run: str, shift: dt.timedelta, *, via_journeys: bool) -> None:
    from django.db.models import F

    from tenure.core.outbox_models import OutboundMessage
    from tenure.journeys.models import Enrollment

    if via_journeys:
        Enrollment.objects.filter(trigger_key=f"bench:{run}").update(next_step_at=F("next_step_at") - shift)
    else:
        OutboundMessage.objects.filter(idempotency_key__startswith=f"bench:{run}:").update(
            send_after=F("send_after") - shift
        )


def _runs_messages(run: str) -> Any:
    from django.db.models import Q

    from tenure.core.outbox_models import OutboundMessage

    return OutboundMessage.objects.filter(
        Q(idempotency_key__startswith=f"bench:{run}:") | Q(template=f"{BENCH_JOURNEY}:en")
    )


def outstanding(run: str) -> int:
    """Messages of this run not yet final, plus enrollments whose step has not run yet."""
    from tenure.journeys.models import Enrollment

    waiting = Enrollment.objects.filter(trigger_key=f"bench:{run}", state="active").count()
    return waiting + _runs_messages(run).exclude(status__in=["sent", "failed", "suppressed"]).count()


def not_sent(run: str) -> dict[str, int]:
    from django.db.models import Count

    rows = _runs_messages(run).exclude(status="sent").values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def settled_from_notes(run: str) -> int:
    """Messages a takeover marked sent from a killed lane's note instead of sending them again."""
    from tenure.core.models import Event

    settled = Event.objects.filter(kind="message.sent", payload__has_key="reply")
    ids = {event.payload["message_id"] for event in settled.only("payload")}
    return _runs_messages(run).filter(pk__in=ids).count()


def repeated_rows(run: str, copies_of: dict[str, list[float]]) -> list[dict[str, Any]]:
    """What the database says of each message the server got more than once (at most 10): where a repeat
    came from."""
    from tenure.core.models import Event
    from tenure.core.outbox.email import message_id_for

    domain = SENDER.rpartition("@")[2]
    repeated = {message_id for message_id, arrivals in copies_of.items() if len(arrivals) > 1}
    found: list[dict[str, Any]] = []
    for row in _runs_messages(run).values("pk", "idempotency_key", "status", "attempts", "last_error"):
        message_id = message_id_for(row["idempotency_key"], domain)
        if message_id in repeated and len(found) < 10:
            sent = Event.objects.filter(
                kind="message.sent", idempotency_key=f"message.sent:{row['pk']}"
            ).first()
            found.append(
                {
                    **row,
                    "arrivals": [round(at, 3) for at in copies_of[message_id]],
                    "sent_event": sent.payload if sent else None,
                }
            )
    return found


# --- one run -------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def per_bucket(times: Iterable[float], start: float, width: float) -> list[int]:
    """How many of `times` fell in each `width`-second bucket from `start` (the first due time)."""
    counts: list[int] = []
    for at in times:
        bucket = max(0, int((at - start) // width))
        counts.extend([0] * (bucket + 1 - len(counts)))
        counts[bucket] += 1
    return counts


def worst_lag_per_bucket(
    lags: dict[str, float], due: dict[str, float], start: float, width: float
) -> list[float]:
    """The largest timer lag among the messages due in each `width`-second bucket from `start`: shows
    whether a late tail is one slow moment or the whole run."""
    worst: list[float] = []
    for message_id, lag in lags.items():
        bucket = max(0, int((due[message_id] - start) // width))
        worst.extend([0.0] * (bucket + 1 - len(worst)))
        worst[bucket] = max(worst[bucket], round(lag, 3))
    return worst


@dataclass
class ArrivalCounter:
    """How many whole lines the server processes have written so far, reading only what is new each time.

    The wait loop asks every 0.2 s; parsing every file each time would cost the bench a sizeable share of
    the two cores it shares with the workers it measures, by the end of a 100,000-message run.
    """

    out_dir: Path
    offsets: dict[Path, int] = field(default_factory=dict)
    lines: int = 0

    def count(self) -> int:
        for out in self.out_dir.glob("received-*.tsv"):
            with out.open("rb") as handle:
                handle.seek(self.offsets.get(out, 0))
                new = handle.read()
            whole = new.rfind(b"\n") + 1  # a line still being written is read again next time
            self.offsets[out] = self.offsets.get(out, 0) + whole
            self.lines += new.count(b"\n", 0, whole)
        return self.lines


def received(out_dir: Path) -> list[tuple[str, float]]:
    """Every copy any server process accepted, in the order accepted."""
    # A server may be half-way through writing its last line: only whole lines count.
    lines = [line for out in out_dir.glob("received-*.tsv") for line in out.read_bytes().split(b"\n")[:-1]]
    copies = [(mid.decode(), float(at)) for mid, _, at in (line.partition(b"\t") for line in lines)]
    return sorted(copies, key=lambda copy: copy[1])


def run_once(
    *,
    run: str,
    database_url: str,
    data_dir: Path,
    customer_ids: list[int],
    workers: int,
    kills: int,
    spread: float,
    lead: float,
    give_up_after: float,
    via_journeys: bool = True,
    seed: int = 1,
    profile_dir: Path | None = None,
    smtp_processes: int = 1,
    sink: str = "lean",
    reply_delay: float = 0.0,
) -> dict[str, Any]:
    """Queue, deliver with `workers` worker processes (killing one `kills` times), count at the server."""
    from django.db import connection
    from django.utils import timezone

    rng = random.Random(seed)
    logs = Path(tempfile.mkdtemp(prefix=f"bench-{run}-", dir=data_dir))
    # Seeded far in the future, then moved in one UPDATE once the workers are up, so the minute starts
    # `lead` seconds later however long seeding and start-up took.
    parked = timezone.now() + PARKED
    due = (enroll_due if via_journeys else queue_due)(run, customer_ids, parked, spread)
    count = len(due)
    analyze_after_bulk_load()
    connection.close()
    with smtp_server(logs, smtp_processes, sink, reply_delay) as port:
        pool = Workers(worker_env(database_url, data_dir, port, workers), logs, profile_dir)
        for _ in range(workers):
            pool.start()
        wait_for_workers(workers)
        first_due = timezone.now() + dt.timedelta(seconds=lead)
        shift = parked - first_due
        move_due(run, shift, via_journeys=via_journeys)
        due = {message_id: at - shift.total_seconds() for message_id, at in due.items()}
        # Kill points spread over the delivery: after 1/(k+1), 2/(k+1), ... of the messages reached the server.
        kill_at = [count * (n + 1) // (kills + 1) for n in range(kills)]
        killed = 0
        give_up = time.monotonic() + lead + spread + give_up_after
        arrivals = ArrivalCounter(logs)
        try:
            while time.monotonic() < give_up:
                got = arrivals.count()
                while killed < len(kill_at) and got >= kill_at[killed]:
                    pool.kill_one(rng)
                    killed += 1
                if got >= count and outstanding(run) == 0:
                    break
                connection.close()
                time.sleep(0.2)
        finally:
            pool.stop()
            connection.close()
    copies = received(logs)
    copies_of: dict[str, list[float]] = {}
    for message_id, at in copies:
        copies_of.setdefault(message_id, []).append(at)
    first_seen = {message_id: arrivals[0] for message_id, arrivals in copies_of.items()}
    lost = sorted(set(due) - set(first_seen))
    lag_of = {mid: first_seen[mid] - due_at for mid, due_at in due.items() if mid in first_seen}
    lags = list(lag_of.values())
    last = max(first_seen.values()) if first_seen else float("nan")
    return {
        "messages": count,
        "workers": workers,
        "kills": killed,
        "all_delivered_s": round(last - first_due.timestamp(), 2),
        "throughput_per_s": round(len(first_seen) / max(last - first_due.timestamp(), 1e-9), 1),
        "lag_p50_s": round(percentile(lags, 0.5), 3),
        "lag_p99_s": round(percentile(lags, 0.99), 3),
        "lag_max_s": round(max(lags), 3) if lags else None,
        "lost": len(lost),
        "duplicated": len(copies) - len(first_seen),
        "foreign": len(set(first_seen) - set(due)),
        "delivered_per_10s": per_bucket(first_seen.values(), first_due.timestamp(), 10.0),
        "worst_lag_per_10s": worst_lag_per_bucket(lag_of, due, first_due.timestamp(), 10.0),
        "not_sent_in_db": not_sent(run),
        "settled_from_notes": settled_from_notes(run),
        "repeated": repeated_rows(run, copies_of),
    }


# --- the command ---------------------------------------------------------------------------------------------


@contextlib.contextmanager
def database(postgres: str | None, data_dir: Path) -> Iterator[str]:
    """A fresh database: a temp SQLite file, or a new database on the given PostgreSQL server."""
    if not postgres:
        yield f"sqlite:///{data_dir / 'bench.sqlite3'}"
        return
    import psycopg

    name = f"tenure_bench_{os.getpid()}"
    parts = urlsplit(postgres)
    admin = psycopg.connect(postgres, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def setup_django(database_url: str, data_dir: Path) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["TENURE_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenure.settings")
    sys.path.insert(0, str(REPO_ROOT / "src"))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", nargs="?", default="bench", choices=["bench", "smtp-server", "smtp-client"])
    parser.add_argument("--count", type=int, default=100_000, help="messages per run (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="default: 2 on PostgreSQL, 1 on SQLite")
    parser.add_argument(
        "--kills", type=int, default=3, help="SIGKILLs in the crash run (default: %(default)s)"
    )
    parser.add_argument("--spread", type=float, default=60.0, help="due times spread over this many seconds")
    parser.add_argument("--lead", type=float, default=5.0, help="seconds from queueing to the first due time")
    parser.add_argument("--give-up-after", type=float, default=600.0, help="seconds after the last due time")
    parser.add_argument("--postgres", default=None, help="URL of a PostgreSQL server to create a database on")
    parser.add_argument(
        "--profile", type=Path, default=None, help="run each worker under cProfile, its stats written here"
    )
    parser.add_argument("--skip-clean", action="store_true", help="only the crash run")
    parser.add_argument(
        "--outbox-only",
        action="store_true",
        help="queue the e-mails directly instead of enrolling customers in a journey (measures the outbox alone)",
    )
    parser.add_argument(
        "--smtp-processes",
        type=int,
        default=2,
        help="SMTP server processes sharing the port, so one is not the limit (default: %(default)s)",
    )
    parser.add_argument(
        "--sink",
        choices=["lean", "aiosmtpd"],
        default="lean",
        help="the SMTP server: lean (smtp_sink.py, counts only) or aiosmtpd (default: %(default)s)",
    )
    parser.add_argument(
        "--reply-delay-ms",
        type=float,
        default=0.0,
        help="the lean sink holds each reply back this long, as a relay across a network would (default: 0)",
    )
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reply_delay_ms and args.sink != "lean":
        parser.error("--reply-delay-ms needs the lean sink")
    reply_delay = args.reply_delay_ms / 1000
    if args.mode == "smtp-server":
        if args.sink == "aiosmtpd":
            serve_smtp(args.port, args.out)
        else:
            from smtp_sink import serve

            serve(args.port, args.out, reply_delay)
        return
    if args.mode == "smtp-client":
        send_probes(args.port, args.client, args.count)
        return
    workers = args.workers or (2 if args.postgres else 1)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    # Stopped with SIGTERM, still stop the workers and the server and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="tenure-bench-journeys-") as tmp:
        data_dir = Path(tmp)
        with database(args.postgres, data_dir) as url:
            setup_django(url, data_dir)
            from django.db import connection

            started = time.monotonic()
            customer_ids = ensure_customers(args.count)
            setup_s = time.monotonic() - started
            common: dict[str, Any] = {
                "database_url": url,
                "data_dir": data_dir,
                "customer_ids": customer_ids,
                "workers": workers,
                "spread": args.spread,
                "lead": args.lead,
                "give_up_after": args.give_up_after,
                "via_journeys": not args.outbox_only,
                "profile_dir": args.profile,
                "smtp_processes": args.smtp_processes,
                "sink": args.sink,
                "reply_delay": reply_delay,
            }
            result: dict[str, Any] = {
                "bench": "journeys-outbox",
                "database": connection.vendor,
                "count": args.count,
                "source": "outbox rows" if args.outbox_only else "journey enrollments",
                "spread_s": args.spread,
                "setup_s": round(setup_s, 1),
                "smtp_processes": args.smtp_processes,
                "sink": args.sink,
                "reply_delay_ms": args.reply_delay_ms,
                "smtp_server_alone_per_s": round(
                    smtp_ceiling(
                        args.smtp_processes,
                        workers,
                        args.sink,
                        # across a network a plain client gets through far fewer: a shorter probe
                        messages=200 if args.reply_delay_ms else 4000,
                        reply_delay=reply_delay,
                    ),
                    1,
                ),
                "goals": GOALS,
            }
            if not args.skip_clean:
                result["clean"] = run_once(run="clean", kills=0, **common)
                print(json.dumps({"clean": result["clean"]}), file=sys.stderr, flush=True)
            result["crash"] = run_once(run="crash", kills=args.kills, **common)
            connection.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
