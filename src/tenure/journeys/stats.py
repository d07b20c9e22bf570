"""Confidence intervals for proportions and their difference (Wilson; Newcombe's hybrid score method 10)."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def wilson(successes: int, trials: int, z: float = Z95) -> Interval | None:
    """Wilson score interval for successes/trials; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int, z: float = Z95
) -> Interval | None:
    """Interval for p_a - p_b from the two Wilson intervals (Newcombe 1998, method 10)."""
    a, b = wilson(successes_a, trials_a, z), wilson(successes_b, trials_b, z)
    if a is None or b is None:
        return None
    difference = a.estimate - b.estimate
    low = difference - math.sqrt((a.estimate - a.low) ** 2 + (b.high - b.estimate) ** 2)
    high = difference + math.sqrt((a.high - a.estimate) ** 2 + (b.estimate - b.low) ** 2)
    return Interval(difference, low, high)
