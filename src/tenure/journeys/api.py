"""Journeys over the JSON API: list, read and save documents, enroll, results, a customer's schedule, tasks."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError

from tenure.core.access import require_perms
from tenure.customers import selectors as customer_selectors
from tenure.customers.models import Customer
from tenure.journeys import selectors, services
from tenure.journeys.actors import acting_user
from tenure.journeys.documents import journey_to_document
from tenure.journeys.models import Journey, Task
from tenure.journeys.reporting import journey_report

router = Router(tags=["journeys"])


class JourneyRowOut(Schema):
    key: str
    name: str
    active: bool
    trigger: str
    enrolled: int
    active_enrollments: int
    failed: int


class EnrollIn(Schema):
    customer_id: int


class EnrollmentOut(Schema):
    id: int
    journey: str
    customer_id: int
    state: str
    holdout: bool
    next_step_at: dt.datetime | None


class UpcomingOut(Schema):
    journey: str
    at: dt.datetime
    step: str
    holdout: bool


class TaskOut(Schema):
    id: int
    customer_id: int
    title: str
    owner: str | None
    due_at: dt.datetime
    done_at: dt.datetime | None


def _journey(key: str) -> Journey:
    journey = selectors.journey_by_key(key)
    if journey is None:
        raise HttpError(404, f"no journey {key!r}")
    return journey


def _customer(customer_id: int) -> Customer:
    try:
        return customer_selectors.customer_by_id(customer_id)
    except Customer.DoesNotExist:
        raise HttpError(404, f"no customer {customer_id}") from None


def _task_out(task: Task) -> TaskOut:
    owner = task.owner.get_username() if task.owner else None
    return TaskOut(
        id=task.pk,
        customer_id=task.customer_id,
        title=task.title,
        owner=owner,
        due_at=task.due_at,
        done_at=task.done_at,
    )


@router.get("/journeys", response=list[JourneyRowOut])
def list_journeys(request: HttpRequest) -> list[JourneyRowOut]:
    require_perms(request, "journeys.view_journey")
    return [
        JourneyRowOut(
            key=row.journey.key,
            name=row.journey.name,
            active=row.journey.is_active,
            trigger=row.trigger,
            enrolled=row.enrolled,
            active_enrollments=row.active,
            failed=row.failed,
        )
        for row in selectors.journey_rows()
    ]


@router.get("/journeys/{key}", response=dict[str, Any])
def get_journey(request: HttpRequest, key: str) -> dict[str, Any]:
    require_perms(request, "journeys.view_journey")
    return journey_to_document(_journey(key))


@router.put(
    "/journeys/{key}",
    response=dict[str, Any],
    openapi_extra={
        "requestBody": {
            "description": "the journey document, the same shape as the YAML export",
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": True,
        }
    },
)
def put_journey(request: HttpRequest, key: str) -> dict[str, Any]:
    """Create or replace a journey from its document."""
    require_perms(request, "journeys.change_journey", "journeys.add_journey")
    try:
        document = json.loads(request.body or b"null")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ValidationError({"body": "send the journey as a JSON object"})
    if document.get("key", key) != key:
        raise ValidationError(
            {"key": f"the document's key {document.get('key')!r} differs from the URL's {key!r}"}
        )
    journey = services.save_journey(
        data={**document, "key": key}, by=acting_user(request), journey=selectors.journey_by_key(key)
    )
    return journey_to_document(journey)


@router.get("/journeys/{key}/report", response=dict[str, Any])
def get_report(request: HttpRequest, key: str) -> dict[str, Any]:
    require_perms(request, "journeys.view_journey_report")
    return journey_report(_journey(key)).as_dict()


@router.post("/journeys/{key}/enrollments", response={201: EnrollmentOut, 409: dict[str, Any]})
def post_enrollment(request: HttpRequest, key: str, payload: EnrollIn) -> Status:
    require_perms(request, "journeys.add_enrollment")
    journey, customer = _journey(key), _customer(payload.customer_id)
    with transaction.atomic():
        enrollment = services.enroll_manually(customer=customer, journey=journey, by=acting_user(request))
    if enrollment is None:
        message = f"the re-entry rule ({journey.reentry}) keeps customer {customer.pk} out of {key} right now"
        return Status(409, {"errors": [{"field": "customer_id", "message": message}]})
    return Status(
        201,
        EnrollmentOut(
            id=enrollment.pk,
            journey=journey.key,
            customer_id=customer.pk,
            state=enrollment.state,
            holdout=enrollment.holdout,
            next_step_at=enrollment.next_step_at,
        ),
    )


@router.get("/customers/{customer_id}/journeys", response=list[UpcomingOut])
def customer_schedule(request: HttpRequest, customer_id: int) -> list[UpcomingOut]:
    """What journeys have scheduled next for one customer."""
    require_perms(request, "journeys.view_journey", "customers.view_customer")
    return [UpcomingOut(**item.__dict__) for item in selectors.upcoming_for_customer(_customer(customer_id))]


@router.get("/journey-tasks", response=list[TaskOut])
def list_tasks(request: HttpRequest, mine: bool = False) -> list[TaskOut]:
    require_perms(request, "journeys.view_task")
    tasks = selectors.open_tasks(owner=acting_user(request) if mine else None)[:500]
    return [_task_out(task) for task in tasks]


@router.post("/journey-tasks/{task_id}/done", response=TaskOut)
def post_task_done(request: HttpRequest, task_id: int) -> TaskOut:
    require_perms(request, "journeys.change_task")
    task = Task.objects.filter(pk=task_id).first()
    if task is None:
        raise HttpError(404, f"no task {task_id}")
    return _task_out(services.complete_task(task=task, by=acting_user(request)))
