"""Not fixed: the return visit, booked from the technician's report or the customer's survey answer.

The survey path runs end to end through the surveys app (job.completed -> survey scheduled -> sent by
its sweeper -> answered by text), which stamps the answer with the real clock; so these worlds are
built around the real current time rather than a fixed date.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tenure.core.models import Event
from tenure.core.outbox_models import OutboundMessage
from tenure.field import live, notify, revisit, selectors
from tenure.field.booking import book, offer_windows
from tenure.field.models import Appointment, JobType, Status, Technician
from tenure.field.services import add_shift, create_job_type, create_technician
from tenure.surveys.models import Survey, SurveyStatus
from tenure.surveys.services import answer_from_text, send_due

from .world import DAY, World, at, build, near, request

pytestmark = pytest.mark.django_db
H = dt.timedelta(hours=1)


def _technician(
    name: str, home: tuple[float, float], shifts: list[tuple[dt.datetime, dt.datetime]]
) -> Technician:
    tech = create_technician(name=name, home=home, skills=["gas"], time_zone="UTC", user=None)
    for start, end in shifts:
        add_shift(tech, start, end, breaks=[])
    return tech


def _real_world(
    first_shift_ends: dt.timedelta, second_starts: dt.timedelta | None
) -> tuple[World, dt.datetime]:
    """Tech A works around the real now (ending `first_shift_ends` after it); tech B, if any, from
    `second_starts` after now for nine hours."""
    now = timezone.now().replace(second=0, microsecond=0)
    boiler: JobType = create_job_type(
        code="boiler", name="Boiler service", skills=["gas"], default_minutes=60
    )
    electrics = create_job_type(code="electrics", name="Electrics", skills=["electric"], default_minutes=45)
    techs = [_technician("Tech A", near(0.0, 0.0), [(now - 4 * H, now + first_shift_ends)])]
    if second_starts is not None:
        techs.append(
            _technician("Tech B", near(0.05, 0.0), [(now + second_starts, now + second_starts + 9 * H)])
        )
    return World(boiler, electrics, techs), now


def _completed_job(world: World, now: dt.datetime) -> Appointment:
    """A job booked this morning on tech A, done ten minutes ago."""
    booked_at = now - 4 * H
    appointment = request(world, where=near(0.02, 0.02))
    offer = offer_windows(appointment, booked_at)[0]
    assert offer.technician_id == world.technicians[0].pk
    appointment = book(appointment, offer.window_start, technician_id=offer.technician_id, now=booked_at)
    assert appointment.window_start is not None
    live.on_my_way(appointment, now=appointment.window_start - dt.timedelta(minutes=20))
    live.arrived(appointment, now=appointment.window_start)
    live.complete(appointment, note="replaced the valve", now=now - dt.timedelta(minutes=10))
    return appointment


def _survey_answered(appointment: Appointment, now: dt.datetime, text: str) -> Survey:
    assert send_due(now) == 1
    survey = Survey.objects.get(subject_ref=f"appointment:{appointment.pk}")
    assert survey.status == SurveyStatus.SENT and survey.message is not None
    answered = answer_from_text(appointment.customer, text, channel="sms")
    assert answered is not None and answered.pk == survey.pk
    return answered


def _customer_messages(visit: Appointment, kind: str) -> list[str]:
    return list(
        OutboundMessage.objects.filter(idempotency_key__startswith=f"field:{visit.pk}:{kind}").values_list(
            "body", flat=True
        )
    )


def test_survey_not_fixed_books_the_same_technician_today_when_nearby_and_in_shift() -> None:
    world, now = _real_world(first_shift_ends=5 * H, second_starts=-1 * H)
    original = _completed_job(world, now)

    survey = _survey_answered(original, now, "No, still not fixed")

    assert survey.fixed is False
    visit = Appointment.objects.get(revisit_of=original)
    assert visit.status == Status.BOOKED
    assert visit.technician_id == world.technicians[0].pk and visit.pinned
    assert visit.window_start is not None and visit.window_end is not None
    # Today, within tech A's shift, no earlier than booking's lead time.
    assert now + dt.timedelta(minutes=44) <= visit.window_start and visit.window_end <= now + 5 * H
    (body,) = _customer_messages(visit, "revisit")
    zone = notify._zone(visit)
    assert "We will come back" in body
    assert notify.window_text(visit.window_start, visit.window_end, zone) in body
    assert "/field/visit/" in body and "invite.ics" in body
    original.refresh_from_db()
    assert original.status == Status.COMPLETED  # what happened on the first visit stays on record
    kinds = set(Event.objects.filter(payload__appointment_id=original.pk).values_list("kind", flat=True))
    assert {"job.reopened", "job.revisit_booked"} <= kinds


def test_survey_not_fixed_books_the_earliest_window_elsewhere_when_the_technician_is_done_for_the_day() -> (
    None
):
    world, now = _real_world(first_shift_ends=dt.timedelta(minutes=30), second_starts=20 * H)
    original = _completed_job(world, now)

    _survey_answered(original, now, "not fixed")

    visit = Appointment.objects.get(revisit_of=original)
    assert visit.status == Status.BOOKED
    assert visit.technician_id == world.technicians[1].pk and not visit.pinned
    # The earliest window tech B can keep: the first offer once their shift begins.
    tech_b_start = now + 20 * H
    assert visit.window_start is not None
    assert tech_b_start <= visit.window_start < tech_b_start + H
    (body,) = _customer_messages(visit, "revisit")
    assert "We will come back on " in body or "We will come back today" in body


def test_survey_not_fixed_with_nobody_free_tells_the_customer_and_the_dispatcher() -> None:
    world, now = _real_world(first_shift_ends=dt.timedelta(minutes=30), second_starts=None)
    original = _completed_job(world, now)

    _survey_answered(original, now, "no")

    visit = Appointment.objects.get(revisit_of=original)
    assert visit.status == Status.REQUESTED and visit.window_start is None
    assert visit.notice_reason.startswith(live.CANNOT_KEEP)
    assert visit in selectors.at_risk(timezone.now())
    (body,) = _customer_messages(visit, "revisit")
    assert "dispatcher will call" in body
    unplanned = Event.objects.get(kind="job.unplanned", payload__appointment_id=visit.pk)
    assert "no technician" in unplanned.payload["reason"]


def test_a_low_score_for_a_fixed_job_is_a_follow_up_for_the_dispatcher_not_a_revisit() -> None:
    world, now = _real_world(first_shift_ends=5 * H, second_starts=None)
    original = _completed_job(world, now)

    survey = _survey_answered(original, now, "yes it's fixed, 2")

    assert survey.fixed is True and survey.score == 2
    assert not Appointment.objects.filter(revisit_of=original).exists()
    follow_up = Event.objects.get(kind=revisit.FOLLOW_UP, payload__appointment_id=original.pk)
    assert follow_up.payload["score"] == 2 and follow_up.payload["comment"] == "yes it's fixed, 2"


def test_the_technicians_not_fixed_books_the_return_visit_once() -> None:
    world = build(technicians=1, days=2)
    booked_at = at(DAY, 0) - dt.timedelta(days=2)
    appointment = request(world, days=[DAY.isoformat()])
    appointment = book(appointment, offer_windows(appointment, booked_at)[0].window_start, now=booked_at)
    assert appointment.window_start is not None
    live.arrived(appointment, now=appointment.window_start)
    outcome = live.mark_not_fixed(appointment, reason="part on order", now=appointment.window_start + H)
    again = live.mark_not_fixed(appointment, reason="part on order", now=appointment.window_start + 2 * H)

    assert outcome.changed and "return visit" in outcome.message and not again.changed
    (visit,) = Appointment.objects.filter(revisit_of=appointment)
    assert visit.technician_id == world.technicians[0].pk and visit.pinned
    assert visit.window_start is not None and visit.window_start.date() == DAY
    assert "part on order" in visit.notes
    # Asking again while the revisit is open changes nothing.
    assert revisit.reopen(appointment, reason="again", now=appointment.window_start + H).appointment == visit
    assert Appointment.objects.filter(revisit_of=appointment).count() == 1


def test_the_revisit_message_says_today_or_the_day() -> None:
    world = build(technicians=1, days=2)
    booked_at = at(DAY, 0) - dt.timedelta(days=2)
    appointment = request(world, days=[DAY.isoformat()])
    appointment = book(appointment, offer_windows(appointment, booked_at)[0].window_start, now=booked_at)
    appointment.window_start, appointment.window_end = at(DAY, 15), at(DAY, 16)
    today = notify.revisit_booked(appointment, at(DAY, 12))
    appointment.window_start, appointment.window_end = at(DAY, 33), at(DAY, 34)  # the next morning, 9-10
    later = notify.revisit_booked(appointment, at(DAY, 12))
    assert "come back today 3\u20134 pm" in today.body
    assert "come back on Tuesday 5 March, 9\u201310 am" in later.body
