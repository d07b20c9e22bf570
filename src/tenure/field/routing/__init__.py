"""Routing: day plans over PyVRP (solver.py), exact route timing and feasibility reasons (timing.py), the
database side (planning.py) and the Solomon benchmark reader (solomon.py)."""

from tenure.field.routing.problem import Job, Plan, Stop, Worker
from tenure.field.routing.solver import SolveOptions, plan_day
from tenure.field.routing.timing import time_route, why_unplannable

__all__ = ["Job", "Plan", "SolveOptions", "Stop", "Worker", "plan_day", "time_route", "why_unplannable"]
