"""Business hours: when a team is open, and deadlines counted in open time only.

A calendar is a time zone, opening intervals per weekday (Monday is 0; several per day, e.g. around a
lunch break) and holiday dates (whole local days closed). Opening and closing are local wall-clock
times, so a 09:00-17:00 day opens at 09:00 local on both sides of a DST change; business time is
real elapsed time inside those periods, so a 09:00-17:00 day is 8 hours even on a DST-change day.

Rules worth knowing:
- Intervals are half-open, [start, end): at 17:00 a 09:00-17:00 day is closed.
- "24:00" closes at the end of the day. Hours that run past midnight are rejected: split them into
  ["22:00", "24:00"] on one day and ["00:00", "02:00"] on the next; adjacent periods join up.
- A local time that does not exist (inside a spring-forward gap) means the first real instant after
  the gap; an ambiguous one (fall-back) means its first occurrence.
- Inputs are aware datetimes in any zone; results are aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from tenure.core.models import BusinessCalendar

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DAY = dt.timedelta(days=1)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

TimeLike = str | dt.time
IntervalSpec = Sequence[TimeLike]
WeeklySpec = Mapping[int, Sequence[IntervalSpec]] | Mapping[str, Sequence[IntervalSpec]]


class CalendarError(ValueError):
    """The calendar's configuration is unusable; the message names the field at fault."""


@dataclass(frozen=True, order=True)
class OpenInterval:
    """Open from `start` to `end` after local midnight (0 <= start < end <= 24 h)."""

    start: dt.timedelta
    end: dt.timedelta


def _parse_time(value: object, where: str, *, is_end: bool) -> dt.timedelta:
    if isinstance(value, dt.time):
        if value.tzinfo is not None:
            raise CalendarError(f"{where}: {value} must be a local time without a time zone")
        return dt.timedelta(hours=value.hour, minutes=value.minute, seconds=value.second)
    if not isinstance(value, str) or not (match := _TIME.match(value.strip())):
        raise CalendarError(f"{where}: {value!r} is not a time; write it as HH:MM, e.g. '09:00'")
    hours, minutes, seconds = int(match[1]), int(match[2]), int(match[3] or 0)
    offset = dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if minutes > 59 or seconds > 59 or offset > DAY or (offset == DAY and not is_end):
        limit = "00:00 to 24:00" if is_end else "00:00 to 23:59"
        raise CalendarError(f"{where}: {value!r} is not a time of day ({limit})")
    return offset


def _weekday(key: object) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        day = key
    elif isinstance(key, str) and key.strip().isdigit():
        day = int(key)
    else:
        day = -1
    if not 0 <= day <= 6:
        raise CalendarError(f"weekly_hours: {key!r} is not a weekday; use 0 (Monday) to 6 (Sunday)")
    return day


def _format(offset: dt.timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_weekly_hours(weekly: WeeklySpec) -> tuple[tuple[OpenInterval, ...], ...]:
    """Seven sorted tuples of intervals, Monday first. Raises CalendarError naming the bad entry."""
    if not isinstance(weekly, Mapping):
        raise CalendarError('weekly_hours must map weekdays to intervals, e.g. {"0": [["09:00", "17:00"]]}')
    days: list[list[OpenInterval]] = [[] for _ in WEEKDAYS]
    for key, intervals in weekly.items():
        day = _weekday(key)
        name = f"weekly_hours[{key!r}] ({WEEKDAYS[day]})"
        if days[day]:
            raise CalendarError(f"{name}: the day is given twice")
        if isinstance(intervals, str) or not isinstance(intervals, Sequence):
            raise CalendarError(f"{name}: expected a list of [start, end] pairs")
        for index, pair in enumerate(intervals):
            where = f"{name}[{index}]"
            if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise CalendarError(
                    f"{where}: expected a [start, end] pair like ['09:00', '17:00'], got {pair!r}"
                )
            start = _parse_time(pair[0], where, is_end=False)
            end = _parse_time(pair[1], where, is_end=True)
            if end <= start:
                raise CalendarError(
                    f"{where}: closes at {_format(end)}, not after it opens at {_format(start)}; hours past "
                    "midnight must be split, e.g. ['22:00', '24:00'] and ['00:00', '02:00'] the next day"
                )
            days[day].append(OpenInterval(start, end))
        days[day].sort()
        for earlier, later in zip(days[day], days[day][1:], strict=False):
            if later.start < earlier.end:
                raise CalendarError(
                    f"{name}: {_format(earlier.start)}-{_format(earlier.end)} overlaps "
                    f"{_format(later.start)}-{_format(later.end)}"
                )
    if not any(days):
        raise CalendarError("weekly_hours: the week has no open hours")
    return tuple(tuple(day) for day in days)


def _zone(time_zone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(time_zone, ZoneInfo):
        return time_zone
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise CalendarError(
            f"time_zone: {time_zone!r} is not a known time zone, e.g. 'Europe/Berlin'"
        ) from error


def _require_aware(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")
    return value.astimezone(dt.UTC)


class BusinessHours:
    """Opening hours of one calendar. Immutable and free of database access."""

    def __init__(
        self, time_zone: str | ZoneInfo, weekly_hours: WeeklySpec, holidays: Iterable[dt.date] = ()
    ) -> None:
        self.zone = _zone(time_zone)
        self.week = parse_weekly_hours(weekly_hours)
        self.holidays = frozenset(holidays)
        # Past this many days without an open period, the search gives up rather than loop forever.
        self._search_days = 7 * (len(self.holidays) + 2)

    @classmethod
    def from_calendar(cls, calendar: BusinessCalendar) -> BusinessHours:
        try:
            return cls(
                calendar.time_zone,
                calendar.weekly_hours,
                calendar.holidays.values_list("date", flat=True),
            )
        except CalendarError as error:
            raise CalendarError(f"business calendar {calendar.name!r}: {error}") from error

    # -- periods ------------------------------------------------------------------------------------

    def _instant(self, day: dt.date, offset: dt.timedelta) -> dt.datetime:
        """The UTC instant of local wall-clock `offset` after midnight of `day`."""
        wall = dt.datetime.combine(day, dt.time()) + offset
        local = wall.replace(tzinfo=self.zone)
        instant = local.astimezone(dt.UTC)
        if instant.astimezone(self.zone).replace(tzinfo=None) == wall:
            return instant
        # In a spring-forward gap: fold=1 reads it with the old offset (before the gap) and fold=0
        # with the new one (after it); the gap's end is where the offset changes between the two.
        low = int(local.replace(fold=1).astimezone(dt.UTC).timestamp())
        high = int(instant.timestamp())
        after = instant.astimezone(self.zone).utcoffset()
        while low + 1 < high:
            middle = (low + high) // 2
            if dt.datetime.fromtimestamp(middle, self.zone).utcoffset() == after:
                high = middle
            else:
                low = middle
        return dt.datetime.fromtimestamp(high, dt.UTC)

    def _periods(self, since: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Open periods ending after `since`, in order, as UTC (start, end); never ends."""
        day = since.astimezone(self.zone).date() - DAY
        barren = 0
        while True:
            found = False
            if day not in self.holidays:
                for interval in self.week[day.weekday()]:
                    start = self._instant(day, interval.start)
                    end = self._instant(day, interval.end)
                    if end > start and end > since:
                        found = True
                        yield start, end
            barren = 0 if found else barren + 1
            if barren > self._search_days:
                raise CalendarError(
                    f"no open hours within {self._search_days} days after {since.isoformat()}"
                )
            day += DAY

    # -- queries ------------------------------------------------------------------------------------

    def is_open(self, instant: dt.datetime) -> bool:
        at = _require_aware(instant, "instant")
        start, _ = next(self._periods(at))
        return start <= at

    def next_open(self, instant: dt.datetime) -> dt.datetime:
        """`instant` itself (in UTC) if open then, else when the calendar next opens."""
        at = _require_aware(instant, "instant")
        start, _ = next(self._periods(at))
        return max(start, at)

    def add(self, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
        """The instant by which `duration` of open time has passed since `start`.

        A deadline that uses up a period exactly falls on its closing time, not the next opening.
        A zero duration gives `next_open(start)`.
        """
        at = _require_aware(start, "start")
        if duration < dt.timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        remaining = duration
        for period_start, period_end in self._periods(at):
            begin = max(period_start, at)
            available = period_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _periods never ends")  # pragma: no cover

    def business_time_between(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Open time from `start` to `end`; negative when `end` is before `start`."""
        low = _require_aware(start, "start")
        high = _require_aware(end, "end")
        if high < low:
            return -self.business_time_between(end, start)
        total = dt.timedelta(0)
        for period_start, period_end in self._periods(low):
            if period_start >= high:
                break
            total += min(period_end, high) - max(period_start, low)
        return total
