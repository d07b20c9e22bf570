"""Solomon VRPTW instances on the routing solver: read, solve with PyVRP, re-cost exactly.

PyVRP works in integers, so coordinates (and with them travel times, time windows and service times) are
scaled by `SCALE`; travel times are rounded up so a route feasible for the solver stays feasible with the
exact Euclidean distances. The reported cost is always recomputed from the returned routes in double
precision, after checking them against the original (unscaled) time windows and capacity.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

SCALE = 1000
TOLERANCE = 1e-6


@dataclass(frozen=True)
class SolomonInstance:
    name: str
    vehicles: int
    capacity: int
    x: list[float]
    y: list[float]
    demand: list[int]
    ready: list[float]
    due: list[float]
    service: list[float]  # index 0 is the depot

    def distance(self, a: int, b: int) -> float:
        return math.hypot(self.x[a] - self.x[b], self.y[a] - self.y[b])


def read_solomon(path: Path) -> SolomonInstance:
    """The original text format: name, VEHICLE section (number, capacity), CUSTOMER table."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    name = lines[0][0]
    vehicles = capacity = None
    rows: list[list[str]] = []
    for index, fields in enumerate(lines):
        if fields[0].upper() == "NUMBER":
            vehicles, capacity = int(lines[index + 1][0]), int(lines[index + 1][1])
        if fields[0].isdigit() and len(fields) == 7:
            rows.append(fields)
    if vehicles is None or capacity is None or not rows:
        raise ValueError(f"{path.name}: not a Solomon instance (no VEHICLE section or CUSTOMER rows)")
    rows.sort(key=lambda r: int(r[0]))
    if [int(r[0]) for r in rows] != list(range(len(rows))):
        raise ValueError(f"{path.name}: customer numbers are not 0..{len(rows) - 1}")
    columns = list(zip(*rows, strict=True))
    return SolomonInstance(
        name=name,
        vehicles=vehicles,
        capacity=capacity,
        x=[float(v) for v in columns[1]],
        y=[float(v) for v in columns[2]],
        demand=[int(v) for v in columns[3]],
        ready=[float(v) for v in columns[4]],
        due=[float(v) for v in columns[5]],
        service=[float(v) for v in columns[6]],
    )


def to_problem_data(instance: SolomonInstance, scale: int = SCALE) -> pyvrp.ProblemData:
    coords = np.column_stack([instance.x, instance.y])
    exact = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(axis=2)) * scale
    # round() for the objective; ceil() for time so the solver never relies on a rounded-down travel time.
    distance = np.rint(exact).astype(np.int64)
    duration = np.ceil(exact - 1e-9).astype(np.int64)
    locations = [pyvrp.Location(x=x, y=y) for x, y in zip(instance.x, instance.y, strict=True)]
    depot = pyvrp.Depot(
        location=0, tw_early=round(instance.ready[0] * scale), tw_late=round(instance.due[0] * scale)
    )
    clients = [
        pyvrp.Client(
            location=i,
            delivery=[instance.demand[i]],
            service_duration=round(instance.service[i] * scale),
            tw_early=round(instance.ready[i] * scale),
            tw_late=round(instance.due[i] * scale),
        )
        for i in range(1, len(instance.x))
    ]
    vehicle_type = pyvrp.VehicleType(
        num_available=instance.vehicles,
        capacity=[instance.capacity],
        tw_early=depot.tw_early,
        tw_late=depot.tw_late,
    )
    return pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=[depot],
        vehicle_types=[vehicle_type],
        distance_matrices=[distance],
        duration_matrices=[duration],
    )


@dataclass(frozen=True)
class SolomonResult:
    routes: list[list[int]]  # customer numbers as in the file, depot excluded
    cost: float  # exact Euclidean distance of the routes
    feasible: bool
    problems: list[str]


def route_problems(instance: SolomonInstance, routes: list[list[int]]) -> list[str]:
    """Every way the routes break the instance in exact arithmetic; empty when they are feasible."""
    problems: list[str] = []
    customers = [c for route in routes for c in route]
    expected = set(range(1, len(instance.x)))
    if sorted(customers) != sorted(expected):
        missing, seen = expected - set(customers), len(customers) - len(set(customers))
        problems.append(f"customers missing {sorted(missing)[:5]} or visited twice ({seen})")
    if len([r for r in routes if r]) > instance.vehicles:
        problems.append(f"{len(routes)} routes for {instance.vehicles} vehicles")
    for number, route in enumerate(routes, start=1):
        if sum(instance.demand[c] for c in route) > instance.capacity:
            problems.append(f"route {number} exceeds capacity")
        time, here = instance.ready[0], 0
        for customer in route:
            time = max(time + instance.distance(here, customer), instance.ready[customer])
            if time > instance.due[customer] + TOLERANCE:
                problems.append(
                    f"route {number} reaches customer {customer} at {time:.3f} > {instance.due[customer]}"
                )
            time += instance.service[customer]
            here = customer
        if route and time + instance.distance(here, 0) > instance.due[0] + TOLERANCE:
            problems.append(f"route {number} returns to the depot after {instance.due[0]}")
    return problems


def exact_cost(instance: SolomonInstance, routes: list[list[int]]) -> float:
    total = 0.0
    for route in routes:
        stops = [0, *route, 0]
        total += sum(instance.distance(a, b) for a, b in itertools.pairwise(stops))
    return total


class MaxCpuTime:
    """Stop after this much CPU time of this process: a fair budget on a machine shared with other work,
    where a wall-clock limit would hand the solver only a fraction of a core."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started: float | None = None

    def __call__(self, best_cost: float) -> bool:
        if self.started is None:
            self.started = time.process_time()
        return time.process_time() - self.started > self.seconds


def solve_solomon(
    instance: SolomonInstance, seconds: float, seed: int = 1, *, cpu_clock: bool = True
) -> SolomonResult:
    data = to_problem_data(instance)
    stop = MaxCpuTime(seconds) if cpu_clock else MaxRuntime(seconds)
    result = pyvrp.solve(data, stop=stop, seed=seed, display=False)
    # A client activity's index counts clients from 0, so client i is customer i + 1 of the file.
    routes = [[a.idx + 1 for a in route.schedule() if a.is_client()] for route in result.best.routes()]
    problems = route_problems(instance, routes)
    if not result.best.is_feasible():
        problems.insert(0, "the solver found no feasible solution")
    return SolomonResult(
        routes=routes, cost=exact_cost(instance, routes), feasible=not problems, problems=problems
    )
