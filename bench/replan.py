"""Benchmark: one job runs two hours long; how soon are the customers it affects known and told?

    python bench/replan.py                                  # SQLite in a scratch directory
    python bench/replan.py --database-url postgres://postgres@127.0.0.1:5432/postgres

The day: 200 technicians with 10 jobs each (2,000 jobs) in one city, shifts 07:00-19:00, one-hour
windows spread over the day, everyone at 09:00 on site at their first job. Then, for `--repeats`
different technicians, the technician reports "running long, about two more hours" through the real
service (`field.live.running_long`): it re-predicts the rest of that route, decides which promised
windows are now likely to be missed, computes each customer's new window and queues the notices in the
outbox, in one transaction. The figure is the wall time of that call, from the report to the notices
being committed (goal <= 1 s), plus how many customers were told. The same day is also swept once
(`field.live.sweep_due` over all 200 routes) for scale.

The day is written with bulk inserts (it is the stage, not what is measured); nothing is mocked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time

import numpy as np

from windows import CENTRE, at, open_database

DAY = dt.date(2031, 3, 3)
TECHNICIANS, JOBS_EACH = 200, 10
GOAL_SECONDS = 1.0


def build_day(seed: int) -> list[int]:
    """Create the day; return the id of each technician's first (on-site) appointment."""
    from tenure.customers.models import Customer
    from tenure.field.models import Appointment, DayPlan, JobType, Shift, Status, Technician

    rng = np.random.default_rng(seed)
    job_type = JobType.objects.create(code="repair", name="Repair", default_duration_minutes=45)
    techs = Technician.objects.bulk_create(
        [
            Technician(
                name=f"Technician {i + 1}",
                home_lat=CENTRE[0] + rng.uniform(-0.1, 0.1),
                home_lon=CENTRE[1] + rng.uniform(-0.15, 0.15),
            )
            for i in range(TECHNICIANS)
        ]
    )
    Shift.objects.bulk_create([Shift(technician=t, start=at(DAY, 7), end=at(DAY, 19)) for t in techs])
    plans = DayPlan.objects.bulk_create([DayPlan(technician=t, date=DAY) for t in techs])
    customers = Customer.objects.bulk_create(
        [
            Customer(name=f"Customer {i + 1}", preferred_channel="phone")
            for i in range(TECHNICIANS * JOBS_EACH)
        ]
    )
    rows = []
    for index, (tech, plan) in enumerate(zip(techs, plans, strict=True)):
        for position in range(JOBS_EACH):
            start = at(DAY, 8 + position)  # hourly windows from 08:00 to 18:00
            rows.append(
                Appointment(
                    customer=customers[index * JOBS_EACH + position],
                    job_type=job_type,
                    address="in town",
                    lat=tech.home_lat + rng.uniform(-0.02, 0.02),
                    lon=tech.home_lon + rng.uniform(-0.03, 0.03),
                    status=Status.ON_SITE if position == 0 else Status.BOOKED,
                    technician=tech,
                    plan=plan,
                    position=position + 1,
                    window_start=start,
                    window_end=start + dt.timedelta(hours=1),
                    arrived_at=at(DAY, 8.5) if position == 0 else None,
                )
            )
    created = Appointment.objects.bulk_create(rows)
    return [a.pk for a in created if a.position == 1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use instead of SQLite")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not 1 <= args.repeats <= TECHNICIANS:
        parser.error(f"--repeats is between 1 and {TECHNICIANS}")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    open_database(args.database_url, f"tenure_bench_replan_{os.getpid()}")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tenure.core.outbox_models import OutboundMessage
    from tenure.field import live
    from tenure.field.learning import Models
    from tenure.field.models import Appointment, DayPlan

    firsts = build_day(args.seed)
    now = at(DAY, 9)
    Models.load()  # warm imports and the first query, as a running server would be
    timings, told, queries = [], [], []
    for pk in firsts[:: max(1, len(firsts) // args.repeats)][: args.repeats]:
        appointment = Appointment.objects.get(pk=pk)
        before = OutboundMessage.objects.count()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            outcome = live.running_long(appointment, extra_minutes=120, now=now)
            timings.append(time.perf_counter() - started)
        queries.append(len(captured.captured_queries))
        queued = OutboundMessage.objects.count() - before
        assert queued == len(outcome.notified), "every customer identified was queued a notice"
        told.append(queued)
    DayPlan.objects.update(check_due_at=now)
    started = time.perf_counter()
    swept = live.sweep_due(now + dt.timedelta(minutes=10))
    sweep_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "database": "postgresql" if args.database_url else "sqlite",
                "technicians": TECHNICIANS,
                "jobs": TECHNICIANS * JOBS_EACH,
                "repeats": len(timings),
                "seconds_to_notices_median": round(statistics.median(timings), 3),
                "seconds_to_notices_max": round(max(timings), 3),
                "goal_seconds": GOAL_SECONDS,
                "customers_told_median": statistics.median(told),
                "queries_median": statistics.median(queries),
                "routes_swept": swept,
                "sweep_seconds": round(sweep_seconds, 3),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
