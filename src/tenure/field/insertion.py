"""The fast insertion check: can this technician's day take one more job, and in which windows?

For every place the job could go in the route and every candidate window start at once (numpy over
candidates x samples), simulate the day with the job inserted and keep the candidates where
- the new job's window reaches the required coverage,
- every later stop keeps its promise (no worse than the required coverage, or than it already was),
- the technician is back at base by the end of the shift with the same confidence.
Among the places that work for a window start, the one adding the least expected time wins.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from tenure.field.arrivals import StopSpec, coverage, propagate
from tenure.field.durations import Lognormal
from tenure.field.learning import Models
from tenure.field.routes import RouteDay, home_by, predict, ts
from tenure.field.travel import Point
from tenure.field.windows import WINDOW_SECONDS

CANDIDATE_KEY = -1
# Later stops may lose this much modelled coverage to a new job if they stay above the required level.
TOLERANCE = 0.02


@dataclass(frozen=True)
class Fit:
    window_start: float
    position: int  # index among the stops ahead (0 = next)
    coverage: float
    added_seconds: float
    raw: np.ndarray  # the new job's raw arrival samples for this window


@dataclass(frozen=True)
class Job:
    point: Point
    duration: Lognormal


def fits(day: RouteDay, job: Job, starts: np.ndarray, now: dt.datetime, models: Models) -> list[Fit | None]:
    """For each candidate window start (POSIX seconds), the best insertion or None."""
    level = models.level
    base = predict(day, now, models)
    start, legs = base.start, base.legs
    shift_end = ts(day.shift.end)
    base_cov = [
        float(coverage(leg.raw, ts(stop.window_end))) if stop.window_end else 1.0
        for leg, stop in zip(legs, start.ahead, strict=True)
    ]
    base_back = float(base.back_home.mean())
    shape = (starts.size, models.draws.n)
    best: list[Fit | None] = [None] * starts.size
    for position in range(start.fixed, len(start.specs) + 1):
        if position == 0:
            ready, here, taken = start.ready, start.origin, start.taken
        else:
            leg = legs[position - 1]
            ready, here, taken = leg.finish, start.specs[position - 1].point, leg.taken
        ready_c = np.broadcast_to(ready, shape)
        taken_c = [np.broadcast_to(t, shape).copy() for t in taken]
        candidate = StopSpec(CANDIDATE_KEY, job.point, job.duration, earliest=starts[:, None])  # type: ignore[arg-type]
        new_legs, ready_end, here_end = propagate(
            ready_c,
            here,
            [candidate, *start.specs[position:]],
            travel=models.travel,
            noise=models.noise,
            draws=models.draws,
            breaks=day.breaks,
            taken=taken_c,
            now=ts(now),
        )
        new_cov = coverage(new_legs[0].raw, starts + WINDOW_SECONDS)
        ok = new_cov >= level
        for offset, leg in enumerate(new_legs[1:]):
            stop = start.ahead[position + offset]
            if stop.window_end is not None:
                needed = min(level, base_cov[position + offset] - TOLERANCE)
                ok &= coverage(leg.raw, ts(stop.window_end)) >= needed
        back = home_by(ready_end, here_end, day, models.travel)
        ok &= np.mean(back <= shift_end, axis=-1) >= level
        added = back.mean(axis=-1) - base_back
        for index in np.flatnonzero(ok):
            current = best[index]
            if current is None or added[index] < current.added_seconds:
                best[index] = Fit(
                    float(starts[index]),
                    position,
                    float(new_cov[index]),
                    float(added[index]),
                    new_legs[0].raw[index],
                )
    return best
