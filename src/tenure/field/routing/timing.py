"""Timing one technician's route exactly, and the reasons a job cannot go on a route.

Breaks are taken where the technician is: travel or work that would run into a break waits until it ends.
The solver approximates this (see solver.py); the plan it returns is re-timed here, and a dispatcher's
manual move is checked here too, so both answer to the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tenure.field.routing.problem import Job, Point, Stop, TravelMatrix, Worker


def clock(seconds: int) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    return f"{hours % 24:02d}:{rest // 60:02d}"


def after_breaks(moment: int, duration: int, breaks: Sequence[tuple[int, int]]) -> int:
    """When an activity of `duration` seconds that may start at `moment` ends, pausing for breaks."""
    for start, end in sorted(breaks):
        if end <= moment:
            continue
        if start <= moment:  # inside a break: wait for its end
            moment = end
            continue
        if moment + duration <= start:
            break
        duration -= start - moment
        moment = end
    return moment + duration


def skills_missing(worker: Worker, job: Job) -> frozenset[str]:
    return job.skills - worker.skills


@dataclass(frozen=True)
class Timed:
    stops: list[Stop]
    back_home: int
    travel: int
    problems: list[str]


def time_route(worker: Worker, jobs: Sequence[Job], travel: TravelMatrix) -> Timed:
    """Arrival, start and end of each job in this order, and every rule the route breaks."""
    points: list[Point] = [worker.origin, worker.home]
    problems: list[str] = []
    for job in jobs:
        if job.location is None:
            problems.append(f"{job.label or job.key}: the address has no coordinates")
            return Timed([], worker.ready, 0, problems)
        points.append(job.location)
    seconds = travel(points)
    now, here, total = worker.ready, 0, 0
    stops: list[Stop] = []
    for index, job in enumerate(jobs, start=2):
        name = job.label or str(job.key)
        if missing := skills_missing(worker, job):
            problems.append(
                f"{name}: {worker.name or worker.key} lacks the skill {', '.join(sorted(missing))}"
            )
        leg = math.ceil(seconds[here][index])
        total += leg
        arrival = after_breaks(now, leg, worker.breaks)
        start = max(arrival, job.early)
        start = after_breaks(start, 0, worker.breaks)
        if start > job.late:
            problems.append(
                f"{name}: arrives {clock(start)}, after its window {clock(job.early)} to {clock(job.late)}"
            )
        now = after_breaks(start, job.service, worker.breaks)
        stops.append(Stop(job=job.key, arrival=arrival, start=start, end=now))
        here = index
    leg = math.ceil(seconds[here][1])
    total += leg
    back = after_breaks(now, leg, worker.breaks)
    if back > worker.end:
        problems.append(f"back at base {clock(back)}, after the shift ends at {clock(worker.end)}")
    return Timed(stops, back, total, problems)


def why_unplannable(job: Job, workers: Sequence[Worker], travel: TravelMatrix) -> str | None:
    """The reason no technician could take this job even on an empty route, or None if one could."""
    if job.location is None:
        return "the address has no coordinates"
    able = [w for w in workers if not skills_missing(w, job)]
    if job.pinned_to is not None:
        able = [w for w in able if w.key == job.pinned_to]
        if not able:
            return f"the technician it is pinned to ({job.pinned_to}) is not working or lacks its skills"
    if not able:
        return f"no technician has the skills {', '.join(sorted(job.skills))}"
    if any(not time_route(w, [job], travel).problems for w in able):
        return None
    return (
        f"fits no technician's shift: the {job.service // 60}-minute job must start "
        f"{clock(job.early)} to {clock(job.late)} and leave time to get back"
    )
