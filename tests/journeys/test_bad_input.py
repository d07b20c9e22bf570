"""Bad input: clear errors at save time, failed steps with reasons at run time, nothing half-sent or resent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tenure.core.outbox_models import OutboundMessage
from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.journeys.models import Enrollment, Journey, MessageTemplate, StepRun
from tenure.journeys.runner import run_due
from tenure.journeys.services import enroll, import_yaml, save_journey, save_template

pytestmark = pytest.mark.django_db


def errors_of(call: Callable[[], Any]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


def journey(**overrides: Any) -> dict[str, Any]:
    return {
        "key": "j",
        "name": "J",
        "trigger": {"event": "order.placed"},
        "steps": [{"id": "a", "type": "send", "template": "check-in"}],
        **overrides,
    }


def test_an_unknown_step_type_names_the_step() -> None:
    errors = errors_of(lambda: save_journey(data=journey(steps=[{"id": "a", "type": "teleport"}])))
    assert errors == {
        "steps.0.type": ["unknown step type 'teleport'; use one of wait, send, task, branch, set_field"]
    }


def test_missing_fields_are_named() -> None:
    errors = errors_of(
        lambda: save_journey(data={"key": "j", "steps": [{"type": "send"}, {"id": "w", "type": "wait"}]})
    )
    assert errors["name"] == ["missing name"]
    assert "trigger" in errors
    assert "steps.0.id" in errors and errors["steps.0.template"] == ["missing template"]
    assert errors["steps.1"] == ["a wait needs a duration, an until time, or both"]


def test_a_journey_that_would_loop_is_refused() -> None:
    steps = [
        {"id": "ask", "type": "send", "template": "check-in"},
        {"id": "pause", "type": "wait", "duration": "1d"},
        {
            "id": "again",
            "type": "branch",
            "if": [{"field": "customer.lifecycle", "op": "eq", "value": "active"}],
            "then": "ask",
            "else": "end",
        },
    ]
    errors = errors_of(lambda: save_journey(data=journey(steps=steps)))
    assert errors == {"steps": ["the journey would loop: ask -> pause -> again -> ask"]}


def test_a_branch_to_nowhere_and_a_bad_duration() -> None:
    steps = [
        {
            "id": "b",
            "type": "branch",
            "if": [{"field": "event.total", "op": "bigger", "value": 1}],
            "then": "zzz",
            "else": "end",
        },
        {"id": "w", "type": "wait", "duration": "soon"},
    ]
    errors = errors_of(lambda: save_journey(data=journey(steps=steps)))
    assert "unknown operator 'bigger'" in errors["steps.0.if.0.op"][0]
    assert "'soon' is not a duration" in errors["steps.1.duration"][0]


def test_a_send_step_needs_an_existing_template() -> None:
    errors = errors_of(
        lambda: save_journey(data=journey(steps=[{"id": "a", "type": "send", "template": "nope"}]))
    )
    assert errors == {"steps.0.template": ["no message template 'nope'"]}


def test_a_template_naming_a_missing_field_is_refused_at_save_time() -> None:
    errors = errors_of(
        lambda: save_template(data={"key": "t", "language": "en", "body": "Hi {{ customer.nickname }}"})
    )
    assert errors == {
        "body": ["customer has no field 'nickname'; use first_name, id, kind, language, lifecycle, name, rep"]
    }
    errors = errors_of(lambda: save_template(data={"key": "t", "language": "en", "body": "{{ secret_key }}"}))
    assert "unknown variable 'secret_key'" in errors["body"][0]
    errors = errors_of(
        lambda: save_template(
            data={"key": "t", "language": "en", "body": "{% load static %}{% static 'x' %}"}
        )
    )
    assert errors == {"body": ["the tag {% load %} is not allowed in a message template"]}
    errors = errors_of(lambda: save_template(data={"key": "t", "language": "en", "body": "{% if %}"}))
    assert errors["body"][0].startswith("template error:")
    assert not MessageTemplate.objects.filter(key="t").exists()


def test_a_field_the_event_lacks_fails_the_step_and_sends_nothing(customer: Customer) -> None:
    save_template(
        data={
            "key": "needs-total",
            "language": "en",
            "subject": "Order {{ order.order }}",
            "body": "Total: {{ order.total }}",
        }
    )
    target = save_journey(
        data=journey(
            key="totals", holdout_percent=0, steps=[{"id": "a", "type": "send", "template": "needs-total"}]
        )
    )
    enrollment = enroll(
        journey=target,
        customer=customer,
        trigger_key="x",
        context={"event": {"order": "A1"}, "event_kind": "order.placed"},
    )
    assert enrollment is not None
    run_due(timezone.now())
    enrollment.refresh_from_db()
    assert enrollment.state == "failed"
    assert enrollment.reason == (
        "step a: template needs-total (en): the template needs 'order.total', which this customer/event does not have"
    )
    assert not OutboundMessage.objects.filter(template__startswith="needs-total").exists()
    assert StepRun.objects.get(enrollment=enrollment).status == "failed"


def test_a_customer_with_no_reachable_channel_fails_the_step_with_the_reason(
    hello_template: MessageTemplate, make_journey: Callable[..., Journey]
) -> None:
    nobody = create_customer(name="No Address")
    target = make_journey()
    enrollment = enroll(journey=target, customer=nobody, trigger_key="x")
    assert enrollment is not None
    run_due(timezone.now())
    enrollment.refresh_from_db()
    assert enrollment.state == "failed"
    assert "no reachable channel" in enrollment.reason
    assert not OutboundMessage.objects.filter(customer=nobody).exists()


def test_a_yaml_file_with_an_unknown_step_imports_nothing() -> None:
    text = """
templates:
  - {key: fresh, language: en, body: "Hello {{ customer.first_name }}"}
journeys:
  - key: good
    name: Good
    trigger: {manual: true}
    steps: [{id: a, type: send, template: fresh}]
  - key: bad
    name: Bad
    trigger: {manual: true}
    steps: [{id: a, type: fax, template: fresh}]
"""
    errors = errors_of(lambda: import_yaml(text))
    assert list(errors) == ["journeys.1.steps.0.type"]
    assert not Journey.objects.filter(key__in=["good", "bad"]).exists()
    assert not MessageTemplate.objects.filter(key="fresh").exists()


def test_broken_yaml_says_where() -> None:
    errors = errors_of(lambda: import_yaml("journeys:\n  - key: [unclosed\n"))
    assert errors["document"][0].startswith("not valid YAML at line")


def test_yaml_is_loaded_safely() -> None:
    errors = errors_of(lambda: import_yaml("!!python/object/apply:os.system ['true']"))
    assert "not valid YAML" in errors["document"][0]


def test_nothing_already_sent_is_sent_again(
    customer: Customer, hello_template: MessageTemplate, make_journey: Callable[..., Journey]
) -> None:
    """Re-running a step (a restored backup, an edited journey) finds the outbox row by its key and sends nothing new."""
    target = make_journey(steps=[{"id": "hi", "type": "send", "template": "hello"}])
    enrollment = enroll(journey=target, customer=customer, trigger_key="x")
    assert enrollment is not None
    run_due(timezone.now())
    StepRun.objects.filter(enrollment=enrollment).delete()
    Enrollment.objects.filter(pk=enrollment.pk).update(
        state="active", position=0, next_step_at=timezone.now()
    )
    run_due(timezone.now())
    assert OutboundMessage.objects.filter(idempotency_key=f"journey:{enrollment.pk}:hi").count() == 1
