"""The demo company's staff, teams and office calendar, decided in memory from the seed."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from tenure.core.roles import ADMIN, AGENT, DISPATCHER, MANAGER, TECHNICIAN
from tenure.demo.names import person_name

BUSINESS_TIME_ZONE = "America/Chicago"
CALENDAR_NAME = "Office hours"
# Monday is "0"; Sunday is closed.
WEEKLY_HOURS: dict[str, list[list[str]]] = {
    **{str(day): [["08:00", "18:00"]] for day in range(5)},
    "5": [["09:00", "13:00"]],
}
ROLE_COUNTS = ((ADMIN, 1), (MANAGER, 1), (AGENT, 4), (DISPATCHER, 1), (TECHNICIAN, 6))
TEAMS = ("Service desk", "Billing", "Dispatch", "Field technicians")

_WORD_LIST = (
    "copper valve boiler pilot flue breaker conduit faucet furnace gasket damper thermo drain solder fuse "
    "relay vent radiator outlet wrench"
)
_WORDS = _WORD_LIST.split()


@dataclass(frozen=True)
class StaffMember:
    role: str
    username: str
    first_name: str
    last_name: str
    password: str
    teams: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def actor(self) -> str:
        return f"staff:{self.username}"


def _password(rng: random.Random) -> str:
    return f"{rng.choice(_WORDS)}-{rng.choice(_WORDS)}-{rng.randrange(1000, 10000)}"


def make_staff(rng: random.Random) -> list[StaffMember]:
    staff: list[StaffMember] = []
    taken: set[str] = set()
    for role, count in ROLE_COUNTS:
        for index in range(count):
            first, last = person_name(rng)
            if role == ADMIN:
                username = "admin"
            else:
                username = f"{first[0]}{last}".lower().replace("'", "")
                while username in taken:
                    username += str(len(taken))
            taken.add(username)
            teams: tuple[str, ...] = ()
            if role == MANAGER:
                teams = ("Service desk", "Billing")
            elif role == AGENT:
                # Two agents also cover billing questions.
                teams = ("Service desk", "Billing") if index >= 2 else ("Service desk",)
            elif role == DISPATCHER:
                teams = ("Dispatch",)
            elif role == TECHNICIAN:
                teams = ("Field technicians",)
            staff.append(StaffMember(role, username, first, last, _password(rng), teams))
    return staff


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday of a month; n = -1 is the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    last = following - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: dt.date) -> dt.date:
    """Fixed-date holidays on a weekend are observed on the nearest weekday."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


def us_holidays(start: dt.date, end: dt.date) -> list[tuple[dt.date, str]]:
    """US federal holidays (observed dates) between start and end inclusive."""
    found: list[tuple[dt.date, str]] = []
    for year in range(start.year, end.year + 1):
        days = [
            (_observed(dt.date(year, 1, 1)), "New Year's Day"),
            (_nth_weekday(year, 1, 0, 3), "Martin Luther King Jr. Day"),
            (_nth_weekday(year, 2, 0, 3), "Presidents' Day"),
            (_nth_weekday(year, 5, 0, -1), "Memorial Day"),
            (_observed(dt.date(year, 6, 19)), "Juneteenth"),
            (_observed(dt.date(year, 7, 4)), "Independence Day"),
            (_nth_weekday(year, 9, 0, 1), "Labor Day"),
            (_nth_weekday(year, 11, 3, 4), "Thanksgiving Day"),
            (_observed(dt.date(year, 12, 25)), "Christmas Day"),
        ]
        found.extend((day, name) for day, name in days if start <= day <= end)
    return sorted(found)
