"""Journeys as documents: the one shape used by YAML export/import, the editor and the built-ins.

A document is a mapping with any of `process_types`, `templates` and `journeys` (lists). Every item
is validated before anything is written, and a file is imported all or nothing.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

import yaml
from django.core.exceptions import ValidationError

from tenure.core.outbox_models import TRANSACTIONAL
from tenure.core.services import validate_event_kind
from tenure.customers.models import IdentityChannel, Purpose
from tenure.journeys.definition import (
    Errors,
    check_conditions,
    check_exits,
    check_steps,
    template_keys,
)
from tenure.journeys.facts import FACT_KINDS
from tenure.journeys.models import Journey, MessageTemplate, Reentry
from tenure.journeys.rendering import check_template

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
JOURNEY_FIELDS = {
    "key", "name", "description", "active", "purpose", "trigger", "conditions", "exit_on", "reentry",
    "holdout_percent", "steps",
}  # fmt: skip
PURPOSES = (TRANSACTIONAL, *Purpose.values)
# Journey pages live at /journeys/<key>/; these paths are taken by other pages.
RESERVED_KEYS = frozenset({"new", "validate", "import", "tasks", "templates", "export-yaml"})


def journey_to_document(journey: Journey) -> dict[str, Any]:
    trigger: dict[str, Any]
    if journey.trigger == "event":
        trigger = {"event": journey.trigger_kind}
    elif journey.trigger == "date":
        trigger = {"date": journey.trigger_kind, "offset_days": journey.trigger_offset_days}
    else:
        trigger = {"manual": True}
    return {
        "key": journey.key,
        "name": journey.name,
        "description": journey.description,
        "active": journey.is_active,
        "purpose": journey.purpose,
        "trigger": trigger,
        "conditions": journey.conditions,
        "exit_on": journey.exit_on,
        "reentry": journey.reentry,
        "holdout_percent": journey.holdout_percent,
        "steps": journey.steps,
    }


def template_to_document(template: MessageTemplate) -> dict[str, Any]:
    return {
        "key": template.key,
        "language": template.language,
        "subject": template.subject,
        "body": template.body,
    }


def export_document(journeys: list[Journey]) -> dict[str, Any]:
    keys = sorted({key for journey in journeys for key in template_keys(journey.steps)})
    return {
        "journeys": [journey_to_document(journey) for journey in journeys],
        "templates": [template_to_document(t) for t in MessageTemplate.objects.filter(key__in=keys)],
    }


def dump_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=100)


def _prefixed(error: ValidationError, prefix: str) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {f"{prefix}.{field}" if prefix else field: msgs for field, msgs in error.message_dict.items()}
    return {prefix or "document": list(error.messages)}


def clean_template(data: Any, at: str = "") -> dict[str, Any]:
    errors = Errors()
    if not isinstance(data, Mapping):
        raise ValidationError({at or "template": "a template is a mapping with key, language, subject, body"})
    key, language = data.get("key"), data.get("language", "en")
    if not isinstance(key, str) or not KEY.match(key):
        errors.add("key", "missing or bad key: lower-case letters, digits, - and _")
    if not isinstance(language, str) or not re.match(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$", language):
        errors.add("language", "a language code such as 'en' or 'pt-BR'")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip():
        errors.add("body", "missing body")
    for field in ("subject", "body"):
        value = data.get(field, "")
        if isinstance(value, str) and value.strip():
            try:
                check_template(value, field)
            except ValidationError as error:
                for name, messages in error.message_dict.items():
                    for message in messages:
                        errors.add(name, message)
    try:
        errors.raise_if_any()
    except ValidationError as error:
        raise ValidationError(_prefixed(error, at)) from None
    return {"key": key, "language": language, "subject": str(data.get("subject", "")), "body": body}


def _clean_trigger(trigger: Any, errors: Errors) -> dict[str, Any]:
    if not isinstance(trigger, Mapping) or len({"event", "date", "manual"} & set(trigger)) != 1:
        errors.add(
            "trigger", "give exactly one of event: <kind>, date: <fact kind> (with offset_days), manual: true"
        )
        return {}
    if "event" in trigger:
        try:
            validate_event_kind(str(trigger["event"]))
        except ValidationError as error:
            errors.add("trigger.event", " ".join(error.messages))
        return {"trigger": "event", "trigger_kind": str(trigger["event"]), "trigger_offset_days": 0}
    if "date" in trigger:
        if trigger["date"] not in FACT_KINDS:
            errors.add(
                "trigger.date", f"unknown date {trigger['date']!r}; use one of {', '.join(FACT_KINDS)}"
            )
        offset = trigger.get("offset_days", 0)
        if not isinstance(offset, int) or abs(offset) > 3660:
            errors.add("trigger.offset_days", "a whole number of days (negative = before the date)")
            offset = 0
        return {"trigger": "date", "trigger_kind": str(trigger["date"]), "trigger_offset_days": offset}
    return {"trigger": "manual", "trigger_kind": "", "trigger_offset_days": 0}


def _check_set_values(steps: list[dict[str, Any]], errors: Errors) -> None:
    for index, step in enumerate(steps):
        if step.get("type") != "set_field":
            continue
        field, value = step.get("field"), step.get("value")
        if field == "preferred_channel" and value not in ("", *IdentityChannel.values):
            errors.add(
                f"steps.{index}.value", f"preferred_channel is one of {', '.join(IdentityChannel.values)}"
            )
        if field == "time_zone":
            try:
                zoneinfo.ZoneInfo(str(value))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                errors.add(f"steps.{index}.value", f"{value!r} is not a time zone")


def clean_journey(data: Any, known_templates: set[str], at: str = "") -> dict[str, Any]:
    """Model fields for a journey document, or ValidationError naming every bad field."""
    if not isinstance(data, Mapping):
        raise ValidationError({at or "journey": "a journey is a mapping (key, name, trigger, steps, ...)"})
    errors = Errors()
    for unknown in sorted(set(data) - JOURNEY_FIELDS):
        errors.add(str(unknown), f"unknown field; use {', '.join(sorted(JOURNEY_FIELDS))}")
    key, name = data.get("key"), data.get("name")
    if not isinstance(key, str) or not KEY.match(key):
        errors.add("key", "missing or bad key: lower-case letters, digits, - and _")
    elif key in RESERVED_KEYS:
        errors.add("key", f"{key!r} is reserved; choose another key")
    if not isinstance(name, str) or not name.strip():
        errors.add("name", "missing name")
    purpose = data.get("purpose", "service_updates")
    if purpose not in PURPOSES:
        errors.add("purpose", f"{purpose!r} is not one of {', '.join(PURPOSES)}")
    reentry = data.get("reentry", Reentry.AFTER_FINISH)
    if reentry not in Reentry.values:
        errors.add("reentry", f"{reentry!r} is not one of {', '.join(Reentry.values)}")
    holdout = data.get("holdout_percent", 10)
    if not isinstance(holdout, int) or isinstance(holdout, bool) or not 0 <= holdout <= 50:
        errors.add("holdout_percent", "a whole number from 0 to 50")
    trigger = _clean_trigger(data.get("trigger"), errors)
    check_conditions(data.get("conditions", []), "conditions", errors)
    check_exits(data.get("exit_on", []), errors)
    steps = data.get("steps")
    check_steps(steps, errors)
    if isinstance(steps, list) and not errors.by_field:
        for index, step in enumerate(steps):
            if step["type"] == "send" and step["template"] not in known_templates:
                errors.add(f"steps.{index}.template", f"no message template {step['template']!r}")
        _check_set_values(steps, errors)
    try:
        errors.raise_if_any()
    except ValidationError as error:
        raise ValidationError(_prefixed(error, at)) from None
    return {
        "key": key,
        "name": str(name).strip(),
        "description": str(data.get("description", "")),
        "is_active": bool(data.get("active", True)),
        "purpose": purpose,
        "conditions": data.get("conditions", []),
        "exit_on": data.get("exit_on", []),
        "reentry": reentry,
        "holdout_percent": holdout,
        "steps": steps,
        **trigger,
    }


def clean_process_type(data: Any, at: str) -> dict[str, Any]:
    errors = Errors()
    if not isinstance(data, Mapping):
        raise ValidationError({at: "a process type is a mapping with key, name, stages"})
    if not isinstance(data.get("key"), str) or not KEY.match(data["key"]):
        errors.add(f"{at}.key", "missing or bad key")
    stages = data.get("stages")
    if not isinstance(stages, list) or not stages:
        errors.add(f"{at}.stages", "a list of stages ({key, label, days})")
    else:
        for index, stage in enumerate(stages):
            if (
                not isinstance(stage, Mapping)
                or not isinstance(stage.get("key"), str)
                or not stage.get("label")
            ):
                errors.add(f"{at}.stages.{index}", "a stage needs a key and a label")
            elif not isinstance(stage.get("days", 0), int | float):
                errors.add(f"{at}.stages.{index}.days", "expected days as a number")
    errors.raise_if_any()
    assert isinstance(stages, list)
    return {"key": data["key"], "name": str(data.get("name") or data["key"]), "stages": stages}


def parse_yaml(text: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValidationError(
            {"document": f"not valid YAML{where}: {getattr(error, 'problem', error)}"}
        ) from None
    if isinstance(document, Mapping) and "steps" in document:
        document = {"journeys": [document]}  # a single journey on its own
    if not isinstance(document, Mapping) or not set(document) & {"journeys", "templates", "process_types"}:
        raise ValidationError(
            {"document": "expected a mapping with journeys, templates and/or process_types"}
        )
    unknown = set(document) - {"journeys", "templates", "process_types"}
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "unknown section; use journeys, templates, process_types"})
    for section in ("journeys", "templates", "process_types"):
        if not isinstance(document.get(section, []), list):
            raise ValidationError({section: "expected a list"})
    return dict(document)
