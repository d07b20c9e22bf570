"""The business-hours calculator, across weekends, holidays, lunch breaks and DST changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tenure.core.business_hours import BusinessHours, CalendarError
from tenure.core.models import BusinessCalendar, Holiday

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
H = dt.timedelta(hours=1)

WEEKDAYS_9_TO_5 = {day: [("09:00", "17:00")] for day in range(5)}
EVERY_DAY_9_TO_5 = {day: [("09:00", "17:00")] for day in range(7)}
LUNCH_BREAK = {str(day): [["08:00", "12:00"], ["13:00", "17:00"]] for day in range(5)}


def local(
    zone: dt.tzinfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=zone)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return local(UTC, year, month, day, hour, minute)


# -- is_open / next_open ---------------------------------------------------------------------------


def test_open_inside_hours_and_closed_at_the_closing_minute() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    assert hours.is_open(local(NEW_YORK, 2026, 6, 3, 9, 0))
    assert hours.is_open(local(NEW_YORK, 2026, 6, 3, 16, 59, 59))
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 3, 17, 0))
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 3, 8, 59))
    assert not hours.is_open(local(NEW_YORK, 2026, 6, 6, 12, 0))  # Saturday


def test_the_instant_may_come_in_any_zone() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    # 14:30 UTC in June is 10:30 in New York (EDT) but 16:30 in Berlin.
    assert hours.is_open(utc(2026, 6, 3, 14, 30))
    assert hours.is_open(local(BERLIN, 2026, 6, 3, 16, 30))
    assert not hours.is_open(local(BERLIN, 2026, 6, 3, 12, 0))


def test_lunch_break_is_closed() -> None:
    hours = BusinessHours("Europe/Berlin", LUNCH_BREAK)
    assert hours.is_open(local(BERLIN, 2026, 6, 3, 11, 59))
    assert not hours.is_open(local(BERLIN, 2026, 6, 3, 12, 30))
    assert hours.next_open(local(BERLIN, 2026, 6, 3, 12, 30)) == local(BERLIN, 2026, 6, 3, 13, 0)


def test_next_open_returns_the_instant_itself_when_open_in_utc() -> None:
    hours = BusinessHours("Europe/Berlin", WEEKDAYS_9_TO_5)
    at = local(BERLIN, 2026, 6, 3, 10, 15)
    result = hours.next_open(at)
    assert result == at
    assert result.tzinfo is UTC


def test_next_open_skips_weekend_and_holidays() -> None:
    hours = BusinessHours(
        "Europe/Berlin", WEEKDAYS_9_TO_5, holidays=[dt.date(2026, 12, 25), dt.date(2026, 12, 28)]
    )
    # Thursday 24 Dec after closing -> Friday 25 holiday, weekend, Monday 28 holiday -> Tuesday 29.
    assert hours.next_open(local(BERLIN, 2026, 12, 24, 18, 0)) == local(BERLIN, 2026, 12, 29, 9, 0)
    assert not hours.is_open(local(BERLIN, 2026, 12, 25, 10, 0))


def test_holiday_is_a_local_day() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5, holidays=[dt.date(2026, 7, 3)])
    # 3 July 2026 01:00 UTC is still 2 July (21:00) in New York: after hours, not the holiday.
    assert hours.next_open(utc(2026, 7, 3, 1, 0)) == local(NEW_YORK, 2026, 7, 6, 9, 0)


def test_next_open_across_midnight_split_hours() -> None:
    # A night shift, Friday 22:00 to Saturday 02:00, written as two adjacent intervals.
    hours = BusinessHours("UTC", {4: [("22:00", "24:00")], 5: [("00:00", "02:00")]})
    assert hours.is_open(utc(2026, 6, 5, 23, 59))
    assert hours.is_open(utc(2026, 6, 6, 0, 0))
    assert not hours.is_open(utc(2026, 6, 6, 2, 0))
    assert hours.add(utc(2026, 6, 5, 23, 0), 2 * H) == utc(2026, 6, 6, 1, 0)
    assert hours.business_time_between(utc(2026, 6, 5), utc(2026, 6, 7)) == 4 * H


# -- add -------------------------------------------------------------------------------------------


def test_add_within_the_same_day() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    due = hours.add(local(NEW_YORK, 2026, 6, 3, 10, 0), 4 * H)
    assert due == local(NEW_YORK, 2026, 6, 3, 14, 0)
    assert due.tzinfo is UTC


def test_add_rolls_over_to_the_next_open_day() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    # Friday 15:00 + 4 h = 2 h on Friday, 2 h on Monday.
    assert hours.add(local(NEW_YORK, 2026, 6, 5, 15, 0), 4 * H) == local(NEW_YORK, 2026, 6, 8, 11, 0)


def test_add_from_outside_hours_starts_at_the_next_opening() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    assert hours.add(local(NEW_YORK, 2026, 6, 6, 3, 0), 4 * H) == local(NEW_YORK, 2026, 6, 8, 13, 0)
    assert hours.add(local(NEW_YORK, 2026, 6, 3, 7, 0), 30 * dt.timedelta(minutes=1)) == local(
        NEW_YORK, 2026, 6, 3, 9, 30
    )


def test_add_that_uses_up_the_day_ends_at_closing_time() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    assert hours.add(local(NEW_YORK, 2026, 6, 3, 9, 0), 8 * H) == local(NEW_YORK, 2026, 6, 3, 17, 0)


def test_add_zero_is_next_open() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    assert hours.add(local(NEW_YORK, 2026, 6, 6, 3, 0), dt.timedelta(0)) == local(NEW_YORK, 2026, 6, 8, 9, 0)


def test_add_across_lunch() -> None:
    hours = BusinessHours("Europe/Berlin", LUNCH_BREAK)
    assert hours.add(local(BERLIN, 2026, 6, 3, 11, 0), 2 * H) == local(BERLIN, 2026, 6, 3, 14, 0)
    assert hours.add(local(BERLIN, 2026, 6, 3, 12, 15), H) == local(BERLIN, 2026, 6, 3, 14, 0)


def test_add_spanning_many_days_and_a_holiday() -> None:
    hours = BusinessHours("Europe/Berlin", WEEKDAYS_9_TO_5, holidays=[dt.date(2026, 6, 10)])
    # 40 business hours from Monday 1 June 09:00 is a full week; the Wednesday holiday pushes it to
    # the next Monday's close.
    assert hours.add(local(BERLIN, 2026, 6, 1, 9, 0), 40 * H) == local(BERLIN, 2026, 6, 5, 17, 0)
    assert hours.add(local(BERLIN, 2026, 6, 8, 9, 0), 40 * H) == local(BERLIN, 2026, 6, 15, 17, 0)
    # 400 hours = 50 working days = 10 weeks (plus the holiday day).
    assert hours.add(local(BERLIN, 2026, 6, 1, 9, 0), 400 * H) == local(BERLIN, 2026, 8, 10, 17, 0)


def test_add_rejects_negative_durations_and_naive_datetimes() -> None:
    hours = BusinessHours("UTC", WEEKDAYS_9_TO_5)
    with pytest.raises(ValueError, match="negative"):
        hours.add(utc(2026, 6, 3), -H)
    with pytest.raises(ValueError, match="aware"):
        hours.add(dt.datetime(2026, 6, 3, 10), H)
    with pytest.raises(ValueError, match="aware"):
        hours.is_open(dt.datetime(2026, 6, 3, 10))


# -- business_time_between -------------------------------------------------------------------------


def test_between_counts_only_open_time() -> None:
    hours = BusinessHours("Europe/Berlin", LUNCH_BREAK)
    assert (
        hours.business_time_between(local(BERLIN, 2026, 6, 3, 7, 0), local(BERLIN, 2026, 6, 3, 20, 0))
        == 8 * H
    )
    assert hours.business_time_between(
        local(BERLIN, 2026, 6, 3, 11, 30), local(BERLIN, 2026, 6, 3, 13, 30)
    ) == dt.timedelta(hours=1)
    # A whole week, Monday to Monday.
    assert hours.business_time_between(local(BERLIN, 2026, 6, 1), local(BERLIN, 2026, 6, 8)) == 40 * H


def test_between_is_negative_backwards_and_zero_when_closed() -> None:
    hours = BusinessHours("Europe/Berlin", WEEKDAYS_9_TO_5)
    monday, tuesday = local(BERLIN, 2026, 6, 1, 12, 0), local(BERLIN, 2026, 6, 2, 12, 0)
    assert hours.business_time_between(tuesday, monday) == -8 * H
    assert hours.business_time_between(
        local(BERLIN, 2026, 6, 6), local(BERLIN, 2026, 6, 7, 23)
    ) == dt.timedelta(0)
    assert hours.business_time_between(monday, monday) == dt.timedelta(0)


# -- DST -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (NEW_YORK, dt.date(2026, 3, 8)),
        (NEW_YORK, dt.date(2026, 11, 1)),
        (BERLIN, dt.date(2026, 3, 29)),
        (BERLIN, dt.date(2026, 10, 25)),
    ],
)
def test_a_nine_to_five_day_is_eight_hours_on_dst_change_days(zone: ZoneInfo, day: dt.date) -> None:
    hours = BusinessHours(zone, EVERY_DAY_9_TO_5)
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    next_midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    # The calendar day itself is 23 or 25 hours long; its business time is not.
    assert next_midnight.astimezone(UTC) - midnight.astimezone(UTC) in (23 * H, 25 * H)
    assert hours.business_time_between(midnight, next_midnight) == 8 * H
    assert hours.next_open(midnight) == dt.datetime.combine(day, dt.time(9), tzinfo=zone)
    assert hours.add(midnight, 8 * H) == dt.datetime.combine(day, dt.time(17), tzinfo=zone)


def test_new_york_spring_forward_moves_the_utc_opening() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    # Friday 6 March opens at 09:00 EST = 14:00 UTC; Monday 9 March (after the change) at 13:00 UTC.
    assert hours.next_open(utc(2026, 3, 6, 12, 0)) == utc(2026, 3, 6, 14, 0)
    assert hours.next_open(utc(2026, 3, 6, 23, 0)) == utc(2026, 3, 9, 13, 0)
    # Friday 16:00 EST + 2 business hours = Monday 10:00 EDT.
    assert hours.add(utc(2026, 3, 6, 21, 0), 2 * H) == utc(2026, 3, 9, 14, 0)
    assert hours.business_time_between(utc(2026, 3, 6, 21, 0), utc(2026, 3, 9, 14, 0)) == 2 * H


def test_new_york_fall_back_moves_the_utc_opening_back() -> None:
    hours = BusinessHours("America/New_York", WEEKDAYS_9_TO_5)
    # Friday 30 October closes at 17:00 EDT; Monday 2 November opens at 09:00 EST = 14:00 UTC.
    assert hours.next_open(utc(2026, 10, 30, 23, 0)) == utc(2026, 11, 2, 14, 0)
    # Friday 08:00 EDT (12:00 UTC) to Tuesday 07:00 EST (12:00 UTC): all of Friday and Monday.
    assert hours.business_time_between(utc(2026, 10, 30, 12, 0), utc(2026, 11, 3, 12, 0)) == 16 * H
    assert hours.add(utc(2026, 10, 30, 20, 0), 2 * H) == utc(2026, 11, 2, 15, 0)


def test_berlin_weeks_spanning_both_changes_have_forty_hours() -> None:
    hours = BusinessHours("Europe/Berlin", WEEKDAYS_9_TO_5)
    for monday in (dt.date(2026, 3, 23), dt.date(2026, 3, 30), dt.date(2026, 10, 19), dt.date(2026, 10, 26)):
        start = dt.datetime.combine(monday, dt.time(), tzinfo=BERLIN)
        end = dt.datetime.combine(monday + dt.timedelta(days=7), dt.time(), tzinfo=BERLIN)
        assert hours.business_time_between(start, end) == 40 * H, monday
    # Friday 27 March 09:00 CET = 08:00 UTC; Monday 30 March 09:00 CEST = 07:00 UTC.
    assert hours.next_open(utc(2026, 3, 27, 6, 0)) == utc(2026, 3, 27, 8, 0)
    assert hours.next_open(utc(2026, 3, 28, 6, 0)) == utc(2026, 3, 30, 7, 0)


def test_intervals_through_the_dst_change_count_real_hours() -> None:
    # Open 00:00-06:00 every day: the spring-forward night has 5 real hours, the fall-back night 7.
    hours = BusinessHours("America/New_York", {day: [("00:00", "06:00")] for day in range(7)})
    spring = local(NEW_YORK, 2026, 3, 8)
    fall = local(NEW_YORK, 2026, 11, 1)
    assert hours.business_time_between(spring, spring + 24 * H) == 5 * H
    assert hours.business_time_between(fall, fall + 24 * H) == 7 * H


def test_opening_inside_the_spring_forward_gap_opens_when_the_gap_ends() -> None:
    hours = BusinessHours("America/New_York", {6: [("02:30", "04:00")], 0: [("09:00", "17:00")]})
    # 02:30 does not exist on 8 March 2026; the clock jumps from 02:00 EST to 03:00 EDT (07:00 UTC).
    assert hours.next_open(local(NEW_YORK, 2026, 3, 8, 0, 0)) == utc(2026, 3, 8, 7, 0)
    assert hours.business_time_between(local(NEW_YORK, 2026, 3, 8), local(NEW_YORK, 2026, 3, 9)) == H
    # An ordinary Sunday has the full hour and a half.
    assert hours.business_time_between(local(NEW_YORK, 2026, 3, 15), local(NEW_YORK, 2026, 3, 16)) == 1.5 * H


# -- add and business_time_between are inverse -----------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "weekly", "holidays"),
    [
        ("America/New_York", LUNCH_BREAK, [dt.date(2026, 3, 10)]),
        ("Europe/Berlin", WEEKDAYS_9_TO_5, [dt.date(2026, 10, 26)]),
        ("America/New_York", {day: [("00:00", "03:00"), ("22:00", "24:00")] for day in range(7)}, []),
    ],
)
def test_add_and_between_are_inverse_on_a_grid(zone: str, weekly: dict, holidays: list[dt.date]) -> None:
    hours = BusinessHours(zone, weekly, holidays)
    # Instants every 5 h 13 min through both DST changes of 2026, durations from zero to over a week.
    starts = [utc(2026, 3, 4) + step * dt.timedelta(hours=5, minutes=13) for step in range(40)]
    starts += [utc(2026, 10, 22) + step * dt.timedelta(hours=5, minutes=13) for step in range(40)]
    durations = [
        dt.timedelta(minutes=minutes) for minutes in (0, 1, 59, 61, 240, 479, 480, 481, 1000, 2400, 3000)
    ]
    for start in starts:
        for duration in durations:
            due = hours.add(start, duration)
            assert due >= start
            assert hours.business_time_between(start, due) == duration, (start, duration)
            # Nothing open is skipped: the deadline is the earliest such instant.
            if duration:
                assert hours.is_open(due - dt.timedelta(microseconds=1)), (start, duration)
        for end in starts[::7]:
            between = hours.business_time_between(start, end)
            if between > dt.timedelta(0):
                reached = hours.add(start, between)
                assert reached <= end
                assert hours.business_time_between(reached, end) == dt.timedelta(0)
                if hours.is_open(end) and hours.is_open(end - dt.timedelta(microseconds=1)):
                    assert reached == end


# -- bad configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "weekly", "message"),
    [
        ("Mars/Olympus", WEEKDAYS_9_TO_5, "not a known time zone"),
        ("UTC", {"0": [["9am", "17:00"]]}, r"weekly_hours\['0'\] \(Monday\)\[0\]: '9am' is not a time"),
        ("UTC", {"1": [["09:00", "25:00"]]}, "'25:00' is not a time of day"),
        ("UTC", {"1": [["09:60", "17:00"]]}, "'09:60' is not a time of day"),
        ("UTC", {"1": [["24:00", "24:00"]]}, "'24:00' is not a time of day"),
        ("UTC", {"2": [["17:00", "09:00"]]}, r"Wednesday.*closes at 09:00, not after it opens at 17:00"),
        ("UTC", {"4": [["22:00", "02:00"]]}, "must be split"),
        ("UTC", {"3": [["09:00", "13:00"], ["12:00", "17:00"]]}, "09:00-13:00 overlaps 12:00-17:00"),
        ("UTC", {"7": [["09:00", "17:00"]]}, "'7' is not a weekday"),
        ("UTC", {"0": [["09:00"]]}, r"expected a \[start, end\] pair"),
        ("UTC", {"0": "09:00-17:00"}, r"expected a list of \[start, end\] pairs"),
        ("UTC", {}, "the week has no open hours"),
        ("UTC", {"0": []}, "the week has no open hours"),
        ("UTC", {0: [["09:00", "12:00"]], "0": [["13:00", "17:00"]]}, "the day is given twice"),
        ("UTC", [["09:00", "17:00"]], "must map weekdays"),
    ],
)
def test_bad_configuration_gets_a_clear_error(zone: str, weekly: object, message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessHours(zone, weekly)  # type: ignore[arg-type]


def test_time_objects_and_seconds_are_accepted() -> None:
    weekly: dict[int, list[tuple[str | dt.time, str | dt.time]]] = {
        0: [(dt.time(9), dt.time(12, 30))],
        1: [("09:00:30", "10:00")],
    }
    hours = BusinessHours("UTC", weekly)
    assert hours.business_time_between(utc(2026, 6, 1), utc(2026, 6, 3)) == dt.timedelta(
        hours=4, minutes=30, seconds=-30
    )


# -- from the database -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_from_calendar_reads_hours_and_holidays() -> None:
    calendar = BusinessCalendar.objects.create(
        name="Support", time_zone="Europe/Berlin", weekly_hours=LUNCH_BREAK
    )
    Holiday.objects.create(calendar=calendar, date=dt.date(2026, 6, 4), name="Corpus Christi")
    hours = BusinessHours.from_calendar(calendar)
    # Wednesday 16:00 + 4 h: 1 h on Wednesday, Thursday is a holiday, 3 h on Friday.
    assert hours.add(local(BERLIN, 2026, 6, 3, 16, 0), 4 * H) == local(BERLIN, 2026, 6, 5, 11, 0)


@pytest.mark.django_db
def test_from_calendar_names_the_calendar_in_errors() -> None:
    calendar = BusinessCalendar.objects.create(
        name="Broken", time_zone="UTC", weekly_hours={"0": [["09:00", "17:00"], ["16:00", "18:00"]]}
    )
    with pytest.raises(CalendarError, match=r"business calendar 'Broken': .*overlaps"):
        BusinessHours.from_calendar(calendar)
