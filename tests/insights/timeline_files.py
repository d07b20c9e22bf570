"""Generic subscription and event CSV files where late visits make customers leave (for the timeline path)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np

START = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
END = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def write_files(directory: Path, customers: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    subscriptions, events = directory / "subscriptions.csv", directory / "events.csv"
    with subscriptions.open("w", newline="") as subs_file, events.open("w", newline="") as events_file:
        subs = csv.writer(subs_file)
        subs.writerow(["customer", "start", "end", "monthly_value"])
        happened = csv.writer(events_file)
        happened.writerow(["customer", "time", "type"])
        for number in range(customers):
            key = f"c{number:05d}"
            start = START + dt.timedelta(days=float(rng.uniform(0, 680)))
            trouble = rng.exponential(0.5)
            month, end, recent = start, None, 0
            while month < END and end is None:
                late = rng.poisson(0.1 + 0.5 * trouble)
                if rng.random() < 0.02 * np.exp(1.5 * trouble + 0.3 * (late + recent)):
                    end = month + dt.timedelta(days=float(rng.uniform(20, 30)))
                stop = min(END, end or END)
                for kind, count in (("request.received", rng.poisson(0.6)), ("job.late", late)):
                    for _ in range(count):
                        when = month + dt.timedelta(days=float(rng.uniform(0, 30)))
                        if when < stop:
                            happened.writerow([key, when.isoformat(), kind])
                recent = late
                month += dt.timedelta(days=30)
            ended = end.isoformat() if end is not None and end < END else ""
            subs.writerow([key, start.isoformat(), ended, f"{rng.uniform(20, 80):.2f}"])
    return subscriptions, events
