"""The dispatcher board page: who may see it, lanes and blocks, at-risk jobs, re-plan, checked moves, map."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import pytest
from django.test import Client
from django.utils import timezone

from tenure.field.models import Appointment, Status
from tenure.field.routing.planning import replan
from tenure.surveys.models import Survey, SurveyKind, SurveyStatus
from tests.field.test_routing_planning import DAY, FAST, FieldDay, at

URL = f"/field/board/?date={DAY.isoformat()}"


@pytest.fixture
def field_day(db: None) -> FieldDay:
    return FieldDay.create()


@pytest.mark.parametrize("role", ["agent", "technician"])
def test_roles_without_dispatch_rights_are_refused(client_as: Callable[[str], Client], role: str) -> None:
    client = client_as(role)
    assert client.get(URL).status_code == 403
    assert client.post("/field/board/replan/", {"date": DAY.isoformat()}).status_code == 403
    assert client.post("/field/board/move/", {"date": DAY.isoformat()}).status_code == 403


def test_strangers_are_sent_to_sign_in(client: Client, db: None) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_board_shows_lanes_blocks_risk_unplanned_and_map(
    field_day: FieldDay, client_as: Callable[[str], Client]
) -> None:
    ann = field_day.technician("Ann", ["boiler"], lunch=(12, 12.5))
    bob = field_day.technician("Bob", ["boiler", "gas"], home=(51.53, -0.08))
    jobs = [field_day.job("service", 9), field_day.job("gas-safety", 10), field_day.job("service", 14)]
    field_day.job("service", 10, where=None)
    replan(DAY, now=at(6), options=FAST)
    Appointment.objects.filter(pk=jobs[1].pk).update(miss_probability=0.6)

    html = client_as("dispatcher").get(URL).content.decode()
    for tech in (ann, bob):
        assert f'data-technician="{tech.pk}"' in html
    blocks = re.findall(r'<span class="job ([^"]*)" data-job="(\d+)"', html)
    assert {int(job) for _, job in blocks} == {j.pk for j in jobs}
    risky = [int(job) for cls, job in blocks if "at-risk" in cls]
    assert risky == [jobs[1].pk]
    assert f'<li data-job="{jobs[1].pk}">' in html.split('id="at-risk"')[1].split("</ul>")[0]
    unplanned = html.split('id="unplanned"')[1].split("</ul>")[0]
    assert unplanned.count("<li data-job=") == 1
    svg = html.split('<svg class="route-map"')[1].split("</svg>")[0]
    assert svg.count('<polyline class="route"') == 2
    assert svg.count('class="stop"') == 3 and svg.count('class="stop unplanned"') == 0  # no coordinates


def test_replan_button_plans_the_day_and_names_what_was_left_out(
    field_day: FieldDay, client_as: Callable[[str], Client]
) -> None:
    field_day.technician("Ann", ["boiler"])
    ok = field_day.job("service", 9)
    gas = field_day.job("gas-safety", 10)
    response = client_as("dispatcher").post(
        "/field/board/replan/", {"date": DAY.isoformat()}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="board"') and "<html" not in html  # htmx gets the partial
    assert "Planned 1 job(s); 1 left out." in html
    assert "no technician has the skills gas" in html
    ok.refresh_from_db()
    gas.refresh_from_db()
    assert ok.status == Status.SCHEDULED and gas.plan is None


def test_move_refused_says_why_and_changes_nothing(
    field_day: FieldDay, client_as: Callable[[str], Client]
) -> None:
    ann = field_day.technician("Ann", ["boiler"])
    bob = field_day.technician("Bob", ["boiler", "gas"])
    gas = field_day.job("gas-safety", 9)
    replan(DAY, now=at(6), options=FAST)
    gas.refresh_from_db()
    before = (gas.technician_id, gas.planned_start)
    client = client_as("dispatcher")
    response = client.post(
        "/field/board/move/",
        {"date": DAY.isoformat(), "appointment": gas.pk, "technician": ann.pk, "start": "09:15"},
    )
    assert response.status_code == 409
    assert f"{gas.reference}: Ann lacks the skill gas" in response.content.decode()
    gas.refresh_from_db()
    assert (gas.technician_id, gas.planned_start) == before == (bob.pk, gas.planned_start)

    bad = client.post(
        "/field/board/move/", {"date": DAY.isoformat(), "appointment": gas.pk, "technician": ann.pk}
    )
    assert bad.status_code == 400 and "Start at: This field is required." in bad.content.decode()


def test_move_within_the_rules_is_stored(field_day: FieldDay, client_as: Callable[[str], Client]) -> None:
    field_day.technician("Ann", ["boiler"])
    bob = field_day.technician("Bob", ["boiler"], home=(51.60, -0.30))
    job = field_day.job("service", 10)
    replan(DAY, now=at(6), options=FAST)
    response = client_as("manager").post(
        "/field/board/move/",
        {"date": DAY.isoformat(), "appointment": job.pk, "technician": bob.pk, "start": "10:40"},
    )
    assert response.status_code == 200
    assert f"{job.reference} now starts 10:40 with Bob." in response.content.decode()
    job.refresh_from_db()
    assert job.technician_id == bob.pk and job.planned_start == at(10 + 40 / 60)


def answered(
    job: Appointment, *, fixed: bool, score: int | None, comment: str = "", days_ago: float = 0
) -> Survey:
    return Survey.objects.create(
        customer=job.customer,
        kind=SurveyKind.JOB_FOLLOW_UP,
        subject_ref=f"appointment:{job.pk}",
        trigger_key=f"test:{job.pk}",
        status=SurveyStatus.ANSWERED,
        answered_at=timezone.now() - dt.timedelta(days=days_ago, minutes=5),
        score=score,
        fixed=fixed,
        comment=comment,
    )


def unhappy_answers(field_day: FieldDay) -> dict[str, Appointment]:
    field_day.technician("Ann", ["boiler"])
    jobs = {name: field_day.job("service", hour) for name, hour in (("broken", 9), ("low", 10), ("fine", 11))}
    jobs["stale"] = field_day.job("service", 14)
    answered(jobs["broken"], fixed=False, score=None, comment="still leaking", days_ago=1)
    answered(jobs["low"], fixed=True, score=1, comment="rude and late")
    answered(jobs["fine"], fixed=True, score=5)
    answered(jobs["stale"], fixed=False, score=2, days_ago=30)
    return jobs


def test_board_lists_recent_unhappy_follow_ups_with_what_to_do_and_links(
    field_day: FieldDay, client_as: Callable[[str], Client]
) -> None:
    jobs = unhappy_answers(field_day)
    html = client_as("dispatcher").get(URL).content.decode()
    listed = html.split('id="follow-ups"')[1].split("</ul>")[0]
    newest_first = [jobs["low"].pk, jobs["broken"].pk]
    assert [int(pk) for pk in re.findall(r'<li data-job="(\d+)"', listed)] == newest_first
    assert "still leaking" in listed and "not fixed: book a return visit" in listed
    assert "score 1" in listed and "call the customer back" in listed
    assert f'href="/customers/{field_day.customer.pk}/timeline/"' in listed


@pytest.mark.parametrize("role", ["agent", "technician"])
def test_follow_ups_are_not_shown_to_technicians_agents_or_strangers(
    field_day: FieldDay, client_as: Callable[[str], Client], client: Client, role: str
) -> None:
    unhappy_answers(field_day)
    refused = client_as(role).get(URL)
    assert refused.status_code == 403 and "still leaking" not in refused.content.decode()
    stranger = client.get(URL)
    assert stranger.status_code == 302 and "still leaking" not in stranger.content.decode()
