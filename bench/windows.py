"""Benchmark: do promised one-hour arrival windows hold, and are misses announced before the window?

    python bench/windows.py --seed 1 --days 20            # SQLite in a scratch directory
    python bench/windows.py --seed 1 --days 20 --database-url postgres://postgres@127.0.0.1:5432/x

Prints one JSON line: the share of arrivals inside the promised 60-minute window (goal >= 90%), the
mean promised window width, the share of misses announced before the window started (goal >= 95%),
notifications per job, and context (jobs, refusals, no-shows, emergencies, calibration).

The simulated company (all drawn from --seed; nothing is tuned to one seed):
- `--technicians` technicians (default 8) with home bases in a 22 x 20 km city, shifts 08:00-17:00 with
  a 30-minute break from 12:00, every day. Half of them can do installations.
- Four job types. True durations are lognormal per job type (median 40-110 min, log-sd 0.25-0.5) times a
  per-technician factor (log-sd 0.15) times a per-technician-and-type factor (log-sd 0.08). The job
  types' configured default durations are round guesses, not the truth: the system has to learn.
- Driving: the travel model's estimate times a per-leg lognormal error (log-mean +0.10, log-sd 0.20)
  times a per-day traffic factor (log-sd 0.08); the model is therefore biased and noisy.
- Customers ask 1-7 days ahead (Poisson, about 4.2 a technician a day), with preferences: as soon as
  possible, a morning/afternoon range, a named day, or a day and a range. They take the first offer
  (70%) or one of the first three. Emergencies (0.3 a technician a day) ask during the day for the
  soonest window. 4% of customers are not home (the technician leaves after 10 minutes).
- A technician leaves for the next stop in time to reach its window start (looking at the app every
  10 minutes while waiting, so a job added in front is seen), presses "on my way",
  "arrived" (waiting outside until the window opens if early), reports "running long" with an
  estimate when a job passes 1.3 x its planned length, and "completed" when done.

Everything a real installation does runs for real on a real database: offers and booking
(`field.booking`), the live-day services and their re-predictions and notices (`field.live`), the
re-prediction sweeper every 5 simulated minutes (`live.sweep_due`, which acts only on plans whose
check is due), "not fixed" return visits (`field.revisit`, for no-shows), and the nightly refit of
durations, travel error and window calibration (`field.learning.learn`). The first `--train-days` days only
produce history; the figures are measured on the `--days` days after them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

UTC = dt.UTC
START = dt.date(2031, 1, 6)
CENTRE = (51.50, -0.12)
JOB_TYPES = (  # code, name, skills, configured default minutes, true median minutes, true log-sd
    ("service", "Annual service", ("general",), 45, 40.0, 0.25),
    ("repair", "Repair", ("general",), 60, 55.0, 0.40),
    ("diagnose", "Diagnosis", ("general",), 60, 75.0, 0.50),
    ("install", "Installation", ("general", "install"), 90, 110.0, 0.30),
)
TYPE_WEIGHTS = (0.35, 0.35, 0.15, 0.15)
REQUESTS_PER_TECH_DAY = 4.2
EMERGENCIES_PER_TECH_DAY = 0.3
NO_SHOW = 0.04
SWEEP_EVERY = dt.timedelta(minutes=5)  # the worker polls every few seconds; due plans only are re-predicted
LONG_FACTOR = 1.3
CHECK_PHONE = dt.timedelta(minutes=10)


def open_database(database_url: str | None, name: str) -> None:
    """Point Django at a fresh database (SQLite in a scratch directory, or a new PostgreSQL database
    on the server of `database_url`) and migrate it."""
    if database_url:
        import psycopg

        parts = urlsplit(database_url)
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["TENURE_DATA_DIR"] = tempfile.mkdtemp(prefix=f"{name}-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenure.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def at(day: dt.date, hours: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=UTC) + dt.timedelta(hours=hours)


def random_point(rng: np.random.Generator) -> tuple[float, float]:
    return (CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.15, 0.15))


@dataclass
class Company:
    technicians: list[Any]
    job_types: dict[str, Any]
    true_median: dict[tuple[int, str], float]  # (technician id, job type code) -> median minutes
    true_sigma: dict[str, float]

    @property
    def code_of(self) -> dict[int, str]:
        return {job_type.pk: code for code, job_type in self.job_types.items()}


def build_company(rng: np.random.Generator, technicians: int, days: int) -> Company:
    from tenure.field.services import add_shift, create_job_type, create_technician

    job_types = {
        code: create_job_type(code=code, name=name, skills=skills, default_minutes=default)
        for code, name, skills, default, _, _ in JOB_TYPES
    }
    techs, medians = [], {}
    for index in range(technicians):
        skills = ["general", "install"] if index % 2 == 0 else ["general"]
        tech = create_technician(name=f"Technician {index + 1}", home=random_point(rng), skills=skills)
        factor = math.exp(rng.normal(0, 0.15))
        for code, _, _, _, median, _ in JOB_TYPES:
            medians[(tech.pk, code)] = median * factor * math.exp(rng.normal(0, 0.08))
        for offset in range(days):
            day = START + dt.timedelta(days=offset)
            add_shift(tech, at(day, 8), at(day, 17), breaks=[(at(day, 12), at(day, 12.5))])
        techs.append(tech)
    return Company(techs, job_types, medians, {code: sigma for code, *_, sigma in JOB_TYPES})


@dataclass
class Counters:
    requests: int = 0
    booked: int = 0
    refused: int = 0
    emergencies: int = 0
    no_shows: int = 0
    running_long: int = 0


@dataclass(order=True)
class Happening:
    when: dt.datetime
    seq: int
    action: Callable[[dt.datetime], None] = field(compare=False)


class Simulation:
    def __init__(self, seed: int, technicians: int, train_days: int, days: int) -> None:
        from tenure.field.learning import Models

        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.total_days = train_days + days
        self.eval_from = START + dt.timedelta(days=train_days)
        self.company = build_company(self.rng, technicians, self.total_days + 1)
        self.queue: list[Happening] = []
        self.seq = itertools.count()
        self.counters = Counters()
        self.models = Models.load(seed=seed)
        self.customer_count = 0
        self.traffic: dict[dt.date, float] = {}
        self.tech_state: dict[int, dict[str, Any]] = {}
        # appointment id -> (miss probability, already told?) as the last sweep before its window saw it
        self.last_look: dict[int, tuple[float, bool]] = {}

    # --- plumbing ---------------------------------------------------------------------------------
    def schedule(self, when: dt.datetime, action: Callable[[dt.datetime], None]) -> None:
        heapq.heappush(self.queue, Happening(when, next(self.seq), action))

    def run(self) -> None:
        first_booking_day = START - dt.timedelta(days=3)
        day = first_booking_day
        while day < START + dt.timedelta(days=self.total_days):
            self.plan_requests(day)
            if day >= START:
                self.plan_day(day)
            self.schedule(at(day, 23), self.nightly)
            day += dt.timedelta(days=1)
        while self.queue:
            happening = heapq.heappop(self.queue)
            happening.action(happening.when)

    def nightly(self, now: dt.datetime) -> None:
        from tenure.field.learning import Models, learn

        learn(now)
        self.models = Models.load(travel=self.models.travel, seed=self.seed)

    # --- customers --------------------------------------------------------------------------------
    def new_customer(self) -> Any:
        from tenure.customers.models import Customer

        self.customer_count += 1
        return Customer.objects.create(name=f"Customer {self.customer_count}", preferred_channel="phone")

    def preferences(self, today: dt.date) -> dict[str, Any]:
        kind = self.rng.choice(4, p=(0.35, 0.3, 0.15, 0.2))
        ranges = [["08:00", "12:00"], ["12:00", "17:00"], ["13:00", "17:00"], ["09:00", "15:00"]]
        day = (today + dt.timedelta(days=int(self.rng.integers(1, 7)))).isoformat()
        if kind == 0:
            return {"asap": True}
        if kind == 1:
            return {"ranges": [ranges[int(self.rng.integers(len(ranges)))]]}
        if kind == 2:
            return {"days": [day]}
        return {"days": [day], "ranges": [ranges[int(self.rng.integers(len(ranges)))]]}

    def plan_requests(self, day: dt.date) -> None:
        techs = len(self.company.technicians)
        if day < START + dt.timedelta(days=self.total_days - 1):
            for _ in range(self.rng.poisson(REQUESTS_PER_TECH_DAY * techs)):
                self.schedule(
                    at(day, self.rng.uniform(7, 19)), lambda now: self.request(now, emergency=False)
                )
        if day >= START:
            for _ in range(self.rng.poisson(EMERGENCIES_PER_TECH_DAY * techs)):
                self.schedule(
                    at(day, self.rng.uniform(7.5, 14)), lambda now: self.request(now, emergency=True)
                )

    def request(self, now: dt.datetime, *, emergency: bool) -> None:
        from django.core.exceptions import ValidationError

        from tenure.field.booking import book, offer_windows, request_appointment

        code = str(self.rng.choice([t[0] for t in JOB_TYPES], p=TYPE_WEIGHTS))
        lat, lon = random_point(self.rng)
        appointment = request_appointment(
            customer_id=self.new_customer().pk,
            job_type=self.company.job_types[code],
            address="somewhere in town",
            lat=lat,
            lon=lon,
            preferences={"asap": True} if emergency else self.preferences(now.date()),
            now=now,
        )
        self.counters.requests += 1
        self.counters.emergencies += emergency
        try:
            offers = offer_windows(appointment, now, models=self.models, horizon_days=10)
        except ValidationError:
            self.counters.refused += 1
            return
        choice = (
            offers[0]
            if self.rng.random() < 0.7 or len(offers) == 1
            else offers[int(self.rng.integers(min(3, len(offers))))]
        )
        try:
            book(
                appointment,
                choice.window_start,
                technician_id=choice.technician_id,
                now=now,
                models=self.models,
            )
            self.counters.booked += 1
        except ValidationError:
            self.counters.refused += 1

    # --- the technicians' day ---------------------------------------------------------------------
    def plan_day(self, day: dt.date) -> None:
        self.traffic[day] = math.exp(self.rng.normal(0, 0.08))
        for tech in self.company.technicians:
            self.schedule(at(day, 8), lambda now, t=tech: self.start_day(t, now))
        sweep = at(day, 7)
        while sweep <= at(day, 18):
            self.schedule(sweep, self.sweep)
            sweep += SWEEP_EVERY

    def start_day(self, tech: Any, now: dt.datetime) -> None:
        self.tech_state[tech.pk] = {"here": (tech.home_lat, tech.home_lon), "lunch": False, "day": now.date()}
        self.free(tech, now)

    def sweep(self, now: dt.datetime) -> None:
        from tenure.field.live import sweep_due

        sweep_due(now)
        self.note_last_look(now)

    def note_last_look(self, now: dt.datetime) -> None:
        """Remember the prediction of every stop whose window opens before the next sweep: the last one
        made before the window started, which decides whether a miss is announced in time."""
        from tenure.field.models import AHEAD_STATUSES, Appointment

        opening = Appointment.objects.filter(
            window_start__gt=now, window_start__lte=now + SWEEP_EVERY, status__in=AHEAD_STATUSES
        ).values_list("pk", "miss_probability", "notice_sent_at")
        for pk, probability, told in opening:
            self.last_look[pk] = (probability, told is not None)

    def next_stop(self, tech: Any, day: dt.date) -> Any:
        from tenure.field.models import Appointment, Status

        return (
            Appointment.objects.filter(
                plan__technician=tech, plan__date=day, status__in=(Status.BOOKED, Status.SCHEDULED)
            )
            .order_by("position", "id")
            .first()
        )

    def free(self, tech: Any, now: dt.datetime) -> None:
        state = self.tech_state[tech.pk]
        day = state["day"]
        if now >= at(day, 12) and not state["lunch"]:
            state["lunch"] = True
            self.schedule(now + dt.timedelta(minutes=30), lambda t, tech=tech: self.free(tech, t))
            return
        stop = self.next_stop(tech, day)
        if stop is None:
            if now < at(day, 17):
                self.schedule(now + dt.timedelta(minutes=15), lambda t, tech=tech: self.free(tech, t))
            return
        estimate = self.models.travel.seconds(state["here"], (stop.lat, stop.lon), now)
        depart = max(now, stop.window_start - dt.timedelta(seconds=estimate))
        if depart > now + CHECK_PHONE:  # while waiting, look at the app again: a job may be added before
            self.schedule(now + CHECK_PHONE, lambda t, tech=tech: self.free(tech, t))
            return
        self.schedule(depart, lambda t, tech=tech, stop=stop: self.set_off(tech, stop, t))

    def set_off(self, tech: Any, stop: Any, now: dt.datetime) -> None:
        from tenure.field import live

        state = self.tech_state[tech.pk]
        stop.refresh_from_db()
        upcoming = self.next_stop(tech, state["day"])
        if stop.status not in ("booked", "scheduled") or upcoming is None or upcoming.pk != stop.pk:
            self.free(tech, now)
            return
        live.on_my_way(stop, now=now, models=self.models)
        estimate = self.models.travel.seconds(state["here"], (stop.lat, stop.lon), now)
        seconds = estimate * math.exp(self.rng.normal(0.10, 0.20)) * self.traffic[state["day"]]
        arrival = max(now + dt.timedelta(seconds=seconds), stop.window_start)
        state["here"] = (stop.lat, stop.lon)
        self.schedule(arrival, lambda t, tech=tech, stop=stop: self.arrive(tech, stop, t))

    def arrive(self, tech: Any, stop: Any, now: dt.datetime) -> None:
        from tenure.field import live

        live.arrived(stop, now=now, models=self.models)
        stop.refresh_from_db()
        if self.rng.random() < NO_SHOW:
            self.counters.no_shows += 1
            self.schedule(now + dt.timedelta(minutes=10), lambda t: self.finish(tech, stop, t, no_show=True))
            return
        code = self.company.code_of[stop.job_type_id]
        minutes = self.company.true_median[(tech.pk, code)] * math.exp(
            self.rng.normal(0, self.company.true_sigma[code])
        )
        planned = stop.planned_minutes or 60
        if minutes > LONG_FACTOR * planned:
            noticed = now + dt.timedelta(minutes=LONG_FACTOR * planned)
            remaining_true = minutes - LONG_FACTOR * planned
            guess = max(5.0, remaining_true * math.exp(self.rng.normal(0, 0.15)))
            self.schedule(noticed, lambda t: self.report_long(stop, t, guess))
        self.schedule(
            now + dt.timedelta(minutes=minutes), lambda t: self.finish(tech, stop, t, no_show=False)
        )

    def report_long(self, stop: Any, now: dt.datetime, minutes: float) -> None:
        from tenure.field import live

        self.counters.running_long += 1
        live.running_long(stop, extra_minutes=max(1, round(minutes)), now=now, models=self.models)

    def finish(self, tech: Any, stop: Any, now: dt.datetime, *, no_show: bool) -> None:
        from tenure.field import live

        if no_show:
            live.mark_not_fixed(stop, reason="no one home", now=now, models=self.models)
        else:
            live.complete(stop, now=now, models=self.models)
        self.free(tech, now)

    # --- figures ----------------------------------------------------------------------------------
    def last_look_probability(self, pk: int) -> float | None:
        seen = self.last_look.get(pk)
        return round(seen[0], 3) if seen else None

    def last_look_figures(self, evaluated: list[Any]) -> dict[str, Any]:
        """For stops not yet told anything at the last look before their window: how likely the model
        said a miss was, split by whether the window was then missed, as counts per probability band."""
        bands = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 1.01)
        counts: dict[str, list[int]] = {}
        for a in evaluated:
            seen = self.last_look.get(a.pk)
            if seen is None or seen[1]:
                continue
            probability = seen[0]
            band = next(f"{lo}-{hi}" for lo, hi in itertools.pairwise(bands) if probability < hi)
            held_missed = counts.setdefault(band, [0, 0])
            held_missed[a.arrived_at > a.window_end] += 1
        return {"bands": "held, missed", **dict(sorted(counts.items()))}

    def bar_trade_off(self, evaluated: list[Any]) -> dict[str, Any]:
        """For stops not yet told at the last look: were the bar on the miss probability there `b`, how
        many would be told, the misses among those left untold, and the misses the model expected there
        (the sum of their probabilities)."""
        untold = [
            (self.last_look[a.pk][0], a.arrived_at > a.window_end)
            for a in evaluated
            if a.pk in self.last_look and not self.last_look[a.pk][1]
        ]
        return {
            f"{bar}": {
                "told": sum(p >= bar for p, _ in untold),
                "misses_untold": sum(missed for p, missed in untold if p < bar),
                "expected_misses_untold": round(sum(p for p, _ in untold if p < bar), 2),
            }
            for bar in (0.005, 0.01, 0.02, 0.05)
        }

    def figures(self) -> dict[str, Any]:
        from tenure.core.outbox_models import OutboundMessage
        from tenure.field.learning import current_calibration
        from tenure.field.models import Appointment

        evaluated = list(
            Appointment.objects.filter(
                window_start__gte=at(self.eval_from, 0),
                window_start__lt=at(START + dt.timedelta(days=self.total_days), 0),
                arrived_at__isnull=False,
            )
        )
        inside = [a.arrived_at <= a.window_end for a in evaluated]
        misses = [a for a, ok in zip(evaluated, inside, strict=True) if not ok]
        announced = [a for a in misses if a.notice_sent_at is not None and a.notice_sent_at < a.window_start]
        # Why a miss went unannounced: how late, and when (if ever) the first notice came relative to the
        # window start, and how sure the last prediction before arrival was.
        unannounced = [
            {
                "job": a.pk,
                "minutes_late": round((a.arrived_at - a.window_end).total_seconds() / 60, 1),
                "first_notice_minutes_after_start": round(
                    (a.notice_sent_at - a.window_start).total_seconds() / 60, 1
                )
                if a.notice_sent_at
                else None,
                "last_miss_probability": round(a.miss_probability, 3),
                "last_look_miss_probability": self.last_look_probability(a.pk),
            }
            for a in misses
            if a not in announced
        ]
        widths = [(a.window_end - a.window_start).total_seconds() / 60 for a in evaluated]
        keys = [f"field:{a.pk}:" for a in evaluated]
        messages = sum(OutboundMessage.objects.filter(idempotency_key__startswith=k).count() for k in keys)
        calibration = current_calibration()
        jobs = len(evaluated)
        return {
            "inside_window_pct": round(100 * sum(inside) / jobs, 2) if jobs else None,
            "goal_inside_window_pct": 90.0,
            "mean_window_minutes": round(float(np.mean(widths)), 1) if widths else None,
            "misses_announced_before_window_pct": round(100 * len(announced) / len(misses), 2)
            if misses
            else None,
            "goal_misses_announced_pct": 95.0,
            "misses": len(misses),
            "unannounced_misses": unannounced,
            "return_visits_booked": Appointment.objects.filter(revisit_of__isnull=False)
            .exclude(window_start=None)
            .count(),
            "notifications_per_job": round(messages / jobs, 3) if jobs else None,
            "jobs_evaluated": jobs,
            "jobs_per_technician_day": round(
                jobs / (len(self.company.technicians) * (self.total_days - (self.eval_from - START).days)), 2
            ),
            "requests": self.counters.requests,
            "refused": self.counters.refused,
            "emergencies": self.counters.emergencies,
            "no_shows": self.counters.no_shows,
            "running_long_reports": self.counters.running_long,
            "last_look_untold_by_miss_probability": self.last_look_figures(evaluated),
            "last_look_bar_trade_off": self.bar_trade_off(evaluated),
            "calibrated_model_level": round(calibration.model_level, 3),
            "learned_travel_log_bias": round(calibration.noise.bias, 3),
            "learned_last_look_bar": round(calibration.last_look_bar, 4),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--days", type=int, default=20, help="days measured (after the training days)")
    parser.add_argument("--train-days", type=int, default=10)
    parser.add_argument("--technicians", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server to use instead of SQLite")
    args = parser.parse_args()
    if args.days < 1 or args.train_days < 1 or args.technicians < 1:
        parser.error("--days, --train-days and --technicians must be at least 1")
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))
    open_database(args.database_url, f"tenure_bench_windows_{os.getpid()}")
    started = time.perf_counter()
    simulation = Simulation(args.seed, args.technicians, args.train_days, args.days)
    simulation.run()
    result = {
        "seed": args.seed,
        "days": args.days,
        "train_days": args.train_days,
        "technicians": args.technicians,
    }
    result.update(simulation.figures())
    result["database"] = "postgresql" if args.database_url else "sqlite"
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
