"""Day plans with PyVRP: each technician a vehicle type of one, from their home base (or wherever the day
has got them to) back home, inside their shift, with skills enforced through routing profiles.

- Skills and pins: each distinct (skills, private) combination is a routing profile whose matrix makes the
  jobs that technician may not do unreachable. A technician with breaks or pinned jobs gets a private
  profile, which also carries their breaks.
- Breaks are fixed times, taken wherever the technician is. PyVRP has no breaks, so each is a client only its
  owner can visit, with a time window pinned to the break's start. A first pass gives it zero travel to and
  from it (the maintainers' suggested work-around), which lets the solver hide one leg behind the break.
  A second pass, warm-started from the first, puts each break at the place the first pass took it: going
  somewhere to rest can never be quicker than driving straight on, so the second pass never promises a
  time the technician cannot keep. The routes are re-timed exactly (timing.py) either way and anything that
  breaks a rule is reported in `Plan.warnings`.
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

from tenure.field.routing.problem import Job, Plan, Point, Stop, TravelMatrix, Worker
from tenure.field.routing.timing import Timed, after_breaks, skills_missing, time_route, why_unplannable

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


def _breaks(workers: Sequence[Worker]) -> list[tuple[int, tuple[int, int]]]:
    """(worker index, break) for every break still ahead, in a fixed order: the break clients' order."""
    return [(w_index, b) for w_index, w in enumerate(workers) for b in w.breaks if b[0] >= w.ready]


def _build(
    workers: Sequence[Worker],
    jobs: Sequence[Job],
    travel: TravelMatrix,
    break_points: Sequence[Point] | None = None,
) -> _Model:
    """The PyVRP data; breaks cost no travel unless `break_points` places each one somewhere."""
    points: list[Point] = []
    for worker in workers:
        points += [worker.origin, worker.home]
    points += [job.location for job in jobs if job.location is not None]
    breaks = _breaks(workers)
    n_places = len(points)  # where breaks' locations start
    if break_points is not None:
        points += list(break_points)
    seconds = np.ceil(np.asarray(travel(points), dtype=float)).astype(np.int64)
    size = n_places + len(breaks)
    base = np.full((size, size), UNREACHABLE, dtype=np.int64)
    base[: len(points), : len(points)] = seconds

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
            column = n_places + b
            if workers[w_index].key != private:
                matrix[:, column] = UNREACHABLE
                matrix[column, :] = UNREACHABLE
            elif break_points is None:
                matrix[:, column] = 0
                matrix[column, :] = 0
        np.fill_diagonal(matrix, 0)
        matrices.append(matrix)

    locations = [pyvrp.Location(x=p[1], y=p[0]) for p in points]
    if break_points is None:
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
            location=n_places + b, service_duration=end - start, tw_early=start, tw_late=start, name="break"
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
        job_of_client=[job.key for job in jobs] + [None] * len(breaks),
        owner_of_break_client={len(jobs) + b: w for b, (w, _) in enumerate(breaks)},
        jobs=list(jobs),
    )


def _where_breaks_fell(model: _Model, workers: Sequence[Worker], solution: pyvrp.Solution) -> list[Point]:
    """For each break client, the place the technician was when taking it in this solution."""
    places: dict[int, Point] = {}
    for route in solution.routes():
        here = workers[route.vehicle_type()].origin
        for activity in route.schedule():
            if not activity.is_client():
                continue
            key = model.job_of_client[activity.idx]
            if key is None:
                places[activity.idx] = here
            else:
                location = model.jobs[activity.idx].location
                here = location if location is not None else here
    return [
        places.get(client, workers[owner].origin)
        for client, owner in sorted(model.owner_of_break_client.items())
    ]


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


def _visits(route: pyvrp.Route) -> list[int]:
    return [a.idx for a in route.schedule() if a.is_client()]


def _solve(
    model: _Model, initial: pyvrp.Solution | None, options: SolveOptions, share: float
) -> pyvrp.Result:
    stop = MultipleCriteria([MaxRuntime(options.seconds * share), NoImprovement(options.no_improvement)])
    return pyvrp.solve(model.data, stop=stop, seed=options.seed, display=False, initial_solution=initial)


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
    share = 0.4 if model.owner_of_break_client else 1.0
    result = _solve(model, initial, options, share)
    best = _extract(model, result.best, workers, travel)
    if model.owner_of_break_client:
        located = _build(workers, plannable, travel, _where_breaks_fell(model, workers, result.best))
        warm = pyvrp.Solution(
            located.data,
            [
                pyvrp.Route(located.data, _visits(route), route.vehicle_type())
                for route in result.best.routes()
            ],
        )
        second = _extract(located, _solve(located, warm, options, 1 - share).best, workers, travel)
        # Both are timed exactly and kept to the rules; a short search may leave the second pass worse.
        if (second.planned, -second.travel_seconds) >= (best.planned, -best.travel_seconds):
            best = second

    plan.routes.update(best.routes)
    plan.travel_seconds = best.travel_seconds
    plan.warnings = best.warnings
    for job in plannable:
        if job.key not in best.placed:
            plan.unassigned[job.key] = NO_ROOM
    return plan


@dataclass
class _Routes:
    routes: dict[int, list[Stop]]
    placed: set[int]
    travel_seconds: int
    warnings: list[str]

    @property
    def planned(self) -> int:
        return len(self.placed)


def _extract(
    model: _Model, solution: pyvrp.Solution, workers: Sequence[Worker], travel: TravelMatrix
) -> _Routes:
    by_key = {job.key: job for job in model.jobs}
    orders: dict[int, list[Job]] = {}
    timings: dict[int, Timed] = {}
    dropped: list[Job] = []
    for route in solution.routes():
        index = route.vehicle_type()
        keys = [model.job_of_client[c] for c in _visits(route)]
        timings[index], orders[index], lost = _keepable(
            workers[index], [by_key[k] for k in keys if k is not None], travel
        )
        dropped += lost
    warnings = (
        [f"{len(dropped)} job(s) broke a rule when the solver's routes were timed exactly"] if dropped else []
    )
    for job in dropped:  # put each back where it fits with the least extra driving, if anywhere
        best: tuple[int, int, int, Timed] | None = None
        for index, worker in enumerate(workers):
            if job.skills - worker.skills or (job.pinned_to is not None and job.pinned_to != worker.key):
                continue
            order = orders.get(index, [])
            base = timings[index].travel if index in timings else time_route(worker, order, travel).travel
            for position in range(len(order) + 1):
                trial = time_route(worker, [*order[:position], job, *order[position:]], travel)
                if not trial.problems and (best is None or trial.travel - base < best[0]):
                    best = (trial.travel - base, index, position, trial)
        if best is not None:
            _, index, position, trial = best
            orders.setdefault(index, []).insert(position, job)
            timings[index] = trial
    out = _Routes(routes={}, placed=set(), travel_seconds=0, warnings=warnings)
    for index, timed in timings.items():
        out.routes[workers[index].key] = timed.stops
        out.travel_seconds += timed.travel
        out.placed.update(job.key for job in orders[index])
    return out


def _keepable(worker: Worker, order: list[Job], travel: TravelMatrix) -> tuple[Timed, list[Job], list[Job]]:
    """The route timed exactly; while it breaks a rule (a solver that ran out of time), drop the first late
    job, or the last job when only the shift's end is missed, so no plan promises what cannot be kept."""
    dropped: list[Job] = []
    timed = time_route(worker, order, travel)
    while timed.problems and order:
        late = next(
            (
                i
                for i, (job, stop) in enumerate(zip(order, timed.stops, strict=True))
                if stop.start > job.late
            ),
            None,
        )
        dropped.append(order.pop(len(order) - 1 if late is None else late))
        timed = time_route(worker, order, travel)
    return timed, order, dropped
