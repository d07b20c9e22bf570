"""The live day: technician reports, re-prediction after each, early delay notices, the at-risk list."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from tenure.core.models import AuditLog, Event
from tenure.core.outbox_models import OutboundMessage
from tenure.core.sweeper import registered_sweepers
from tenure.field import live, selectors
from tenure.field.booking import book, offer_windows
from tenure.field.models import Appointment, DayPlan, Status
from tenure.field.routes import breaks_so_far, load_day, ts

from .world import DAY, at, build, request

NOW = at(DAY, 0) - dt.timedelta(days=2)
pytestmark = pytest.mark.django_db


def booked_day(count: int = 4) -> list[Appointment]:
    """One technician's day with `count` jobs booked, in route order."""
    world = build(technicians=1, days=1)
    for index in range(count):
        appointment = request(world, index, days=[DAY.isoformat()])
        book(appointment, offer_windows(appointment, NOW)[0].window_start, now=NOW)
    return list(Appointment.objects.order_by("position"))


def messages_to(appointment: Appointment) -> list[str]:
    return list(
        OutboundMessage.objects.filter(idempotency_key__startswith=f"field:{appointment.pk}:")
        .order_by("id")
        .values_list("body", flat=True)
    )


def test_on_my_way_gives_an_eta_inside_the_window() -> None:
    first, *_ = booked_day(2)
    outcome = live.on_my_way(first, now=first.window_start - dt.timedelta(minutes=20))
    first.refresh_from_db()
    assert first.status == Status.EN_ROUTE and first.eta is not None
    assert first.window_start <= first.eta <= first.window_end  # type: ignore[operator]
    assert "on the way" in messages_to(first)[-1]
    assert outcome.changed


def test_running_long_tells_later_customers_before_their_window_with_the_new_window() -> None:
    first, second, third, *_ = booked_day(4)
    live.on_my_way(first, now=at(DAY, 8))
    live.arrived(first, now=at(DAY, 8.25))
    outcome = live.running_long(first, extra_minutes=120, now=at(DAY, 8.75))
    assert second.pk in outcome.notified
    for stop in (second, third):
        stop.refresh_from_db()
        assert stop.notice_sent_at is not None and stop.notice_sent_at < stop.window_start  # type: ignore[operator]
        assert stop.notice_window_start is not None and stop.notice_window_start >= stop.window_end  # type: ignore[operator]
        assert stop.notice_window_end - stop.notice_window_start == dt.timedelta(hours=1)  # type: ignore[operator]
        body = messages_to(stop)[-1]
        assert "now " in body and "because the job before yours is taking longer" in body
    assert Event.objects.filter(kind="appointment.delay_notice", payload__appointment_id=second.pk).exists()
    at_risk = list(selectors.at_risk(at(DAY, 9)))
    assert first not in at_risk
    # once told, the customer is not told again while the new window still holds
    before = OutboundMessage.objects.count()
    live.repredict(second.plan, at(DAY, 9))  # type: ignore[arg-type]
    assert OutboundMessage.objects.count() == before


def test_completed_twice_changes_nothing_the_second_time() -> None:
    first, *_ = booked_day(1)
    live.arrived(first, now=at(DAY, 8.5))
    done = live.complete(first, note="replaced valve", now=at(DAY, 9.5))
    again = live.complete(first, now=at(DAY, 9.6))
    assert done.changed and not again.changed
    assert "already marked completed" in again.message
    first.refresh_from_db()
    assert first.completed_at == at(DAY, 9.5) and first.outcome_note == "replaced valve"
    completed = Event.objects.filter(kind="job.completed")
    assert completed.count() == 1
    assert completed[0].payload["duration_minutes"] == 60
    assert completed[0].payload["appointment_id"] == first.pk
    with pytest.raises(ValidationError) as error:
        live.mark_not_fixed(first, reason="part missing", now=at(DAY, 9.7))
    assert "completed" in error.value.message_dict["status"][0]


def test_not_fixed_needs_a_reason_and_wrong_order_is_refused() -> None:
    first, *_ = booked_day(1)
    with pytest.raises(ValidationError) as error:
        live.complete(first, now=at(DAY, 9))
    assert "cannot be completed" in error.value.message_dict["status"][0]
    live.arrived(first, now=at(DAY, 8.5))
    with pytest.raises(ValidationError):
        live.mark_not_fixed(first, reason="  ", now=at(DAY, 9))
    live.mark_not_fixed(first, reason="part on order", now=at(DAY, 9))
    event = Event.objects.get(kind="job.not_fixed")
    assert event.payload["reason"] == "part on order"


def test_a_late_arrival_is_recorded_for_insights() -> None:
    first, *_ = booked_day(1)
    live.arrived(first, now=first.window_end + dt.timedelta(minutes=25))  # type: ignore[operator]
    late = Event.objects.get(kind="job.late")
    assert late.payload["minutes_late"] == 25 and late.payload["job"] == first.reference


def test_a_shift_ending_mid_job_is_reported_and_unreachable_stops_go_to_the_dispatcher() -> None:
    first, second, *_ = booked_day(3)
    live.arrived(first, now=at(DAY, 8.2))
    outcome = live.running_long(first, expected_finish=at(DAY, 17.5), now=at(DAY, 9))
    assert any("shift ends" in warning for warning in outcome.warnings)
    assert AuditLog.objects.filter(action="field.shift_overrun").exists()
    second.refresh_from_db()
    assert second.notice_reason.startswith(live.CANNOT_KEEP)
    assert "dispatcher will call" in messages_to(second)[-1]
    assert second in list(selectors.at_risk(at(DAY, 9)))


def test_the_sweeper_repredicts_as_time_passes() -> None:
    first, second, *_ = booked_day(3)
    live.arrived(first, now=at(DAY, 8.1))  # sets the plan's check timer
    plan = DayPlan.objects.get(pk=first.plan_id)
    assert plan.check_due_at is not None
    # nobody reports anything while the first job drags on for hours: the sweep notices anyway
    handled = registered_sweepers()["field.repredict"](at(DAY, 11))
    assert handled == 1
    second.refresh_from_db()
    assert second.predicted_at == at(DAY, 11)
    assert second.miss_probability > 0.5
    plan.refresh_from_db()
    assert plan.check_due_at == at(DAY, 11) + live.CHECK_INTERVAL


def test_the_next_check_comes_just_before_a_window_opens_if_that_is_sooner() -> None:
    _first, second, *_ = booked_day(3)
    assert second.window_start is not None
    just_before = second.window_start - live.LAST_LOOK
    assert live.next_check(just_before - dt.timedelta(minutes=3), [second]) == just_before
    later = just_before - 2 * live.CHECK_INTERVAL
    assert live.next_check(later, [second]) == later + live.CHECK_INTERVAL
    # once the window is (almost) open, only the regular rhythm is left
    assert live.next_check(just_before, [second]) == just_before + live.CHECK_INTERVAL


def test_the_last_look_before_a_window_tells_the_customer_at_lower_odds() -> None:
    _first, second, *_ = booked_day(3)
    start = second.window_start
    assert start is not None
    last_look = start - live.LAST_LOOK
    bar = 0.02

    def threshold(now: dt.datetime, level: float = 0.9) -> float:
        return live.notice_threshold(second, now, level, bar)

    assert threshold(last_look) == threshold(start - dt.timedelta(seconds=1)) == bar
    assert threshold(last_look - dt.timedelta(minutes=1)) == live.NOTICE_THRESHOLD
    assert threshold(start) == live.NOTICE_THRESHOLD  # too late to be early
    # never above 1 - level
    assert threshold(last_look, level=0.995) == pytest.approx(0.005)
    # once a newer window was announced, the last look is the one before that window
    second.notice_window_start = start + dt.timedelta(hours=1)
    assert threshold(last_look) == live.NOTICE_THRESHOLD
    assert threshold(last_look + dt.timedelta(hours=1)) == bar


def test_the_risk_at_the_last_look_is_kept_for_a_customer_not_yet_told() -> None:
    first, _second, third = booked_day(3)
    start = first.window_start
    assert start is not None and first.plan is not None and third.window_start is not None
    live.repredict(first.plan, start - live.LAST_LOOK - dt.timedelta(minutes=10))
    first.refresh_from_db()
    assert first.last_look_risk is None and first.predicted_at is not None  # not the last look yet
    live.repredict(first.plan, start - dt.timedelta(minutes=2))
    first.refresh_from_db()
    assert first.last_look_risk is not None and first.last_look_risk == first.miss_probability
    # a customer already told before the last look is not counted among the untold
    Appointment.objects.filter(pk=third.pk).update(notice_sent_at=start)
    live.repredict(first.plan, third.window_start - dt.timedelta(minutes=2))
    third.refresh_from_db()
    assert third.last_look_risk is None and third.predicted_at is not None


def minutes_after(hour: float, minutes: float) -> float:
    return ts(at(DAY, hour) + dt.timedelta(minutes=minutes))


def test_a_break_starts_when_the_technician_is_first_free_after_its_start_and_is_taken_once() -> None:
    first, *_ = booked_day(1)
    day = load_day(first.plan)  # type: ignore[arg-type]
    assert day is not None and [b.start for b in day.breaks] == [ts(at(DAY, 12))]  # 12:00-12:30
    day.finished = [at(DAY, 12) + dt.timedelta(minutes=10)]  # a job done at 12:10: lunch until 12:40
    assert breaks_so_far(day, minutes_after(12, 15), free=True) == ([True], minutes_after(12, 40))
    assert breaks_so_far(day, minutes_after(14, 0), free=True) == ([True], minutes_after(14, 0))
    assert breaks_so_far(day, minutes_after(14, 0), free=False)[0] == [True]  # no second lunch later
    day.finished = [at(DAY, 11) + dt.timedelta(minutes=50)]  # waiting since 11:50: lunch from 12:00
    assert breaks_so_far(day, minutes_after(12, 5), free=True) == ([True], minutes_after(12, 30))
    assert breaks_so_far(day, minutes_after(11, 55), free=True) == ([False], minutes_after(11, 55))
    # busy since before noon (driving or on site): lunch is still ahead, after this job
    assert breaks_so_far(day, minutes_after(12, 5), free=False) == ([False], minutes_after(12, 5))


def test_a_technician_on_lunch_is_predicted_to_set_off_when_it_ends_whenever_we_look() -> None:
    first, second, *_ = booked_day(2)
    Appointment.objects.filter(pk=first.pk).update(window_start=at(DAY, 11), window_end=at(DAY, 12))
    Appointment.objects.filter(pk=second.pk).update(window_start=at(DAY, 12.5), window_end=at(DAY, 13.5))
    live.arrived(first, now=at(DAY, 11))
    live.complete(first, now=at(DAY, 12) + dt.timedelta(minutes=10))  # lunch 12:10-12:40
    plan = DayPlan.objects.get(pk=first.plan_id)
    predicted = []
    for minutes in (20, 30):
        live.repredict(plan, at(DAY, 12) + dt.timedelta(minutes=minutes))
        second.refresh_from_db()
        predicted.append(second.predicted_arrival)
    assert predicted[0] == predicted[1]  # sets off at 12:40 either way, not half an hour after "now"


def test_a_booked_day_is_watched_from_before_its_first_window_without_any_report() -> None:
    first, second = booked_day(2)
    plan = DayPlan.objects.get(pk=first.plan_id)
    opens = min(first.window_start, second.window_start)  # type: ignore[type-var]
    assert plan.check_due_at == opens - live.FIRST_LOOK
    assert registered_sweepers()["field.repredict"](plan.check_due_at) == 1
    for stop in (first, second):
        stop.refresh_from_db()
        assert stop.predicted_at == opens - live.FIRST_LOOK
    plan.refresh_from_db()
    assert plan.check_due_at == opens - live.FIRST_LOOK + live.CHECK_INTERVAL
