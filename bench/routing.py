"""Benchmark: the field routing solver (PyVRP) on the 56 Solomon VRPTW instances.

    python bench/routing.py                                   # all 56, 10 s each (about 10 minutes)
    python bench/routing.py --instances C101,R101 --time-limit 1

Each instance is solved once (seed 1) with a time limit per instance (CPU seconds of this process by
default, so other work on a shared machine does not shrink the budget; `--clock wall` for wall time); its routes are checked against the
original time windows and capacity in double precision and costed with exact Euclidean distances, then
compared with the distance-only best-known cost in `vrptw/bks.csv` (the shared data README: distance-only
objective, any number of vehicles up to the instance's fleet). Goal: mean gap <= 1%.
Prints a per-instance table, then one JSON line with the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
GOAL_MEAN_GAP = 1.0  # percent


def default_data() -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.shared_data import shared_data_dir

    return shared_data_dir() / "vrptw"


def best_known(path: Path) -> dict[str, float]:
    with path.open(newline="") as handle:
        rows = csv.DictReader(handle)
        return {
            row["instance"]: float(row["bks_distance_only_cost"])
            for row in rows
            if row["bks_distance_only_cost"]
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, help="folder holding solomon/ and bks.csv (default: shared data)"
    )
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per instance (default 10)")
    parser.add_argument("--instances", help="comma-separated names (default: every Solomon instance)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="what the time limit counts: this process's CPU time (default; fair on a shared machine) or wall time",
    )
    parser.add_argument("--routes-out", type=Path, help="write every instance's routes here as JSON")
    args = parser.parse_args()

    from tenure.field.routing.solomon import read_solomon, solve_solomon

    data = args.data or default_data()
    if not (data / "bks.csv").is_file() or not (data / "solomon").is_dir():
        parser.error(f"{data} does not hold bks.csv and solomon/ (pass --data)")
    bks = best_known(data / "bks.csv")
    files = sorted((data / "solomon").glob("*.txt"))
    if args.instances:
        wanted = {name.strip().upper() for name in args.instances.split(",") if name.strip()}
        unknown = wanted - {f.stem.upper() for f in files}
        if unknown:
            parser.error(f"no such instance in {data / 'solomon'}: {', '.join(sorted(unknown))}")
        files = [f for f in files if f.stem.upper() in wanted]
    if not files:
        parser.error(f"no Solomon instances in {data / 'solomon'}")

    console = Console(stderr=True)
    rows: list[dict[str, object]] = []
    all_routes: dict[str, list[list[int]]] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("solving", total=len(files))
        for path in files:
            progress.update(task, description=f"solving {path.stem}")
            instance = read_solomon(path)
            started, cpu_started = time.perf_counter(), time.process_time()
            result = solve_solomon(
                instance, seconds=args.time_limit, seed=args.seed, cpu_clock=args.clock == "cpu"
            )
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            reference = bks[instance.name]
            rows.append(
                {
                    "instance": instance.name,
                    "cost": round(result.cost, 2),
                    "bks": reference,
                    "gap_pct": round(100 * (result.cost - reference) / reference, 3) + 0.0,  # no "-0.0"
                    "vehicles": len([r for r in result.routes if r]),
                    "feasible": result.feasible,
                    "problems": result.problems[:3],
                    "seconds": round(seconds, 2),
                    "cpu_seconds": round(cpu_seconds, 2),
                }
            )
            all_routes[instance.name] = result.routes
            progress.advance(task)

    table = Table("instance", "cost", "best known", "gap %", "vehicles", "feasible", "wall s", "cpu s")
    keys = ("instance", "cost", "bks", "gap_pct", "vehicles", "feasible", "seconds", "cpu_seconds")
    for row in rows:
        table.add_row(*(str(row[k]) for k in keys))
    Console().print(table)
    if args.routes_out:
        args.routes_out.write_text(json.dumps(all_routes))

    gaps = [float(str(row["gap_pct"])) for row in rows]
    mean_gap = statistics.fmean(gaps)
    summary = {
        "benchmark": "routing_solomon",
        "instances": len(rows),
        "time_limit_s": args.time_limit,
        "clock": args.clock,
        "seed": args.seed,
        "all_feasible": all(row["feasible"] for row in rows),
        "mean_gap_pct": round(mean_gap, 3),
        "worst_gap_pct": max(gaps),
        "worst_instance": rows[gaps.index(max(gaps))]["instance"],
        "goal_mean_gap_pct": GOAL_MEAN_GAP,
        "goal_met": mean_gap <= GOAL_MEAN_GAP and all(row["feasible"] for row in rows),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 1),
        "per_instance": rows,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
