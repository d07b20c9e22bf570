"""The day planner on small, hand-checkable days: skills, windows, shifts, breaks, pins, reasons for every job
left out, and re-optimisation from the current plan."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tenure.field.routing import Job, SolveOptions, Worker, plan_day, time_route
from tenure.field.routing.problem import Point
from tenure.field.routing.solver import NO_ROOM
from tenure.field.routing.timing import after_breaks

H = 3600
FAST = SolveOptions(seconds=1.0, no_improvement=300)


def grid_travel(points: Sequence[Point]) -> np.ndarray:
    """Points on a km grid driven at 60 km/h: one minute per km."""
    return np.array([[60 * math.dist(a, b) for b in points] for a in points])


def worker(key: int, skills: set[str], home: Point = (0.0, 0.0), **kw: object) -> Worker:
    return Worker(key=key, home=home, skills=frozenset(skills), start=8 * H, end=17 * H, name=f"T{key}", **kw)  # type: ignore[arg-type]


def job(
    key: int,
    at: Point | None,
    early: int = 8 * H,
    late: int = 16 * H,
    skills: set[str] | None = None,
    **kw: object,
) -> Job:
    return Job(
        key=key, location=at, skills=frozenset(skills or set()), service=45 * 60, early=early, late=late, **kw
    )  # type: ignore[arg-type]


def assert_keeps_every_rule(plan, workers, jobs, exact_timing_may_drop: bool = False) -> None:  # type: ignore[no-untyped-def]
    by_key = {j.key: j for j in jobs}
    for w in workers:
        stops = plan.routes[w.key]
        timed = time_route(w, [by_key[s.job] for s in stops], grid_travel)
        assert timed.problems == []
        for stop in stops:
            assert by_key[stop.job].early <= stop.start <= by_key[stop.job].late
            assert not (by_key[stop.job].skills - w.skills)
    if not exact_timing_may_drop:
        assert plan.warnings == []


def test_skills_windows_and_shifts_hold() -> None:
    workers = [worker(1, {"boiler"}, home=(0, 0)), worker(2, {"boiler", "gas"}, home=(10, 10))]
    jobs = [
        job(10, (1, 2), 9 * H, 10 * H),
        job(11, (9, 9), 8 * H, 9 * H, skills={"gas"}),
        job(12, (2, 1), 13 * H, 14 * H),
        job(13, (3, 3), 10 * H, 11 * H, skills={"gas"}),
        job(14, (8, 11), 14 * H, 15 * H),
    ]
    plan = plan_day(workers, jobs, grid_travel, options=FAST)
    assert plan.unassigned == {}
    gas_jobs = {s.job for s in plan.routes[2]}
    assert {11, 13} <= gas_jobs
    assert_keeps_every_rule(plan, workers, jobs)


def test_every_left_out_job_has_a_reason() -> None:
    workers = [worker(1, {"boiler"})]
    jobs = [
        job(1, (1, 1)),
        job(2, (1, 1), skills={"solar"}),
        job(3, None),
        job(4, (1, 1), 20 * H, 21 * H),  # after the shift
        job(5, (200, 0), 8 * H, 9 * H),  # 200 minutes away, window closes at 9
    ]
    plan = plan_day(workers, jobs, grid_travel, options=FAST)
    assert [s.job for s in plan.routes[1]] == [1]
    assert "no technician has the skills solar" in plan.unassigned[2]
    assert plan.unassigned[3] == "the address has no coordinates"
    assert "fits no technician's shift" in plan.unassigned[4]
    assert "fits no technician's shift" in plan.unassigned[5]


def test_a_full_day_leaves_out_jobs_with_a_reason_and_keeps_the_rest() -> None:
    workers = [worker(1, set())]
    jobs = [job(k, (1, 1), 9 * H, 10 * H) for k in range(1, 5)]  # four 45-minute jobs all starting 9-10
    plan = plan_day(workers, jobs, grid_travel, options=FAST)
    assert len(plan.routes[1]) == 2
    assert sorted(plan.unassigned.values()) == [NO_ROOM, NO_ROOM]
    assert_keeps_every_rule(plan, workers, jobs)


def test_breaks_are_kept() -> None:
    lunch = (12 * H, 12 * H + 1800)
    workers = [worker(1, set(), breaks=(lunch,))]
    jobs = [job(k, (k, 0), 8 * H, 16 * H) for k in range(1, 8)]
    plan = plan_day(workers, jobs, grid_travel, options=FAST)
    assert plan.unassigned == {}
    assert_keeps_every_rule(plan, workers, jobs)
    for stop in plan.routes[1]:  # no service starts inside the break
        assert not (lunch[0] <= stop.start < lunch[1])


def test_after_breaks_pauses_work_that_runs_into_a_break() -> None:
    lunch = [(12 * H, 13 * H)]
    assert after_breaks(11 * H, 30 * 60, lunch) == 11 * H + 1800
    assert after_breaks(11 * H + 1800, 3600, lunch) == 13 * H + 1800
    assert after_breaks(12 * H + 600, 600, lunch) == 13 * H + 600


def test_pinned_job_stays_with_its_technician() -> None:
    workers = [worker(1, set(), home=(0, 0)), worker(2, set(), home=(50, 50))]
    jobs = [job(1, (1, 1)), job(2, (1, 2), pinned_to=2)]
    plan = plan_day(workers, jobs, grid_travel, options=FAST)
    assert 2 in [s.job for s in plan.routes[2]]
    assert 2 not in [s.job for s in plan.routes[1]]  # though worker 1 lives next door


def test_reoptimise_after_add_cancel_and_a_started_job_running_long() -> None:
    workers = [worker(1, set(), home=(0, 0)), worker(2, set(), home=(5, 5))]
    jobs = [job(k, (k % 4, k // 4), 8 * H, 16 * H) for k in range(1, 9)]
    first = plan_day(workers, jobs, grid_travel, options=FAST)
    assert first.unassigned == {}
    current = first.order()

    # Worker 1's first job has begun and now runs until 13:00; job 3 is cancelled; job 20 is new.
    started = current[1][0]
    done_at = 13 * H
    started_job = next(j for j in jobs if j.key == started)
    moved = [
        Worker(
            key=1,
            home=(0, 0),
            skills=frozenset(),
            start=8 * H,
            end=17 * H,
            free_from=started_job.location,
            free_at=done_at,
        ),
        workers[1],
    ]
    rest = [j for j in jobs if j.key not in (started, 3)] + [job(20, (2, 2), 14 * H, 15 * H)]
    again = plan_day(moved, rest, grid_travel, current=current, options=FAST)
    assert again.unassigned == {}
    planned = {s.job for stops in again.routes.values() for s in stops}
    assert planned == {j.key for j in rest}
    assert all(stop.arrival >= done_at for stop in again.routes[1])
    assert_keeps_every_rule(again, moved, rest)


def test_moving_a_job_to_a_technician_without_the_skill_is_refused_with_the_reason() -> None:
    w = worker(1, {"boiler"})
    timed = time_route(w, [job(1, (1, 1), skills={"gas"}, label="JOB-1")], grid_travel)
    assert timed.problems == ["JOB-1: T1 lacks the skill gas"]
    late = time_route(w, [job(2, (100, 0), 8 * H, 8 * H + 1800, label="JOB-2")], grid_travel)
    assert late.problems == ["JOB-2: arrives 09:40, after its window 08:00 to 08:30"]


def test_a_busy_day_with_lunch_breaks_never_plans_a_late_arrival() -> None:
    """Breaks are approximated inside the solver; whatever it returns must still hold when timed exactly."""
    import random

    rng = random.Random(5)
    lunch = (12 * H, 12 * H + 1800)
    workers = [
        worker(i, set(), home=(rng.uniform(0, 20), rng.uniform(0, 20)), breaks=(lunch,)) for i in range(1, 4)
    ]
    jobs = []
    for key in range(1, 25):
        opens = rng.choice(range(8, 16)) * H
        location = (rng.uniform(0, 30), rng.uniform(0, 30))
        jobs.append(
            Job(
                key=key,
                location=location,
                skills=frozenset(),
                service=rng.choice([30, 45, 60, 90]) * 60,
                early=opens,
                late=opens + H,
            )
        )
    plan = plan_day(workers, jobs, grid_travel, options=FAST)
    assert_keeps_every_rule(plan, workers, jobs, exact_timing_may_drop=True)
    planned = {s.job for stops in plan.routes.values() for s in stops}
    assert planned | set(plan.unassigned) == {j.key for j in jobs} and not planned & set(plan.unassigned)
    assert len(planned) >= 15
