"""Customer pages: who may see what, the htmx timeline filters, and merging from the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from tenure.core.models import AuditLog
from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def jane() -> Customer:
    customer = create_customer(name="Jane Doe", identities=[("email", "jane@example.com")])
    for n in range(60):
        record_event(
            customer_id=customer.pk,
            # Kinds no built-in journey starts on, so the timeline holds exactly these.
            kind="note.added" if n % 2 else "visit.logged",
            channel="email" if n % 3 else "phone",
            payload={"n": n},
        )
    return customer


def test_strangers_are_sent_to_login(jane: Customer) -> None:
    for url in ["/customers/", f"/customers/{jane.pk}/", f"/customers/{jane.pk}/timeline/"]:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_agent_sees_list_and_whole_timeline_in_pages(
    jane: Customer, client_as: Callable[[str], Client]
) -> None:
    agent = client_as("agent")
    listing = agent.get("/customers/", {"q": "jane@example"})
    assert listing.status_code == 200 and b"Jane Doe" in listing.content

    page = agent.get(f"/customers/{jane.pk}/")
    assert page.status_code == 200
    assert page.content.count(b'class="event"') == 50
    assert b"Show older" in page.content and b'id="timeline-filters"' in page.content


def test_htmx_filter_by_kind_and_channel(jane: Customer, client_as: Callable[[str], Client]) -> None:
    agent = client_as("agent")
    response = agent.get(
        f"/customers/{jane.pk}/timeline/",
        {"kind": "note.added", "channel": "phone"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    expected = sum(1 for n in range(60) if n % 2 and not n % 3)
    assert body.count('data-kind="note.added"') == expected
    assert 'data-kind="visit.logged"' not in body and 'data-channel="email"' not in body


def test_show_older_walks_the_whole_timeline_once(jane: Customer, client_as: Callable[[str], Client]) -> None:
    agent = client_as("agent")
    first = agent.get(f"/customers/{jane.pk}/timeline/").content.decode()
    cursor = first.split("cursor=")[1].split('"')[0].split("&")[0]
    rest = agent.get(f"/customers/{jane.pk}/timeline/", {"cursor": cursor}).content.decode()
    total = first.count('class="event"') + rest.count('class="event"')
    assert total == 61  # 60 recorded + customer.created
    assert "Show older" not in rest
    assert agent.get(f"/customers/{jane.pk}/timeline/", {"cursor": "garbage!"}).status_code == 400


def test_technician_sees_the_customer_but_not_the_timeline(
    jane: Customer, client_as: Callable[[str], Client]
) -> None:
    technician = client_as("technician")
    page = technician.get(f"/customers/{jane.pk}/")
    assert page.status_code == 200 and b'id="timeline"' not in page.content
    assert technician.get(f"/customers/{jane.pk}/timeline/").status_code == 403


def test_staff_without_a_role_is_denied(jane: Customer, django_user_model: type) -> None:
    nobody = django_user_model.objects.create_user("nobody", password="x", is_staff=True)
    client = Client()
    client.force_login(nobody)
    assert client.get("/customers/").status_code == 403
    assert client.get(f"/customers/{jane.pk}/").status_code == 403


def test_merge_from_page_needs_manager(jane: Customer, client_as: Callable[[str], Client]) -> None:
    dup = create_customer(name="J Doe")
    assert client_as("agent").post(f"/customers/{jane.pk}/merge/", {"other": dup.pk}).status_code == 403
    assert b"Merge a duplicate" not in client_as("dispatcher").get(f"/customers/{jane.pk}/").content

    manager = client_as("manager")
    response = manager.post(f"/customers/{jane.pk}/merge/", {"other": dup.pk}, follow=True)
    assert b"Merged customer" in response.content
    assert AuditLog.objects.filter(action="customer.merged").count() == 1
    # The merged-away number now leads to the survivor.
    assert manager.get(f"/customers/{dup.pk}/")["Location"] == f"/customers/{jane.pk}/"

    bad = manager.post(f"/customers/{jane.pk}/merge/", {"other": "abc"}, follow=True)
    assert b"Enter the number of an existing customer" in bad.content


def test_unknown_customer_is_404(client_as: Callable[[str], Client]) -> None:
    assert client_as("agent").get("/customers/999999/").status_code == 404


def test_login_page_and_sign_in(make_staff: Callable[[str], object]) -> None:
    make_staff("agent")
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    bad = client.post("/accounts/login/", {"username": "agent-user", "password": "wrong"})
    assert b"did not match" in bad.content
    good = client.post("/accounts/login/", {"username": "agent-user", "password": "correct-horse-battery"})
    assert good.status_code == 302 and good["Location"] == "/customers/"


def test_pages_do_not_query_per_row(
    jane: Customer, client_as: Callable[[str], Client], django_assert_max_num_queries: Callable[[int], Any]
) -> None:
    """Query counts stay flat however many customers and events there are (no N+1)."""
    for n in range(30):
        create_customer(name=f"Customer {n}", identities=[("email", f"c{n}@example.com")], tags=["vip"])
    agent = client_as("agent")
    with django_assert_max_num_queries(8):
        agent.get("/customers/")
    # The page includes the journeys' "scheduled next" section, which reads enrollments and tasks.
    with django_assert_max_num_queries(14):
        agent.get(f"/customers/{jane.pk}/")
    with django_assert_max_num_queries(8):
        agent.get(f"/customers/{jane.pk}/timeline/", {"kind": "note.added"})


def test_create_and_edit_from_pages(client_as: Callable[[str], Client]) -> None:
    agent = client_as("agent")
    assert agent.get("/customers/new/").status_code == 200
    bad = agent.post("/customers/new/", {"name": "Jane", "kind": "person", "language": "en", "phone": "12"})
    assert bad.status_code == 200 and b"not a valid phone number" in bad.content
    assert not Customer.objects.exists()

    created = agent.post(
        "/customers/new/",
        {
            "name": "Jane",
            "kind": "person",
            "language": "en",
            "email": "Jane@Example.com",
            "tags": "vip, plan",
        },
    )
    jane = Customer.objects.get()
    assert created["Location"] == f"/customers/{jane.pk}/"
    assert list(jane.identities.values_list("value", flat=True)) == ["jane@example.com"]

    edited = agent.post(
        f"/customers/{jane.pk}/edit/",
        {"name": "Jane Smith", "kind": "person", "language": "es", "phone": "312 555 2368", "tags": "vip"},
    )
    assert edited.status_code == 302
    jane.refresh_from_db()
    assert (jane.name, jane.language) == ("Jane Smith", "es")
    assert jane.identities.count() == 2 and list(jane.tags.values_list("name", flat=True)) == ["vip"]

    no_reason = agent.post(f"/customers/{jane.pk}/lifecycle/", {"lifecycle": "lost"}, follow=True)
    assert b"say why the customer was lost" in no_reason.content
    agent.post(f"/customers/{jane.pk}/lifecycle/", {"lifecycle": "lost", "reason": "price"})
    jane.refresh_from_db()
    assert (jane.lifecycle, jane.lost_reason) == ("lost", "price")


def test_dispatcher_cannot_create_or_edit(client_as: Callable[[str], Client]) -> None:
    jane = create_customer(name="Jane")
    dispatcher = client_as("dispatcher")
    assert dispatcher.get("/customers/new/").status_code == 403
    assert dispatcher.post(f"/customers/{jane.pk}/edit/", {"name": "X", "kind": "person"}).status_code == 403
    assert (
        dispatcher.post(f"/customers/{jane.pk}/lifecycle/", {"lifecycle": "lost", "reason": "x"}).status_code
        == 403
    )
    jane.refresh_from_db()
    assert (jane.name, jane.lifecycle) == ("Jane", "prospect")
