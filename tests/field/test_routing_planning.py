"""Planning a stored day: load shifts and appointments, plan with PyVRP, store routes, move a job by hand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import User

from tenure.core.models import AuditLog, Event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.field.models import Appointment, DayPlan, JobType, Shift, ShiftBreak, Skill, Status, Technician
from tenure.field.routing import SolveOptions
from tenure.field.routing.planning import MoveRefused, load_day, move_job, replan

DAY = dt.date(2026, 12, 1)
UTC = dt.UTC
FAST = SolveOptions(seconds=1.0, no_improvement=500)
CENTRE = (51.50, -0.12)


def at(hour: float, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=UTC) + dt.timedelta(hours=hour)


@dataclass
class FieldDay:
    """A small company's day, built through the ORM (the tables are fieldcore's; the data is the test's)."""

    customer: Customer
    skills: dict[str, Skill] = field(default_factory=dict)
    job_types: dict[str, JobType] = field(default_factory=dict)

    @classmethod
    def create(cls) -> FieldDay:
        customer = create_customer(name="Cora Field", identities=[("email", "cora@example.com")])
        day = cls(customer=customer)
        for code in ("boiler", "gas"):
            day.skills[code] = Skill.objects.create(code=code, name=code.title())
        for code, skills, minutes in (
            ("service", ["boiler"], 45),
            ("gas-safety", ["gas"], 30),
            ("solar", [], 60),
        ):
            job_type = JobType.objects.create(code=code, name=code, default_duration_minutes=minutes)
            job_type.skills.set([day.skills[s] for s in skills])
            day.job_types[code] = job_type
        return day

    def technician(
        self,
        name: str,
        skills: list[str],
        home: tuple[float, float] = CENTRE,
        shift: tuple[float, float] = (8, 17),
        lunch: tuple[float, float] | None = None,
        user: User | None = None,
        day: dt.date = DAY,
    ) -> Technician:
        tech = Technician.objects.create(name=name, home_lat=home[0], home_lon=home[1], user=user)
        tech.skills.set([self.skills[s] for s in skills])
        s = Shift.objects.create(technician=tech, start=at(shift[0], day), end=at(shift[1], day))
        if lunch:
            ShiftBreak.objects.create(shift=s, start=at(lunch[0], day), end=at(lunch[1], day))
        return tech

    def job(
        self,
        kind: str,
        window: float,
        where: tuple[float, float] | None = (51.51, -0.11),
        status: str = Status.BOOKED,
        customer: Customer | None = None,
        day: dt.date = DAY,
    ) -> Appointment:
        return Appointment.objects.create(
            customer=customer or self.customer,
            job_type=self.job_types[kind],
            address="1 Test Street",
            lat=where[0] if where else None,
            lon=where[1] if where else None,
            status=status,
            window_start=at(window, day),
            window_end=at(window + 1, day),
        )


@pytest.fixture
def field_day(db: None) -> FieldDay:
    return FieldDay.create()


def test_replan_stores_routes_that_keep_skills_windows_and_breaks(field_day: FieldDay) -> None:
    ann = field_day.technician("Ann", ["boiler"], lunch=(12, 12.5))
    bob = field_day.technician("Bob", ["boiler", "gas"], home=(51.53, -0.08))
    jobs = [
        field_day.job("service", 9, (51.51, -0.10)),
        field_day.job("service", 10, (51.49, -0.13)),
        field_day.job("gas-safety", 9, (51.52, -0.09)),
        field_day.job("service", 13, (51.50, -0.15)),
        field_day.job("gas-safety", 14, (51.54, -0.07)),
    ]
    result = replan(DAY, now=at(6), options=FAST)
    assert result.unassigned == {} and result.planned == 5
    assert result.plan.warnings == []
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Status.SCHEDULED and job.plan is not None and job.position
        assert job.window_start <= job.planned_start <= job.window_end  # type: ignore[operator]
        if job.job_type.code == "gas-safety":
            assert job.technician_id == bob.pk
    ann_stops = Appointment.objects.filter(technician=ann).order_by("position")
    assert [a.position for a in ann_stops] == list(range(1, len(ann_stops) + 1))
    for stop in ann_stops:  # no service starts during Ann's lunch
        assert not (at(12) <= stop.planned_start < at(12.5))  # type: ignore[operator]
    assert DayPlan.objects.filter(date=DAY, optimised_at__isnull=False).count() == 2
    assert AuditLog.objects.filter(action="field.replan", object_id=DAY.isoformat()).exists()


def test_jobs_nobody_can_do_are_left_out_with_a_reason_on_the_timeline(field_day: FieldDay) -> None:
    field_day.technician("Ann", ["boiler"])
    ok = field_day.job("service", 9)
    gas = field_day.job("gas-safety", 10)
    nowhere = field_day.job("service", 11, where=None)
    evening = field_day.job("service", 20)
    result = replan(DAY, now=at(6), options=FAST)
    assert set(result.unassigned) == {gas.pk, nowhere.pk, evening.pk}
    assert "no technician has the skills gas" in result.unassigned[gas.pk]
    assert result.unassigned[nowhere.pk] == "the address has no coordinates"
    assert "fits no technician's shift" in result.unassigned[evening.pk]
    ok.refresh_from_db()
    gas.refresh_from_db()
    assert ok.status == Status.SCHEDULED and gas.status == Status.BOOKED and gas.plan is None
    reasons = Event.objects.filter(kind="job.unplanned").values_list("payload__reason", flat=True)
    assert sorted(reasons) == sorted(result.unassigned.values())


def test_replan_after_a_job_runs_long_keeps_the_started_job_and_moves_the_rest(field_day: FieldDay) -> None:
    ann = field_day.technician("Ann", ["boiler"])
    field_day.technician("Bob", ["boiler"], home=(51.52, -0.10))
    jobs = [field_day.job("service", h, (51.50 + h / 1000, -0.12)) for h in (9, 10, 11, 13)]
    replan(DAY, now=at(6), options=FAST)
    first = Appointment.objects.filter(technician=ann).order_by("position").first()
    assert first is not None
    Appointment.objects.filter(pk=first.pk).update(
        status=Status.ON_SITE, arrived_at=at(9), expected_finish=at(12, DAY)
    )
    result = replan(DAY, now=at(9.5), options=FAST)
    assert result.unassigned == {}
    first.refresh_from_db()
    assert first.status == Status.ON_SITE and first.technician_id == ann.pk  # the job begun stays put
    for job in jobs:
        job.refresh_from_db()
        if job.pk != first.pk and job.technician_id == ann.pk:
            assert job.planned_start >= at(12)  # type: ignore[operator]


def test_move_checks_skill_window_and_shift_and_stores_a_valid_move(field_day: FieldDay) -> None:
    ann = field_day.technician("Ann", ["boiler"])
    bob = field_day.technician("Bob", ["boiler", "gas"], shift=(8, 12))
    gas = field_day.job("gas-safety", 9)
    service = field_day.job("service", 10)
    replan(DAY, now=at(6), options=FAST)

    with pytest.raises(MoveRefused) as refused:
        move_job(gas.pk, ann.pk, at(9.25), now=at(6))
    assert refused.value.reasons == [f"{gas.reference}: Ann lacks the skill gas"]
    with pytest.raises(MoveRefused) as refused:
        move_job(service.pk, ann.pk, at(12), now=at(6))
    assert "outside the promised window 10:00 to 11:00" in refused.value.reasons[0]
    late = field_day.job("service", 11.5)
    with pytest.raises(MoveRefused) as refused:
        move_job(late.pk, bob.pk, at(12.4), now=at(6))
    assert any("after the shift ends at 12:00" in r for r in refused.value.reasons)
    gas.refresh_from_db()
    assert gas.technician_id == bob.pk  # refusals changed nothing

    stops = move_job(service.pk, ann.pk, at(10.5), now=at(6))
    service.refresh_from_db()
    assert service.technician_id == ann.pk and service.planned_start == at(10.5)
    assert [s.job for s in stops] == [service.pk]
    assert Event.objects.filter(kind="job.moved", payload__job=service.reference).exists()


def test_a_completed_job_cannot_be_moved(field_day: FieldDay) -> None:
    ann = field_day.technician("Ann", ["boiler"])
    done = field_day.job("service", 9, status=Status.COMPLETED)
    with pytest.raises(MoveRefused, match="is completed and cannot be moved"):
        move_job(done.pk, ann.pk, at(9.5), now=at(6))


def test_load_day_uses_conservative_travel(field_day: FieldDay) -> None:
    field_day.technician("Ann", ["boiler"], shift=(7, 19))
    problem = load_day(DAY, now=at(6))
    from tenure.field.travel import GreatCircleTravel

    a, b = CENTRE, (51.55, -0.05)
    rush = GreatCircleTravel().seconds(a, b, at(8))
    quiet = GreatCircleTravel().seconds(a, b, at(11))
    assert rush > quiet
    assert problem.travel([a, b])[0][1] == pytest.approx(rush)


def test_a_change_queues_one_replan_per_day_and_the_task_plans_it(field_day: FieldDay) -> None:
    from django_tasks_db.models import DBTaskResult

    from tenure.field.routing.tasks import replan_day, request_replan

    field_day.technician("Ann", ["boiler"])
    job = field_day.job("service", 9)
    assert request_replan(DAY) is True
    assert request_replan(DAY) is False  # one waiting run per day absorbs a burst of changes
    assert request_replan(DAY + dt.timedelta(days=1)) is True
    queued = DBTaskResult.objects.filter(task_path=replan_day.module_path)
    assert sorted(r.args_kwargs["args"][0] for r in queued) == [
        DAY.isoformat(),
        (DAY + dt.timedelta(days=1)).isoformat(),
    ]

    outcome = replan_day.call(DAY.isoformat())
    assert outcome["planned"] == 1 and outcome["unassigned"] == 0
    job.refresh_from_db()
    assert job.status == Status.SCHEDULED
