"""Booking that asks first: offers follow preferences, capacity is never overbooked, bad input is named."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection

from tenure.core.models import Event
from tenure.core.outbox_models import OutboundMessage
from tenure.field.booking import book, offer_windows, request_appointment
from tenure.field.models import Appointment, Status
from tenure.field.services import add_shift, create_technician

from .world import DAY, at, build, near, request

NOW = at(DAY, 0) - dt.timedelta(days=2)
pytestmark = pytest.mark.django_db


def test_offers_lie_inside_the_stated_preferences_best_fit_first() -> None:
    world = build()
    appointment = request(world, ranges=[["13:00", "17:00"], ["08:00", "10:00"]], days=[DAY.isoformat()])
    offers = offer_windows(appointment, NOW)
    assert offers
    for offer in offers:
        assert offer.window_end - offer.window_start == dt.timedelta(hours=1)
        assert offer.window_start.date() == DAY
        first, last = offer.window_start.hour, offer.window_end.hour + offer.window_end.minute / 60
        assert (first >= 13 and last <= 17) or (first >= 8 and last <= 10)
    fits = [o.fit for o in offers]
    assert fits == sorted(fits, reverse=True)
    assert offers[0].window_start.hour >= 13  # the first-listed range fits best


def test_asap_offers_are_the_soonest_windows() -> None:
    world = build()
    offers = offer_windows(request(world, asap=True), NOW)
    starts = [o.window_start for o in offers]
    assert starts == sorted(starts)
    assert starts[0] == at(DAY, 8)  # first day's shift opens at 08:00


def test_booking_fills_a_day_without_ever_overbooking() -> None:
    world = build(technicians=1, days=1)
    booked = []
    for index in range(20):
        appointment = request(world, index, where=near(0.01 * (index % 3), 0.01), days=[DAY.isoformat()])
        try:
            offers = offer_windows(appointment, NOW)
        except ValidationError as error:
            assert "preferences" in error.message_dict
            break
        book(appointment, offers[0].window_start, technician_id=offers[0].technician_id, now=NOW)
        booked.append(appointment.pk)
    else:
        pytest.fail("one technician took 20 jobs in a day")
    stops = list(Appointment.objects.filter(pk__in=booked).order_by("position"))
    assert 3 <= len(stops) <= 8
    assert [s.position for s in stops] == list(range(1, len(stops) + 1))
    assert all(
        s.status == Status.BOOKED and s.promised_coverage and s.promised_coverage >= 0.9 for s in stops
    )
    # every promised window still holds once the day is full: the route keeps its windows in order
    windows = [s.window_start for s in stops]
    assert windows == sorted(windows)
    assert OutboundMessage.objects.filter(template="field.booked").count() == len(stops)
    assert Event.objects.filter(kind="job.scheduled").count() == len(stops)
    event = Event.objects.filter(kind="job.scheduled").first()
    assert event is not None and {
        "job",
        "appointment_id",
        "technician",
        "service",
        "window_start",
        "window_end",
    } <= set(event.payload)


def test_a_taken_window_is_refused_and_nothing_changes() -> None:
    world = build(technicians=1, days=1)
    first, second = request(world, 0), request(world, 1)
    offer = offer_windows(first, NOW)[0]
    book(first, offer.window_start, now=NOW)
    with pytest.raises(ValidationError) as error:
        book(first, offer.window_start, now=NOW)
    assert "status" in error.value.message_dict
    # the same technician cannot be in two places at 08:00
    with pytest.raises(ValidationError) as error:
        book(second, offer.window_start, now=NOW)
    assert "no longer available" in error.value.message_dict["window_start"][0]
    second.refresh_from_db()
    assert second.status == Status.REQUESTED and second.window_start is None and second.plan is None


def test_an_address_without_coordinates_cannot_get_windows() -> None:
    world = build()
    appointment = request_appointment(
        customer_id=world.customer().pk,
        job_type=world.boiler,
        address="Somewhere",
        lat=None,
        lon=None,
        now=NOW,
    )
    with pytest.raises(ValidationError) as error:
        offer_windows(appointment, NOW)
    assert "coordinates" in error.value.message_dict["address"][0]
    with pytest.raises(ValidationError):
        book(appointment, at(DAY, 9), now=NOW)
    appointment.refresh_from_db()
    assert appointment.status == Status.REQUESTED


def test_a_job_type_nobody_can_do_is_named() -> None:
    world = build()
    appointment = request_appointment(
        customer_id=world.customer().pk,
        job_type=world.electrics,
        address="1 Road",
        lat=51.5,
        lon=-0.1,
        now=NOW,
    )
    with pytest.raises(ValidationError) as error:
        offer_windows(appointment, NOW)
    message = error.value.message_dict["job_type"][0]
    assert "Electrics" in message and "electric" in message


def test_preferences_that_fit_no_slot_say_what_is_possible() -> None:
    world = build(days=1)
    appointment = request(world, ranges=[["18:00", "21:00"]])
    with pytest.raises(ValidationError) as error:
        offer_windows(appointment, NOW)
    message = error.value.message_dict["preferences"][0]
    assert "18:00-21:00" in message and "earliest window" in message


@pytest.mark.parametrize(
    ("prefs", "field"),
    [
        ({"ranges": [["9am", "12:00"]]}, "preferences.ranges.0"),
        ({"ranges": [["10:00", "10:30"]]}, "preferences.ranges.0"),
        ({"days": ["2020-01-01"]}, "preferences.days.0"),
        ({"weekdays": [9]}, "preferences.weekdays.0"),
        ({"colour": "blue"}, "preferences"),
    ],
)
def test_bad_preferences_are_refused_with_the_field(prefs: dict[str, object], field: str) -> None:
    world = build(days=1)
    with pytest.raises(ValidationError) as error:
        request(world, **prefs)
    assert field in error.value.message_dict
    assert not Appointment.objects.exists()


def test_breaks_and_shift_ends_are_respected() -> None:
    world = build(technicians=0, days=0)
    tech = create_technician(name="Solo", home=near(0, 0), skills=["gas"])
    add_shift(tech, at(DAY, 8), at(DAY, 11), breaks=[(at(DAY, 9), at(DAY, 10))])
    offers = offer_windows(request(world, asap=True), NOW)
    for offer in offers:
        assert offer.window_end <= at(DAY, 11)
    with pytest.raises(ValidationError):
        add_shift(tech, at(DAY, 10), at(DAY, 12))  # overlaps


@pytest.mark.django_db(transaction=True)
def test_two_agents_booking_the_last_slot_at_once_exactly_one_wins() -> None:
    world = build(technicians=0, days=0)
    tech = create_technician(name="Solo", home=near(0, 0), skills=["gas"])
    add_shift(tech, at(DAY, 8), at(DAY, 10))  # room for one job
    first, second = request(world, 0), request(world, 1)
    window = offer_windows(first, NOW)[0].window_start
    barrier = threading.Barrier(2)
    results: dict[int, str] = {}

    def attempt(appointment: Appointment) -> None:
        try:
            barrier.wait()
            book(appointment, window, now=NOW)
            results[appointment.pk] = "booked"
        except ValidationError as error:
            results[appointment.pk] = str(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=attempt, args=(a,)) for a in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values())[0] == "booked"
    assert sum(value == "booked" for value in results.values()) == 1
    loser = next(pk for pk, value in results.items() if value != "booked")
    assert "no longer available" in results[loser]
    assert Appointment.objects.filter(status=Status.BOOKED).count() == 1
    assert Appointment.objects.get(pk=loser).status == Status.REQUESTED
