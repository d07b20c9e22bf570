"""The import/export API: bulk JSON ingest, CSV uploads, streamed exports, and who may use them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from tenure.core.models import Event
from tenure.customers.models import Customer

from .import_helpers import customer

pytestmark = pytest.mark.django_db

BULK = "/api/v1/events/bulk"


def _auth(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _post_json(token: str, url: str, body: dict[str, Any]) -> Any:
    return Client().post(url, data=json.dumps(body), content_type="application/json", **_auth(token))


def _events(count: int, ref: str = "c-1", start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"evt-{number}",
            "customer": ref,
            "kind": "order.placed",
            "occurred_at": "2024-03-01T10:00:00Z",
            "channel": "web",
            "payload": {"n": number},
        }
        for number in range(start, start + count)
    ]


def test_bulk_ingest_of_10000_events_is_idempotent(token_for: Callable[[str], str]) -> None:
    customer("c-1")
    token = token_for("agent")
    body = {"events": _events(10_000), "source": "shop"}

    first = _post_json(token, BULK, body)
    again = _post_json(token, BULK, body)

    assert first.status_code == 200, first.content
    assert (first.json()["created"], first.json()["unchanged"]) == (10_000, 0)
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 10_000)
    assert "0 created" in again.json()["message"]
    assert Event.objects.filter(source="shop").count() == 10_000
    assert Customer.objects.get(external_ref="c-1").last_activity_at is not None


def test_bulk_ingest_refuses_more_than_10000_naming_the_field(token_for: Callable[[str], str]) -> None:
    customer("c-1")

    response = _post_json(token_for("agent"), BULK, {"events": _events(10_001)})

    assert response.status_code == 422
    errors = response.json()["errors"]
    assert errors[0]["field"] == "events"
    assert "10000" in errors[0]["message"]
    assert Event.objects.filter(source="api").count() == 0


def test_bulk_ingest_reports_bad_events_by_index(token_for: Callable[[str], str]) -> None:
    customer("c-1")
    events = _events(3)
    events[1]["kind"] = "Not A Kind"
    events[2]["customer"] = "nobody"

    response = _post_json(token_for("agent"), BULK, {"events": events})

    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 1
    assert [(error["index"], error["field"]) for error in body["errors"]] == [
        (1, "events.1.kind"),
        (2, "events.2.customer"),
    ]

    refused = _post_json(
        token_for("manager"), BULK, {"events": _events(3, start=10) + events[1:], "all_or_nothing": True}
    )
    assert refused.status_code == 422
    assert refused.json()["written"] is False
    assert not Event.objects.filter(idempotency_key="evt-10").exists()


def test_bulk_ingest_schema_errors_name_the_field(token_for: Callable[[str], str]) -> None:
    response = _post_json(
        token_for("agent"), BULK, {"events": [{"customer": "c-1", "occurred_at": "2024-01-01"}]}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "events.0.kind"


@pytest.mark.parametrize("role", ["technician", "dispatcher"])
def test_roles_without_event_permission_get_403(token_for: Callable[[str], str], role: str) -> None:
    customer("c-1")

    response = _post_json(token_for(role), BULK, {"events": _events(1)})

    assert response.status_code == 403
    assert "core.add_event" in response.json()["errors"][0]["message"]
    assert Event.objects.filter(source="api").count() == 0


def test_no_token_gets_401() -> None:
    response = Client().post(BULK, data=json.dumps({"events": []}), content_type="application/json")
    assert response.status_code == 401
    wrong = Client().get("/api/v1/exports/customers", HTTP_AUTHORIZATION="Bearer tnr_not-a-token")
    assert wrong.status_code == 401


def _upload(token: str, url: str, name: str, content: bytes, **params: str) -> Any:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return Client().post(
        f"{url}?{query}" if query else url,
        data={"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        **_auth(token),
    )


def test_csv_upload_of_customers_and_events(token_for: Callable[[str], str]) -> None:
    token = token_for("manager")
    customers = b"external_id,name,email\nc-1,Jane,jane@example.com\nc-2,Bob,bob-at-example\n"

    response = _upload(token, "/api/v1/imports/customers", "customers.csv", customers)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["error_count"], body["written"]) == (1, 1, True)
    assert body["errors"] == [
        {"line": 3, "index": None, "field": "email", "message": body["errors"][0]["message"]}
    ]

    events = b"event_id,customer,kind,occurred_at\ne-1,c-1,order.placed,2024-03-01\ne-2,c-2,order.placed,2024-03-01\n"
    refused = _upload(token, "/api/v1/imports/events", "events.csv", events, all_or_nothing="true")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["line"] == 3
    assert Event.objects.filter(source="import").count() == 0

    accepted = _upload(token, "/api/v1/imports/events", "events.csv", events, source="legacy")
    assert accepted.status_code == 200
    assert Event.objects.filter(source="legacy").count() == 1


def test_csv_upload_with_unknown_column_is_refused_naming_it(token_for: Callable[[str], str]) -> None:
    response = _upload(token_for("manager"), "/api/v1/imports/customers", "c.csv", b"external_id,name,fax\n")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header"
    assert "'fax'" in response.json()["errors"][0]["message"]


def test_csv_upload_needs_the_import_permission(token_for: Callable[[str], str]) -> None:
    response = _upload(
        token_for("agent"), "/api/v1/imports/customers", "c.csv", b"external_id,name\nc-1,Jane\n"
    )

    assert response.status_code == 403
    assert Customer.objects.count() == 0


def test_exports_stream_csv_with_formulas_neutralised(
    token_for: Callable[[str], str], client_as: Callable[[str], Client]
) -> None:
    evil = customer("c-1", name='=HYPERLINK("http://evil.test","click")')
    Event.objects.create(
        customer=evil, kind="note.added", occurred_at="2024-03-01T10:00:00Z", actor="@SUM(A1)"
    )
    token = token_for("manager")

    response = Client().get("/api/v1/exports/customers", **_auth(token))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))  # type: ignore[arg-type]
    assert rows[1][1] == '\'=HYPERLINK("http://evil.test","click")'

    events = Client().get(f"/api/v1/exports/events?customer={evil.pk}", **_auth(token))
    rows = list(csv.reader(io.StringIO(b"".join(events.streaming_content).decode())))  # type: ignore[arg-type]
    assert rows[1][3:7] == ["note.added", "2024-03-01T10:00:00+00:00", "", "'@SUM(A1)"]

    session = client_as("manager").get("/api/v1/exports/events")
    assert session.status_code == 200


@pytest.mark.parametrize(
    ("role", "url"), [("agent", "customers"), ("dispatcher", "events"), ("technician", "customers")]
)
def test_exports_need_their_permission(token_for: Callable[[str], str], role: str, url: str) -> None:
    response = Client().get(f"/api/v1/exports/{url}", **_auth(token_for(role)))
    assert response.status_code == 403


def test_export_of_unknown_customer_names_the_field(token_for: Callable[[str], str]) -> None:
    response = Client().get("/api/v1/exports/events?customer=nobody", **_auth(token_for("manager")))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer"


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_oversized_bulk_body_gets_413(token_for: Callable[[str], str]) -> None:
    customer("c-1")

    response = _post_json(token_for("agent"), BULK, {"events": _events(50)})

    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"
    assert Event.objects.filter(source="api").count() == 0
