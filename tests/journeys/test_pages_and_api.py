"""Staff pages, the API and the CLI: managers edit, agents view, others are refused; bad input is a clear error."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from tenure.core.outbox_models import OutboundMessage
from tenure.customers.models import Customer
from tenure.journeys.models import Enrollment, Journey, MessageTemplate, Task
from tenure.journeys.runner import run_due

pytestmark = pytest.mark.django_db


def test_agents_view_managers_edit(client_as: Callable[[str], Client]) -> None:
    agent, manager, technician = client_as("agent"), client_as("manager"), client_as("technician")
    assert technician.get("/journeys/").status_code == 403
    page = agent.get("/journeys/")
    assert page.status_code == 200 and b"Payment due reminder" in page.content
    detail = agent.get("/journeys/check-in/")
    assert (
        detail.status_code == 200 and b"Does it keep customers?" not in detail.content
    )  # the report is for managers
    assert agent.get("/journeys/check-in/edit/").status_code == 403
    assert agent.post("/journeys/check-in/toggle/").status_code == 403
    assert manager.get("/journeys/check-in/").content.count(b"<svg") == 1
    assert manager.post("/journeys/check-in/toggle/").status_code == 302
    assert Journey.objects.get(key="check-in").is_active is False


def test_the_editor_saves_and_shows_every_problem(client_as: Callable[[str], Client]) -> None:
    manager = client_as("manager")
    bad = "key: fresh\nname: Fresh\ntrigger: {event: order.placed}\nsteps:\n  - {id: a, type: fax}\n"
    response = manager.post("/journeys/new/", {"document": bad})
    assert response.status_code == 422
    assert b"steps.0.type" in response.content and b"unknown step type" in response.content
    assert not Journey.objects.filter(key="fresh").exists()
    checked = manager.post("/journeys/validate/", {"document": bad})
    assert b"unknown step type" in checked.content
    good = bad.replace("{id: a, type: fax}", "{id: a, type: send, template: check-in}")
    assert manager.post("/journeys/validate/", {"document": good}).content.count(b"No problems found") == 1
    response = manager.post("/journeys/new/", {"document": good})
    assert response.status_code == 302 and Journey.objects.get(key="fresh").steps[0]["template"] == "check-in"


def test_template_preview_against_a_real_customer_and_test_send(
    make_staff: Callable[..., User], customer: Customer
) -> None:
    manager = make_staff("manager", "boss")
    manager.email = "boss@shop.example"
    manager.save()
    client = Client()
    client.force_login(manager)
    preview = client.post(
        "/journeys/templates/preview/",
        {
            "customer": customer.pk,
            "key": "x",
            "subject": "Hi {{ customer.first_name }}",
            "body": "Dear {{ customer.name }}",
        },
    )
    assert b"Dear Ada Lovelace" in preview.content
    broken = client.post(
        "/journeys/templates/preview/", {"customer": customer.pk, "key": "x", "body": "{{ order.total }}"}
    )
    assert b"the template needs &#x27;order.total&#x27;" in broken.content
    response = client.post("/journeys/templates/check-in/en/test-send/", {"customer": customer.pk})
    assert response.status_code == 302
    message = OutboundMessage.objects.get(recipient="boss@shop.example")
    assert message.subject == "[Test] How did it go?" and "Hello Ada" in message.body


def test_template_edit_refuses_unknown_fields(client_as: Callable[[str], Client]) -> None:
    manager = client_as("manager")
    response = manager.post(
        "/journeys/templates/new/", {"key": "new-one", "language": "en", "body": "{{ customer.password }}"}
    )
    assert response.status_code == 422 and b"customer has no field" in response.content
    assert not MessageTemplate.objects.filter(key="new-one").exists()
    assert (
        client_as("agent")
        .post("/journeys/templates/new/", {"key": "a", "language": "en", "body": "x"})
        .status_code
        == 403
    )


def test_tasks_are_shown_and_closed(
    client_as: Callable[[str], Client], customer: Customer, make_journey: Callable[..., Journey]
) -> None:
    journey = make_journey(steps=[{"id": "t", "type": "task", "title": "Call them now", "due": "1d"}])
    agent = client_as("agent")
    assert agent.post(f"/journeys/{journey.key}/enroll/", {"customer": customer.pk}).status_code == 403
    manager = client_as("manager")
    manager.post(f"/journeys/{journey.key}/enroll/", {"customer": customer.pk})
    run_due(timezone.now())
    page = agent.get("/journeys/tasks/")
    assert b"Call them now" in page.content
    customer_page = agent.get(f"/customers/{customer.pk}/")
    assert b"Scheduled next" in customer_page.content and b"Call them now" in customer_page.content
    task = Task.objects.get(title="Call them now")
    assert agent.post(f"/journeys/tasks/{task.pk}/done/").status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None


def test_broadcast_to_a_reps_customers(
    make_staff: Callable[..., User], client_as: Callable[[str], Client]
) -> None:
    from tenure.customers.services import create_customer

    rep = make_staff("agent", "leaving-rep")
    mine = [
        create_customer(
            name=f"M{i}",
            identities=[("email", f"m{i}@example.com")],
            assigned_rep_id=rep.pk,
            lifecycle="active",
        )
        for i in range(3)
    ]
    create_customer(name="Other", identities=[("email", "o@example.com")], lifecycle="active")
    manager = client_as("manager")
    missing = manager.post(
        "/journeys/heads-up-rep-leaving/broadcast/",
        {"rep": "leaving-rep", "subject": "", "message": ""},
        follow=True,
    )
    assert b"this journey&#x27;s message uses the subject" in missing.content
    manager.post(
        "/journeys/heads-up-rep-leaving/broadcast/",
        {"rep": "leaving-rep", "subject": "News", "message": "Sam is moving on."},
    )
    Journey.objects.filter(key="heads-up-rep-leaving").update(holdout_percent=0)
    enrolled = Enrollment.objects.filter(journey__key="heads-up-rep-leaving")
    assert sorted(enrolled.values_list("customer_id", flat=True)) == sorted(c.pk for c in mine)


def test_api_roles_and_errors(token_for: Callable[[str], str], customer: Customer) -> None:
    client = Client()
    agent = {"HTTP_AUTHORIZATION": f"Bearer {token_for('agent')}"}
    manager = {"HTTP_AUTHORIZATION": f"Bearer {token_for('manager')}"}
    technician = {"HTTP_AUTHORIZATION": f"Bearer {token_for('technician')}"}
    assert client.get("/api/v1/journeys", **technician).status_code == 403
    listed = client.get("/api/v1/journeys", **agent).json()
    assert any(row["key"] == "win-back" for row in listed)
    document = client.get("/api/v1/journeys/check-in", **agent).json()
    assert document["trigger"] == {"event": "job.completed"}
    assert (
        client.put(
            "/api/v1/journeys/check-in", data=json.dumps(document), content_type="application/json", **agent
        ).status_code
        == 403
    )
    document["steps"].append({"id": "loop", "type": "branch", "if": [], "then": "pause", "else": "end"})
    bad = client.put(
        "/api/v1/journeys/check-in", data=json.dumps(document), content_type="application/json", **manager
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "steps"
    assert "would loop" in bad.json()["errors"][0]["message"]
    assert client.get("/api/v1/journeys/check-in/report", **agent).status_code == 403
    assert client.get("/api/v1/journeys/check-in/report", **manager).json()["journey"] == "check-in"
    created = client.post(
        "/api/v1/journeys/win-back/enrollments",
        data={"customer_id": customer.pk},
        content_type="application/json",
        **manager,
    )
    assert created.status_code == 201
    again = client.post(
        "/api/v1/journeys/win-back/enrollments",
        data={"customer_id": customer.pk},
        content_type="application/json",
        **manager,
    )
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "customer_id"
    assert (
        client.post(
            "/api/v1/journeys/check-in/enrollments",
            data={"customer_id": 999999},
            content_type="application/json",
            **manager,
        ).status_code
        == 404
    )
    schedule = client.get(f"/api/v1/customers/{customer.pk}/journeys", **agent).json()
    assert any(item["journey"] == "Win-back" for item in schedule)


def test_cli_export_and_import_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "journeys.yaml"
    call_command("journeys", "export", "check-in", "-o", str(out), stdout=io.StringIO())
    text = out.read_text()
    assert "key: check-in" in text and "templates:" in text
    Journey.objects.filter(key="check-in").update(name="Changed")
    buffer = io.StringIO()
    call_command("journeys", "import", str(out), stdout=buffer)
    assert "0 created, 2 updated" in buffer.getvalue()  # the journey and its template
    assert Journey.objects.get(key="check-in").name == "Check-in after fulfilment"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("type: send", "type: carrier-pigeon"))
    with pytest.raises(CommandError) as caught:
        call_command("journeys", "import", str(bad), stdout=io.StringIO())
    assert "nothing imported" in str(caught.value) and "unknown step type 'carrier-pigeon'" in str(
        caught.value
    )
    with pytest.raises(CommandError, match="no journey with key nope"):
        call_command("journeys", "export", "nope", stdout=io.StringIO())
    listing = io.StringIO()
    call_command("journeys", "list", stdout=listing)
    assert "payment-due-reminder" in listing.getvalue()
