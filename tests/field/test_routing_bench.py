"""bench/routing.py on one Solomon instance for 1 s: its routes are feasible and its cost is their length.

The check here is independent of the code under test: the instance is parsed by vrplib and the routes are
timed and costed again from the raw coordinates.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import vrplib

from tests.shared_data import shared_data_dir

ROOT = Path(__file__).resolve().parents[2]
VRPTW = shared_data_dir() / "vrptw"


@pytest.mark.skipif(not (VRPTW / "solomon").is_dir(), reason="shared VRPTW data not found")
@pytest.mark.parametrize("name", ["R101", "RC201"])
def test_one_instance_for_one_second_is_feasible_and_costed_exactly(name: str, tmp_path: Path) -> None:
    routes_file = tmp_path / "routes.json"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "routing.py"),
            "--data",
            str(VRPTW),
            "--instances",
            name,
            "--time-limit",
            "1",
            "--routes-out",
            str(routes_file),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    (row,) = summary["per_instance"]
    assert row["instance"] == name and row["feasible"] is True and summary["all_feasible"] is True

    routes = json.loads(routes_file.read_text())[name]
    instance = vrplib.read_instance(str(VRPTW / "solomon" / f"{name}.txt"), instance_format="solomon")
    coords, demand = instance["node_coord"], instance["demand"]
    windows, service = instance["time_window"], instance["service_time"]

    def dist(a: int, b: int) -> float:
        return math.dist(coords[a], coords[b])

    visited = sorted(c for route in routes for c in route)
    assert visited == list(range(1, len(coords)))
    assert len([r for r in routes if r]) <= instance["vehicles"]
    length = 0.0
    for route in routes:
        assert sum(demand[c] for c in route) <= instance["capacity"]
        clock, here = float(windows[0][0]), 0
        for customer in route:
            length += dist(here, customer)
            clock = max(clock + dist(here, customer), float(windows[customer][0]))
            assert clock <= windows[customer][1] + 1e-6, f"customer {customer} reached late"
            clock += float(service[customer])
            here = customer
        length += dist(here, 0)
        assert clock + dist(here, 0) <= windows[0][1] + 1e-6
    assert row["cost"] == pytest.approx(length, abs=0.01)

    with (VRPTW / "bks.csv").open() as handle:
        bks = next(float(line.split(",")[3]) for line in handle if line.startswith(f"{name},"))
    assert row["bks"] == bks
    assert row["gap_pct"] == pytest.approx(100 * (length - bks) / bks, abs=0.01)
    assert length >= bks - 0.01, "a cost below the best known would mean the routes are mis-costed"


@pytest.mark.skipif(not (VRPTW / "solomon").is_dir(), reason="shared VRPTW data not found")
def test_unknown_instance_is_a_clear_error() -> None:
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "routing.py"), "--data", str(VRPTW), "--instances", "X999"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert "no such instance" in run.stderr and "X999" in run.stderr
