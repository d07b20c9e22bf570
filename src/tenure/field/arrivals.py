"""Arrival-time distributions along a technician's route, by Monte Carlo (numpy, vectorised).

Each sample is one way the day could go: every drive is the travel model's estimate times a lognormal
error learned from history, every job a draw from its duration profile, breaks are taken at the first
moment the technician is free after they start, and a technician free early leaves in time to reach
the window start by the estimate (and waits at the door if the drive was quicker: the window start is
the earliest arrival). Times are POSIX seconds (floats).

Samples are drawn with common random numbers: the draws for a stop depend only on (seed, stop key),
so comparing "with" and "without" a candidate job, or two candidate windows, compares like with like.
Extra leading dimensions (e.g. one per candidate window start) broadcast through unchanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr, ndtri

from tenure.field.durations import Lognormal
from tenure.field.travel import Point, TravelModel

SAMPLES = 400
UTC = dt.UTC


@dataclass(frozen=True)
class TravelNoise:
    """log(actual / estimated drive time) ~ Normal(bias, sigma)."""

    bias: float = 0.0
    sigma: float = 0.25


@dataclass(frozen=True)
class StopSpec:
    key: int  # appointment id; a candidate not yet stored uses a negative key
    point: Point
    duration: Lognormal
    earliest: float = -np.inf  # window start: arriving earlier means waiting
    departed_at: float | None = None  # the technician is already driving here (set for the first stop only)
    travel_estimate: float | None = None  # the drive time estimated when they set off


@dataclass(frozen=True)
class Break:
    start: float
    seconds: float


@dataclass
class Draws:
    """Standard-normal draws per stop key, made once and reused by every evaluation."""

    seed: int
    n: int = SAMPLES
    _cache: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def for_stop(self, key: int) -> tuple[np.ndarray, np.ndarray]:
        if key not in self._cache:
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, key & 0xFFFFFFFF, int(key < 0)])
            self._cache[key] = (rng.standard_normal(self.n), rng.standard_normal(self.n))
        return self._cache[key]


@dataclass
class Leg:
    raw: np.ndarray  # when the technician would reach the stop, before waiting for its window
    arrive: np.ndarray
    finish: np.ndarray
    taken: list[np.ndarray]  # which breaks each sample has had by the time it leaves this stop


def _when(seconds: np.ndarray) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(np.mean(seconds)), tz=UTC)


def take_breaks(ready: np.ndarray, breaks: Sequence[Break], taken: list[np.ndarray]) -> np.ndarray:
    for index, pause in enumerate(breaks):
        due = (ready >= pause.start) & ~taken[index]
        if due.any():
            ready = ready + due * pause.seconds
            taken[index] = taken[index] | due
    return ready


def conditional_lognormal(mu: float, sigma: float, floor: float, z: np.ndarray) -> np.ndarray:
    """Draws of a lognormal(mu, sigma) given that it is at least `floor`, by the inverse CDF; `z` are
    standard-normal draws turned into uniforms on the remaining tail."""
    if floor <= 0:
        return np.exp(mu + sigma * z)
    tail_from = float(ndtr((np.log(floor) - mu) / sigma))
    if tail_from >= 1 - 1e-9:  # far beyond anything the profile expects: a little past the floor
        return floor * np.exp(np.abs(z) * 0.1)
    u = tail_from + (1 - tail_from) * ndtr(z)
    return np.exp(mu + sigma * ndtri(np.minimum(u, 1 - 1e-12)))


def drive(
    ready: np.ndarray,
    origin: Point,
    stop: StopSpec,
    travel: TravelModel,
    noise: TravelNoise,
    z: np.ndarray,
    now: float,
) -> np.ndarray:
    """Raw arrival samples at `stop` leaving `origin` at `ready`."""
    if stop.departed_at is not None:
        estimate = stop.travel_estimate or travel.seconds(
            origin, stop.point, _when(np.asarray(stop.departed_at))
        )
        elapsed = max(0.0, now - stop.departed_at)
        seconds = conditional_lognormal(np.log(max(estimate, 1.0)) + noise.bias, noise.sigma, elapsed, z)
        return np.broadcast_to(stop.departed_at + seconds, np.shape(ready)).astype(float)
    estimate = travel.seconds(origin, stop.point, _when(ready))
    if estimate <= 0:
        return ready
    # Free early, a technician leaves so as to reach the window start by the estimate, not at once.
    leave = np.maximum(ready, stop.earliest - estimate)
    return leave + estimate * np.exp(noise.bias + noise.sigma * z)


def propagate(
    ready: np.ndarray,
    origin: Point,
    stops: Sequence[StopSpec],
    *,
    travel: TravelModel,
    noise: TravelNoise,
    draws: Draws,
    breaks: Sequence[Break] = (),
    taken: list[np.ndarray] | None = None,
    now: float = 0.0,
) -> tuple[list[Leg], np.ndarray, Point]:
    """Walk the stops in order from `origin`, free at `ready`; return each stop's samples, when the
    technician is free after the last one, and where."""
    taken = taken if taken is not None else [np.zeros(np.shape(ready), dtype=bool) for _ in breaks]
    legs: list[Leg] = []
    here = origin
    for stop in stops:
        z_travel, z_duration = draws.for_stop(stop.key)
        ready = take_breaks(ready, breaks, taken)
        raw = drive(ready, here, stop, travel, noise, z_travel, now)
        arrive = np.maximum(raw, stop.earliest)
        minutes = np.exp(stop.duration.mu + stop.duration.sigma * z_duration)
        finish = arrive + minutes * 60.0
        legs.append(Leg(raw, arrive, finish, list(taken)))
        ready, here = finish, stop.point
    return legs, ready, here


def ready_on_site(
    *,
    now: float,
    arrived_at: float,
    duration: Lognormal,
    expected_finish: float | None,
    z: np.ndarray,
) -> np.ndarray:
    """When a technician now on site will be free: the duration profile given the time already spent,
    or, once they said how long it will run, their estimate with a spread that grows with what is left."""
    if expected_finish is not None:
        remaining = max(expected_finish - now, 60.0)
        return now + remaining * np.exp(0.25 * z - 0.03)
    elapsed = max(0.0, now - arrived_at)
    minutes = conditional_lognormal(duration.mu, duration.sigma, elapsed / 60.0, z)
    return np.maximum(arrived_at + minutes * 60.0, now)


def coverage(raw: np.ndarray, window_end: float | np.ndarray) -> np.ndarray:
    """P(arrival by the window end) along the last axis (arriving early means waiting, so it counts)."""
    return np.mean(raw <= np.asarray(window_end, dtype=float)[..., None], axis=-1)
