"""The customers API: CRUD, identities, timeline paging, errors that name the field, and role denials."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client, override_settings

from tenure.core.models import Event
from tenure.core.services import record_event
from tenure.customers.models import Customer
from tenure.customers.services import create_customer

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, token: str | None) -> None:
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {token}") if token else Client()

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        send = getattr(self.client, method)
        if body is None:
            return send(f"/api/v1{path}", params)
        return send(f"/api/v1{path}", json.dumps(body), content_type="application/json")


@pytest.fixture
def api_as(token_for: Callable[[str], str]) -> Callable[[str], Api]:
    return lambda role: Api(token_for(role))


def fields_in(response: Any) -> set[str]:
    return {error["field"] for error in response.json()["errors"]}


def test_openapi_document_is_served() -> None:
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/customers/{customer_id}/timeline" in response.json()["paths"]


def test_crud_round_trip(api_as: Callable[[str], Api]) -> None:
    agent = api_as("agent")
    created = agent.call(
        "post",
        "/customers",
        {
            "name": "Jane Doe",
            "identities": [{"channel": "email", "value": "Jane@Example.com"}],
            "tags": ["vip"],
            "quiet_hours_start": "21:00",
            "quiet_hours_end": "08:00",
            "opted_out_purposes": ["marketing"],
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["identities"][0]["value"] == "jane@example.com" and body["tags"] == ["vip"]
    customer_id = body["id"]

    patched = agent.call(
        "patch", f"/customers/{customer_id}", {"name": "Jane Smith", "tags": ["vip", "commercial"]}
    )
    assert patched.status_code == 200 and patched.json()["name"] == "Jane Smith"
    assert sorted(patched.json()["tags"]) == ["commercial", "vip"]

    added = agent.call(
        "post", f"/customers/{customer_id}/identities", {"channel": "phone", "value": "312 555 2368"}
    )
    assert added.status_code == 201 and added.json()["value"] == "+13125552368"
    assert len(agent.call("get", f"/customers/{customer_id}/identities").json()) == 2
    removed = agent.call("delete", f"/customers/{customer_id}/identities/{added.json()['id']}")
    assert removed.status_code == 204

    lost = agent.call(
        "post", f"/customers/{customer_id}/lifecycle", {"lifecycle": "lost", "reason": "moved away"}
    )
    assert lost.json()["lifecycle"] == "lost" and lost.json()["lost_reason"] == "moved away"

    listing = agent.call("get", "/customers", q="smith")
    assert [item["id"] for item in listing.json()["items"]] == [customer_id]


def test_list_pages_by_cursor(api_as: Callable[[str], Api]) -> None:
    for n in range(7):
        create_customer(name=f"Customer {n}")
    agent = api_as("agent")
    seen: list[int] = []
    after = None
    while True:
        params = {"limit": 3} | ({"after": after} if after else {})
        page = agent.call("get", "/customers", **params).json()
        seen += [item["id"] for item in page["items"]]
        after = page["next_cursor"]
        if after is None:
            break
    assert seen == sorted(Customer.objects.values_list("pk", flat=True))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x", "kind": "alien"}, "kind"),
        ({"name": "x", "identities": [{"channel": "phone", "value": "12"}]}, "identities.0.value"),
        ({"name": "x", "identities": [{"channel": "fax", "value": "12"}]}, "identities.0.channel"),
        ({"name": "x", "opted_out_purposes": ["spam"]}, "opted_out_purposes.0"),
        ({"name": "x", "quiet_hours_start": "25:99"}, "quiet_hours_start"),
        ({"name": "x" * 201}, "name"),
        ({}, "name"),
    ],
)
def test_errors_are_json_and_name_the_field(
    api_as: Callable[[str], Api], body: dict[str, Any], field: str
) -> None:
    response = api_as("agent").call("post", "/customers", body)
    assert response.status_code == 422, response.content
    assert field in fields_in(response)
    assert not Customer.objects.exists()


def test_malformed_json_body_is_a_clear_error(token_for: Callable[[str], str]) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for('agent')}")
    response = client.post("/api/v1/customers", "{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.json()["errors"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_oversized_body_is_refused(api_as: Callable[[str], Api]) -> None:
    response = api_as("agent").call("post", "/customers", {"name": "x", "address": "y" * 1500})
    assert response.status_code == 413
    assert fields_in(response) == {"body"}
    assert not Customer.objects.exists()


def test_duplicate_identity_names_the_field(api_as: Callable[[str], Api]) -> None:
    create_customer(name="Jane", identities=[("email", "jane@example.com")])
    response = api_as("agent").call(
        "post",
        "/customers",
        {"name": "Other", "identities": [{"channel": "email", "value": "JANE@example.com"}]},
    )
    assert response.status_code == 422 and "identities.0.value" in fields_in(response)
    assert Customer.objects.count() == 1


def test_timeline_cursor_pagination_and_filters(api_as: Callable[[str], Api]) -> None:
    customer = create_customer(name="Jane")
    for n in range(25):
        record_event(customer_id=customer.pk, kind="order.placed" if n % 2 else "sms.sent", channel="sms")
    agent = api_as("agent")
    ids: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        page = agent.call("get", f"/customers/{customer.pk}/timeline", **params).json()
        ids += [event["id"] for event in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert ids == list(
        Event.objects.filter(customer=customer).order_by("-occurred_at", "-id").values_list("pk", flat=True)
    )
    only_orders = agent.call("get", f"/customers/{customer.pk}/timeline", kind="order.placed").json()["items"]
    assert len(only_orders) == 12 and {event["kind"] for event in only_orders} == {"order.placed"}
    bad = agent.call("get", f"/customers/{customer.pk}/timeline", cursor="nope")
    assert bad.status_code == 422 and fields_in(bad) == {"cursor"}
    assert agent.call("get", f"/customers/{customer.pk}/timeline", limit=100000).status_code == 422


def test_single_event_is_idempotent_per_key(api_as: Callable[[str], Api]) -> None:
    customer = create_customer(name="Jane")
    agent = api_as("agent")
    event = {"kind": "call.logged", "channel": "phone", "idempotency_key": "pbx-1", "source": "pbx"}
    first = agent.call("post", f"/customers/{customer.pk}/events", event)
    again = agent.call("post", f"/customers/{customer.pk}/events", event)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    bad = agent.call("post", f"/customers/{customer.pk}/events", {"kind": "Not A Kind"})
    assert bad.status_code == 422 and fields_in(bad) == {"kind"}


def test_missing_invalid_and_revoked_tokens_are_401() -> None:
    assert Api(None).call("get", "/customers").status_code == 401
    response = Api("tnr_not-a-real-token").call("get", "/customers")
    assert response.status_code == 401 and fields_in(response) == {"Authorization"}


@pytest.mark.parametrize(
    ("role", "method", "path", "body", "allowed"),
    [
        ("technician", "get", "/customers", None, True),
        ("technician", "get", "/customers/{id}/timeline", None, False),
        ("technician", "post", "/customers", {"name": "x"}, False),
        ("dispatcher", "get", "/customers/{id}/timeline", None, True),
        ("dispatcher", "patch", "/customers/{id}", {"name": "y"}, False),
        ("dispatcher", "post", "/customers/{id}/events", {"kind": "x.y"}, False),
        ("agent", "delete", "/customers/{id}", None, False),
        ("agent", "post", "/customers/{id}/merge", {"merge_id": 0}, False),
        ("manager", "delete", "/customers/{id}", None, True),
    ],
)
def test_roles_are_enforced(
    api_as: Callable[[str], Api], role: str, method: str, path: str, body: Any, allowed: bool
) -> None:
    customer = create_customer(name="Jane")
    response = api_as(role).call(method, path.replace("{id}", str(customer.pk)), body)
    if allowed:
        assert response.status_code < 300, response.content
    else:
        assert response.status_code == 403
        assert Customer.objects.filter(pk=customer.pk, name="Jane").exists()


def test_merge_over_api(api_as: Callable[[str], Api]) -> None:
    keep = create_customer(name="Jane", identities=[("email", "jane@example.com")])
    dup = create_customer(name="J", identities=[("phone", "312 555 2368")])
    manager = api_as("manager")
    merged = manager.call("post", f"/customers/{keep.pk}/merge", {"merge_id": dup.pk})
    assert merged.status_code == 200 and len(merged.json()["identities"]) == 2
    assert manager.call("get", f"/customers/{dup.pk}").json()["id"] == keep.pk
    missing = manager.call("post", f"/customers/{keep.pk}/merge", {"merge_id": 999999})
    assert missing.status_code == 422 and fields_in(missing) == {"merge_id"}
