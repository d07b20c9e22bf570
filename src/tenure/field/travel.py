"""Travel times between coordinates, behind one small interface so a road-network service can replace
the default.

The default is great-circle distance times a road factor, driven at a speed that depends on the local hour
(slower in the morning and evening rush), plus a fixed allowance for parking and walking to the door.
Its error against real drives is learned from history (`windows.fit_calibration`), not assumed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import numpy as np
from django.conf import settings

EARTH_RADIUS_KM = 6371.0088
Point = tuple[float, float]  # (latitude, longitude) in degrees

# km/h by local hour; hours not listed use `base_kmh`.
DEFAULT_SPEEDS = {7: 24.0, 8: 22.0, 9: 28.0, 16: 26.0, 17: 22.0, 18: 26.0}


@runtime_checkable
class TravelModel(Protocol):
    def seconds(self, a: Point, b: Point, depart_at: dt.datetime) -> float:
        """Expected driving time from `a` to `b` leaving at `depart_at` (aware)."""
        ...


def great_circle_km(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def great_circle_km_matrix(points: Sequence[Point]) -> np.ndarray:
    """All pairwise great-circle distances (km) at once."""
    coords = np.radians(np.asarray(points, dtype=float).reshape(-1, 2))
    lat, lon = coords[:, 0][:, None], coords[:, 1][:, None]
    h = np.sin((lat.T - lat) / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin((lon.T - lon) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(h)))


@dataclass(frozen=True)
class GreatCircleTravel:
    road_factor: float = 1.35
    base_kmh: float = 32.0
    speeds_kmh: dict[int, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS))
    stop_overhead_seconds: float = 180.0
    time_zone: str = field(default_factory=lambda: settings.TIME_ZONE)

    def kmh_at(self, when: dt.datetime) -> float:
        return self.speeds_kmh.get(when.astimezone(ZoneInfo(self.time_zone)).hour, self.base_kmh)

    def seconds(self, a: Point, b: Point, depart_at: dt.datetime) -> float:
        km = great_circle_km(a, b) * self.road_factor
        if km == 0:
            return 0.0
        return km / self.kmh_at(depart_at) * 3600 + self.stop_overhead_seconds

    def seconds_matrix(self, points: Sequence[Point], depart_at: dt.datetime) -> np.ndarray:
        """Pairwise driving seconds, all leaving at `depart_at` (what a day planner needs in bulk)."""
        km = great_circle_km_matrix(points) * self.road_factor
        out = km / self.kmh_at(depart_at) * 3600 + self.stop_overhead_seconds
        out[km == 0] = 0.0
        return out


def default_travel_model() -> TravelModel:
    return GreatCircleTravel()
