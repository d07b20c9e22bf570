"""The technician's phone page: own jobs only, in route order, and the live-day buttons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tenure.core.outbox_models import OutboundMessage
from tenure.field.models import Appointment, DayPlan, Status, Technician
from tests.conftest import PASSWORD
from tests.field.test_routing_planning import FieldDay


@pytest.fixture
def field_day(db: None) -> FieldDay:
    return FieldDay.create()


def route_today(field_day: FieldDay, technician: Technician, count: int) -> list[Appointment]:
    """`count` scheduled jobs on today's plan of this technician, windows starting in 1, 2, ... hours."""
    now = timezone.now()
    today = now.date()
    plan, _ = DayPlan.objects.get_or_create(technician=technician, date=today)
    jobs = []
    for position in range(1, count + 1):
        start = now + dt.timedelta(hours=position)
        job = field_day.job("service", 0, where=(51.5 + position / 100, -0.12))
        Appointment.objects.filter(pk=job.pk).update(
            window_start=start,
            window_end=start + dt.timedelta(hours=1),
            technician=technician,
            plan=plan,
            position=position,
            planned_start=start + dt.timedelta(minutes=10),
            status=Status.SCHEDULED,
        )
        job.refresh_from_db()
        jobs.append(job)
    return jobs


def signed_in(user: User) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def tech_user(make_staff: Callable[..., User]) -> User:
    return make_staff("technician", "tina")


def test_technician_sees_only_their_own_jobs_in_route_order(
    field_day: FieldDay, tech_user: User, make_staff: Callable[..., User]
) -> None:
    tina = field_day.technician("Tina", ["boiler"], user=tech_user)
    other = field_day.technician("Omar", ["boiler"], user=make_staff("technician", "omar"))
    mine = route_today(field_day, tina, 3)
    theirs = route_today(field_day, other, 2)
    html = signed_in(tech_user).get("/field/today/").content.decode()
    order = [int(x.split('"')[0]) for x in html.split('data-job="')[1:]]
    assert order == [j.pk for j in mine]
    assert all(f'data-job="{j.pk}"' not in html for j in theirs)
    assert 'name="viewport"' in html and "tech-day" in html  # the phone layout


def test_on_my_way_then_arrived_then_completed_with_a_double_tap(
    field_day: FieldDay, tech_user: User
) -> None:
    tina = field_day.technician("Tina", ["boiler"], user=tech_user)
    job = route_today(field_day, tina, 2)[0]
    client = signed_in(tech_user)

    response = client.post(f"/field/today/{job.pk}/on_my_way/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "on the way" in response.content.decode()
    job.refresh_from_db()
    assert job.status == Status.EN_ROUTE and job.eta is not None
    assert OutboundMessage.objects.filter(customer=job.customer).exists()  # the customer got an ETA

    assert client.post(f"/field/today/{job.pk}/arrived/").status_code == 200
    first = client.post(f"/field/today/{job.pk}/complete/", {"note": "new valve"})
    assert first.status_code == 200
    job.refresh_from_db()
    assert job.status == Status.COMPLETED and job.completed_at is not None
    completed_at = job.completed_at
    again = client.post(f"/field/today/{job.pk}/complete/", {"note": "tapped twice"})
    assert again.status_code == 200 and "nothing changed" in again.content.decode()
    job.refresh_from_db()
    assert job.completed_at == completed_at


def test_impossible_steps_and_bad_estimates_get_a_clear_message(field_day: FieldDay, tech_user: User) -> None:
    tina = field_day.technician("Tina", ["boiler"], user=tech_user)
    job = route_today(field_day, tina, 1)[0]
    client = signed_in(tech_user)
    early = client.post(f"/field/today/{job.pk}/complete/")
    assert early.status_code == 409 and "cannot be completed" in early.content.decode()
    client.post(f"/field/today/{job.pk}/arrived/")
    bad = client.post(f"/field/today/{job.pk}/running_long/", {"minutes": "soon"})
    assert bad.status_code == 409 and "how many more minutes" in bad.content.decode()
    no_reason = client.post(f"/field/today/{job.pk}/not_fixed/", {"reason": " "})
    assert no_reason.status_code == 409 and "say why the job is not fixed" in no_reason.content.decode()
    job.refresh_from_db()
    assert job.status == Status.ON_SITE and job.expected_finish is None

    ok = client.post(f"/field/today/{job.pk}/running_long/", {"minutes": "40"})
    assert ok.status_code == 200 and "expected to finish" in ok.content.decode()
    job.refresh_from_db()
    assert job.expected_finish is not None
    from django_tasks_db.models import DBTaskResult

    from tenure.field.routing.tasks import replan_day

    assert (
        DBTaskResult.objects.filter(task_path=replan_day.module_path).count() == 1
    )  # the day gets re-planned


def test_other_technicians_jobs_and_other_roles_are_refused(
    field_day: FieldDay, tech_user: User, make_staff: Callable[..., User], client_as: Callable[[str], Client]
) -> None:
    field_day.technician("Tina", ["boiler"], user=tech_user)
    other = field_day.technician("Omar", ["boiler"], user=make_staff("technician", "omar"))
    theirs = route_today(field_day, other, 1)[0]
    assert signed_in(tech_user).post(f"/field/today/{theirs.pk}/on_my_way/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.SCHEDULED
    assert signed_in(tech_user).post(f"/field/today/{theirs.pk}/explode/").status_code == 404
    assert client_as("dispatcher").get("/field/today/").status_code == 403  # not linked to a technician
    assert client_as("agent").get("/field/today/").status_code == 403
    unlinked = make_staff("technician", "newbie")
    assert signed_in(unlinked).get("/field/today/").status_code == 403
    assert Client().get("/field/today/").status_code == 302
