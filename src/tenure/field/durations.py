"""How long jobs take: a lognormal per job type (the company profile) and per technician and job type
(the personal profile), learned from completed appointments.

A technician with few jobs of a type has a noisy mean, so the personal profile is shrunk toward the
company one (a normal prior on the log-mean worth `PRIOR_JOBS` jobs) and then bounded to within
`MAX_RATIO` of it either way: one lucky week never makes a slow technician look twice as fast.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

PRIOR_JOBS = 8.0
MAX_RATIO = 1.6  # personal median within [1/1.6, 1.6] x company median
SIGMA_BOUNDS = (0.5, 1.6)  # personal spread within these multiples of the company spread
DEFAULT_SIGMA = 0.35
MIN_SIGMA = 0.05
MIN_SAMPLES = 3


@dataclass(frozen=True)
class Lognormal:
    mu: float
    sigma: float
    samples: int = 0

    @property
    def median_minutes(self) -> float:
        return math.exp(self.mu)

    @property
    def mean_minutes(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)


def fit_lognormal(minutes: Iterable[float]) -> Lognormal | None:
    logs = np.log(np.asarray([m for m in minutes if m > 0], dtype=float))
    if logs.size < MIN_SAMPLES:
        return None
    return Lognormal(float(logs.mean()), max(MIN_SIGMA, float(logs.std(ddof=1))), int(logs.size))


def personal_profile(company: Lognormal, minutes: Iterable[float]) -> Lognormal | None:
    logs = np.log(np.asarray([m for m in minutes if m > 0], dtype=float))
    if logs.size == 0:
        return None
    n = float(logs.size)
    mu = (logs.sum() + PRIOR_JOBS * company.mu) / (n + PRIOR_JOBS)
    bound = math.log(MAX_RATIO)
    mu = min(company.mu + bound, max(company.mu - bound, mu))
    if logs.size >= MIN_SAMPLES:
        own_var = float(((logs - logs.mean()) ** 2).sum())
        sigma = math.sqrt((own_var + PRIOR_JOBS * company.sigma**2) / (n - 1 + PRIOR_JOBS))
    else:
        sigma = company.sigma
    low, high = SIGMA_BOUNDS
    sigma = min(company.sigma * high, max(company.sigma * low, sigma))
    return Lognormal(float(mu), float(sigma), int(n))


@dataclass
class DurationModel:
    """Look-ups of fitted profiles, falling back from personal to company to the job type's default."""

    company: dict[int, Lognormal] = field(default_factory=dict)
    personal: dict[tuple[int, int], Lognormal] = field(default_factory=dict)
    defaults: dict[int, float] = field(default_factory=dict)  # job type -> default minutes

    def for_job(self, job_type_id: int, technician_id: int | None) -> Lognormal:
        if technician_id is not None and (job_type_id, technician_id) in self.personal:
            return self.personal[(job_type_id, technician_id)]
        if job_type_id in self.company:
            return self.company[job_type_id]
        return Lognormal(math.log(self.defaults.get(job_type_id, 60.0)), DEFAULT_SIGMA)


def fit_durations(
    samples: Iterable[tuple[int, int | None, float]], defaults: dict[int, float] | None = None
) -> DurationModel:
    """`samples` are (job type id, technician id, minutes on site) of completed jobs."""
    by_type: dict[int, list[float]] = defaultdict(list)
    by_pair: dict[tuple[int, int], list[float]] = defaultdict(list)
    for job_type_id, technician_id, minutes in samples:
        by_type[job_type_id].append(minutes)
        if technician_id is not None:
            by_pair[(job_type_id, technician_id)].append(minutes)
    model = DurationModel(defaults=dict(defaults or {}))
    for job_type_id, type_minutes in by_type.items():
        fitted = fit_lognormal(type_minutes)
        if fitted is not None:
            model.company[job_type_id] = fitted
    for (job_type_id, technician_id), own_minutes in by_pair.items():
        company = model.for_job(job_type_id, None)
        personal = personal_profile(company, own_minutes)
        if personal is not None:
            model.personal[(job_type_id, technician_id)] = personal
    return model
