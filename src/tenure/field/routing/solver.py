"""Day plans with PyVRP: each technician a vehicle type of one, from their home base (or wherever the day
has got them to) back home, inside their shift, with skills enforced through routing profiles.

- Skills and pins: each distinct (skills, private) combination is a routing profile whose matrix makes the
  jobs that technician may not do unreachable. A technician with breaks or pinned jobs gets a private
  profile, which also carries their breaks.
- Breaks are fixed times. PyVRP has no breaks, so each is a client only its owner can visit, with zero travel
  to and from it and a time window pinned to the break's start (the maintainers' suggested work-around).
  Zero travel lets the solver hide one leg behind the break; the returned routes are therefore re-timed
  exactly (timing.py) and anything that then breaks a rule is reported in `Plan.warnings`.
- Jobs are optional clients with a prize larger than any detour, so a job that cannot be fitted is left out
  and reported with a reason rather than making the whole plan infeasible.
- Re-optimisation warm-starts from the current routes; jobs already begun are not in the problem at all:
  the technician's day starts where and when that job will end (`Worker.free_from`/`free_at`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime, MultipleCriteria, NoImprovement

from tenure.field.routing.problem import Job, Plan, Point, TravelMatrix, Worker
from tenure.field.routing.timing import after_breaks, skills_missing, time_route, why_unplannable

UNREACHABLE = 10**9
PRIZE = 10**8  # more than any route's travel seconds, so serving a job always beats leaving it out
NO_ROOM = "no room on any capable technician's route that day (every one is full or too far)"


@dataclass(frozen=True)
class SolveOptions:
    seconds: float = 2.0
    no_improvement: int = 2_000  # iterations; stops early on small days
    seed: int = 1


@dataclass
class _Model:
    data: pyvrp.ProblemData
    job_of_client: list[int | None]  # None for break clients
    owner_of_break_client: dict[int, int]
    jobs: list[Job]


def _profile_key(worker: Worker, pinned_owners: set[int]) -> tuple[frozenset[str], int | None]:
    private = worker.key if worker.breaks or worker.key in pinned_owners else None
    return worker.skills, private


def _allowed(worker_skills: frozenset[str], private: int | None, job: Job) -> bool:
    if job.skills - worker_skills:
        return False
    return job.pinned_to is None or job.pinned_to == private


def _build(workers: Sequence[Worker], jobs: Sequence[Job], travel: TravelMatrix) -> _Model:
    points: list[Point] = []
    for worker in workers:
        points += [worker.origin, worker.home]
    job_points = [job.location for job in jobs]
    points += [p for p in job_points if p is not None]
    seconds = np.ceil(np.asarray(travel(points), dtype=float)).astype(np.int64)

    breaks = [(w_index, b) for w_index, w in enumerate(workers) for b in w.breaks if b[0] >= w.ready]
    n_travel, n_breaks = len(points), len(breaks)
    size = n_travel + n_breaks
    base = np.full((size, size), UNREACHABLE, dtype=np.int64)
    base[:n_travel, :n_travel] = seconds
    np.fill_diagonal(base, 0)

    pinned_owners = {job.pinned_to for job in jobs if job.pinned_to is not None}
    keys = [_profile_key(w, pinned_owners) for w in workers]
    profiles = list(dict.fromkeys(keys))
    job_offset = 2 * len(workers)
    matrices: list[Any] = []  # PyVRP's stubs want ndarray[int], which numpy's own types never are
    for skills, private in profiles:
        matrix = base.copy()
        for j, job in enumerate(jobs):
            if not _allowed(skills, private, job):
                matrix[:, job_offset + j] = UNREACHABLE
        for b, (w_index, _) in enumerate(breaks):
            if workers[w_index].key == private:
                matrix[:, n_travel + b] = 0
                matrix[n_travel + b, :] = 0
        np.fill_diagonal(matrix, 0)
        matrices.append(matrix)

    locations = [pyvrp.Location(x=p[1], y=p[0]) for p in points]
    locations += [pyvrp.Location(x=workers[w].home[1], y=workers[w].home[0]) for w, _ in breaks]
    depots = [pyvrp.Depot(location=i) for i in range(2 * len(workers))]
    clients = [
        pyvrp.Client(
            location=job_offset + j,
            service_duration=job.service,
            tw_early=job.early,
            tw_late=job.late,
            prize=PRIZE,
            required=False,
            name=str(job.key),
        )
        for j, job in enumerate(jobs)
    ]
    clients += [
        pyvrp.Client(
            location=n_travel + b, service_duration=end - start, tw_early=start, tw_late=start, name="break"
        )
        for b, (_, (start, end)) in enumerate(breaks)
    ]
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=1,
            start_depot=2 * i,
            end_depot=2 * i + 1,
            tw_early=after_breaks(w.ready, 0, w.breaks),
            tw_late=w.end,
            profile=profiles.index(keys[i]),
            name=str(w.key),
        )
        for i, w in enumerate(workers)
    ]
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vehicle_types,
        distance_matrices=matrices,
        duration_matrices=matrices,
    )
    return _Model(
        data=data,
        job_of_client=[job.key for job in jobs] + [None] * n_breaks,
        owner_of_break_client={len(jobs) + b: w for b, (w, _) in enumerate(breaks)},
        jobs=list(jobs),
    )


def _initial(
    model: _Model, workers: Sequence[Worker], current: Mapping[int, Sequence[int]]
) -> pyvrp.Solution:
    client_of_job = {key: c for c, key in enumerate(model.job_of_client) if key is not None}
    taken: set[int] = set()
    routes = []
    for index, worker in enumerate(workers):
        visits: list[int] = []
        for key in current.get(worker.key, ()):
            client = client_of_job.get(key)
            if client is None or client in taken:
                continue
            job = model.jobs[client]
            if skills_missing(worker, job):
                continue
            if job.pinned_to is not None and job.pinned_to != worker.key:
                continue
            visits.append(client)
            taken.add(client)
        for client, owner in model.owner_of_break_client.items():
            if owner == index:  # slot the break before the first job whose window opens after it
                break_at = model.data.clients()[client].tw_early
                at = next(
                    (i for i, c in enumerate(visits) if model.data.clients()[c].tw_early >= break_at),
                    len(visits),
                )
                visits.insert(at, client)
        if visits:
            routes.append(pyvrp.Route(model.data, visits, index))
    # Breaks of technicians without current jobs still need a route of their own.
    routed = {route.vehicle_type() for route in routes}
    for client, owner in model.owner_of_break_client.items():
        if owner not in routed:
            routes.append(pyvrp.Route(model.data, [client], owner))
            routed.add(owner)
    return pyvrp.Solution(model.data, routes)


def plan_day(
    workers: Sequence[Worker],
    jobs: Sequence[Job],
    travel: TravelMatrix,
    current: Mapping[int, Sequence[int]] | None = None,
    options: SolveOptions | None = None,
) -> Plan:
    """Routes for the day. `current` (technician → job keys in order) warm-starts a re-optimisation."""
    options = options or SolveOptions()
    plan = Plan(routes={w.key: [] for w in workers})
    plannable = []
    for job in jobs:
        if (reason := why_unplannable(job, workers, travel)) is not None:
            plan.unassigned[job.key] = reason
        else:
            plannable.append(job)
    if not plannable or not workers:
        return plan

    model = _build(workers, plannable, travel)
    # An empty warm start keeps PyVRP from building its own first solution, which it does better.
    initial = _initial(model, workers, current) if current else None
    stop = MultipleCriteria([MaxRuntime(options.seconds), NoImprovement(options.no_improvement)])
    result = pyvrp.solve(model.data, stop=stop, seed=options.seed, display=False, initial_solution=initial)

    by_key = {job.key: job for job in plannable}
    placed: set[int] = set()
    for route in result.best.routes():
        worker = workers[route.vehicle_type()]
        keys = [model.job_of_client[a.idx] for a in route.schedule() if a.is_client()]
        order = [by_key[k] for k in keys if k is not None]
        timed = time_route(worker, order, travel)
        plan.routes[worker.key] = timed.stops
        plan.travel_seconds += timed.travel
        plan.warnings += [f"{worker.name or worker.key}: {problem}" for problem in timed.problems]
        placed.update(job.key for job in order)
    for job in plannable:
        if job.key not in placed:
            plan.unassigned[job.key] = NO_ROOM
    return plan
