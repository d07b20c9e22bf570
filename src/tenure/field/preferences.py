"""When a customer can be home: specific dates, weekdays and time ranges, or "as soon as possible".

Stored on the appointment as JSON (`to_json`). Listed dates and ranges are in order of preference: the
first range fits best. A window fits only if it lies wholly inside a stated range on an allowed day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

_TIME = re.compile(r"^([01]?\d|2[0-4]):([0-5]\d)$")
RANK_STEP = 0.1  # how much less a later-listed range or date fits than the one before it
MAX_ITEMS = 31


def _parse_time(value: object, where: str) -> dt.timedelta:
    if not isinstance(value, str) or not (match := _TIME.match(value.strip())):
        raise ValidationError({where: f"{value!r} is not a time; write it as HH:MM, e.g. '08:00'"})
    offset = dt.timedelta(hours=int(match[1]), minutes=int(match[2]))
    if offset > dt.timedelta(hours=24):
        raise ValidationError({where: f"{value!r} is past midnight"})
    return offset


@dataclass(frozen=True)
class Preferences:
    asap: bool = False
    days: tuple[dt.date, ...] = ()
    weekdays: frozenset[int] = frozenset()
    ranges: tuple[tuple[dt.timedelta, dt.timedelta], ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, today: dt.date | None = None) -> Preferences:
        data = data or {}
        unknown = set(data) - {"asap", "days", "weekdays", "ranges"}
        if unknown:
            raise ValidationError({"preferences": f"unknown keys: {', '.join(sorted(unknown))}"})
        days: list[dt.date] = []
        for index, raw in enumerate(data.get("days") or []):
            try:
                day = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
            except ValueError:
                raise ValidationError(
                    {f"preferences.days.{index}": f"{raw!r} is not a date (YYYY-MM-DD)"}
                ) from None
            if today is not None and day < today:
                raise ValidationError({f"preferences.days.{index}": f"{day} is in the past"})
            days.append(day)
        weekdays = data.get("weekdays") or []
        for index, weekday in enumerate(weekdays):
            if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
                raise ValidationError(
                    {f"preferences.weekdays.{index}": "a weekday is 0 (Monday) to 6 (Sunday)"}
                )
        ranges = []
        for index, pair in enumerate(data.get("ranges") or []):
            where = f"preferences.ranges.{index}"
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValidationError({where: "a range is [start, end], e.g. ['08:00', '12:00']"})
            start, end = _parse_time(pair[0], where), _parse_time(pair[1], where)
            if end - start < dt.timedelta(hours=1):
                raise ValidationError(
                    {where: "a range must be at least one hour long to hold a one-hour window"}
                )
            ranges.append((start, end))
        if len(days) > MAX_ITEMS or len(ranges) > MAX_ITEMS:
            raise ValidationError({"preferences": f"list at most {MAX_ITEMS} dates and {MAX_ITEMS} ranges"})
        asap = bool(data.get("asap")) or not (days or weekdays or ranges)
        return cls(asap=asap, days=tuple(days), weekdays=frozenset(weekdays), ranges=tuple(ranges))

    def to_json(self) -> dict[str, Any]:
        def hhmm(offset: dt.timedelta) -> str:
            minutes = int(offset.total_seconds() // 60)
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return {
            "asap": self.asap,
            "days": [d.isoformat() for d in self.days],
            "weekdays": sorted(self.weekdays),
            "ranges": [[hhmm(a), hhmm(b)] for a, b in self.ranges],
        }

    def allows_day(self, day: dt.date) -> bool:
        return (not self.days or day in self.days) and (not self.weekdays or day.weekday() in self.weekdays)

    def fit(self, start: dt.datetime, end: dt.datetime) -> float:
        """How well a window (aware, in the customer's local zone) fits: 0 = not at all, 1 = best."""
        day = start.date()
        if not self.allows_day(day):
            return 0.0
        score = 1.0 - (RANK_STEP * self.days.index(day) if day in self.days else 0.0)
        if not self.ranges:
            return score
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        offset_start, offset_end = start - midnight, end - midnight
        for rank, (low, high) in enumerate(self.ranges):
            if low <= offset_start and offset_end <= high:
                return max(0.05, score - RANK_STEP * rank)
        return 0.0

    def describe(self) -> str:
        if self.asap and not (self.days or self.weekdays or self.ranges):
            return "as soon as possible"
        parts = []
        if self.days:
            parts.append("on " + ", ".join(d.isoformat() for d in self.days))
        if self.weekdays:
            names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
            parts.append("on " + ", ".join(names[w] for w in sorted(self.weekdays)))
        if self.ranges:
            parts.append("between " + " or ".join(f"{a}-{b}" for a, b in self.to_json()["ranges"]))
        return " ".join(parts)
