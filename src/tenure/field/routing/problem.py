"""What the day planner works on, free of the database: technicians' shifts, jobs, travel and the plan.

Times are whole seconds from the plan's origin (a moment the caller chooses, say local midnight), so the
solver and the checks never touch time zones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

Point = tuple[float, float]  # (latitude, longitude)
# Driving seconds between every pair of points, as an (n, n) array.
TravelMatrix = Callable[[Sequence[Point]], np.ndarray]


@dataclass(frozen=True)
class Worker:
    """A technician's day: where it starts and ends, when, what they can do, and fixed breaks."""

    key: int
    home: Point
    skills: frozenset[str]
    start: int
    end: int
    breaks: tuple[tuple[int, int], ...] = ()
    # Once the day is under way: where and when the technician is next free (after a job already begun).
    free_from: Point | None = None
    free_at: int | None = None
    name: str = ""

    @property
    def origin(self) -> Point:
        return self.free_from or self.home

    @property
    def ready(self) -> int:
        return max(self.start, self.free_at) if self.free_at is not None else self.start


@dataclass(frozen=True)
class Job:
    """A visit to plan: service must start inside [early, late] (the arrival window)."""

    key: int
    location: Point | None
    skills: frozenset[str]
    service: int
    early: int
    late: int
    pinned_to: int | None = None  # a dispatcher's choice of technician, kept by re-optimisation
    label: str = ""


@dataclass(frozen=True)
class Stop:
    job: int
    arrival: int  # when the technician gets there
    start: int  # when service starts (arrival, or the window's start if early)
    end: int


@dataclass
class Plan:
    routes: dict[int, list[Stop]] = field(default_factory=dict)
    # Jobs left out, each with the reason a dispatcher can act on.
    unassigned: dict[int, str] = field(default_factory=dict)
    # Route-level problems found when the solver's routes were re-timed exactly (should stay empty).
    warnings: list[str] = field(default_factory=list)
    travel_seconds: int = 0

    def order(self) -> dict[int, list[int]]:
        return {worker: [stop.job for stop in stops] for worker, stops in self.routes.items()}
