"""The shape of a journey's steps, conditions and exits, checked before anything is saved.

Steps (a list; each has a unique `id` and a `type`):
  wait       {"duration": "3d"} and/or {"until": "09:00"} (next such local time in the customer's zone)
  send       {"template": key, "channel": "preferred"|"email"|"sms"|"chat"|"portal"}
  task       {"title": text, "due": "1d", "notes": text}
  branch     {"if": [conditions], "then": step id | "end", "else": step id | "end"}
  set_field  {"field": "context.<name>" | a customer field, "value": ...}
A step goes on to the next in the list; a branch jumps. Any cycle is refused: each step runs once per
enrollment, so a journey that loops back would silently stop instead of doing what it says.

Conditions: {"field": "customer.lifecycle" | "event.<key>" | "context.<key>" | "fact.<key>" | "risk", "op": ...,
"value": ...}; all must hold. {"any": [conditions]} holds when one of them does.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError

STEP_TYPES = ("wait", "send", "task", "branch", "set_field")
CHANNELS = ("preferred", "email", "sms", "chat", "portal")
OPERATORS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "missing", "has_tag")
FIELD_ROOTS = ("customer", "event", "context", "fact", "risk")
CUSTOMER_FIELDS = (
    "kind",
    "name",
    "lifecycle",
    "language",
    "preferred_channel",
    "time_zone",
    "created_at",
    "last_activity_at",
    "assigned_rep_id",
)
SETTABLE_CUSTOMER_FIELDS = ("preferred_channel", "language", "time_zone")
END = "end"
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_duration(text: str) -> dt.timedelta:
    match = DURATION.match(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration: use a number and m, h, d or w, e.g. '3d'")
    return dt.timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_clock(text: str) -> dt.time:
    match = CLOCK.match(str(text).strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day: use HH:MM, e.g. '09:00'")
    return dt.time(int(match.group(1)), int(match.group(2)))


class Errors:
    """Collects every problem in a document so the editor sees them all at once."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.by_field.setdefault(field, []).append(message)

    def raise_if_any(self) -> None:
        if self.by_field:
            raise ValidationError(self.by_field)


def check_conditions(conditions: Any, where: str, errors: Errors) -> None:
    if not isinstance(conditions, list):
        errors.add(where, "give a list of conditions")
        return
    for index, condition in enumerate(conditions):
        at = f"{where}.{index}"
        if not isinstance(condition, dict):
            errors.add(at, "a condition is a mapping with field, op and value (or any: [conditions])")
            continue
        if "any" in condition:
            check_conditions(condition["any"], f"{at}.any", errors)
            continue
        field = condition.get("field")
        if not isinstance(field, str) or not field:
            errors.add(f"{at}.field", "missing field")
        else:
            root, _, rest = field.partition(".")
            if root not in FIELD_ROOTS or (root != "risk" and not rest):
                errors.add(f"{at}.field", f"{field!r}: start with one of {', '.join(FIELD_ROOTS)}")
            elif root == "customer" and rest not in CUSTOMER_FIELDS and rest != "tags":
                errors.add(f"{at}.field", f"customer has no field {rest!r}")
        op = condition.get("op", "eq")
        if op not in OPERATORS:
            errors.add(f"{at}.op", f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
        elif op not in ("exists", "missing") and "value" not in condition:
            errors.add(f"{at}.value", "missing value")
        elif op in ("in", "not_in") and not isinstance(condition.get("value"), list):
            errors.add(f"{at}.value", f"{op} needs a list")


def _check_step(step: Any, at: str, errors: Errors) -> None:
    kind = step.get("type")
    if kind == "wait":
        if "duration" not in step and "until" not in step:
            errors.add(at, "a wait needs a duration, an until time, or both")
        if "duration" in step:
            try:
                parse_duration(step["duration"])
            except ValueError as error:
                errors.add(f"{at}.duration", str(error))
        if "until" in step:
            try:
                parse_clock(step["until"])
            except ValueError as error:
                errors.add(f"{at}.until", str(error))
    elif kind == "send":
        if not isinstance(step.get("template"), str) or not step.get("template"):
            errors.add(f"{at}.template", "missing template")
        if step.get("channel", "preferred") not in CHANNELS:
            errors.add(
                f"{at}.channel", f"unknown channel {step.get('channel')!r}; use one of {', '.join(CHANNELS)}"
            )
    elif kind == "task":
        if not isinstance(step.get("title"), str) or not step.get("title", "").strip():
            errors.add(f"{at}.title", "missing title")
        try:
            parse_duration(step.get("due", "0d"))
        except ValueError as error:
            errors.add(f"{at}.due", str(error))
    elif kind == "branch":
        check_conditions(step.get("if"), f"{at}.if", errors)
        for arm in ("then", "else"):
            if not isinstance(step.get(arm), str):
                errors.add(f"{at}.{arm}", f"missing {arm}: a step id or 'end'")
    elif kind == "set_field":
        field = step.get("field")
        if not isinstance(field, str) or not field:
            errors.add(f"{at}.field", "missing field")
        elif not (field.startswith("context.") or field in SETTABLE_CUSTOMER_FIELDS):
            allowed = ", ".join(("context.<name>", *SETTABLE_CUSTOMER_FIELDS))
            errors.add(f"{at}.field", f"cannot set {field!r}; use one of {allowed}")
        if "value" not in step:
            errors.add(f"{at}.value", "missing value")
    else:
        errors.add(f"{at}.type", f"unknown step type {kind!r}; use one of {', '.join(STEP_TYPES)}")


def successors(steps: list[dict[str, Any]], index: int) -> list[str]:
    """Ids (or 'end') a step can go on to."""
    step = steps[index]
    if step.get("type") == "branch":
        return [str(step.get("then")), str(step.get("else"))]
    return [steps[index + 1]["id"] if index + 1 < len(steps) else END]


def _find_loop(steps: list[dict[str, Any]]) -> list[str] | None:
    position = {step["id"]: index for index, step in enumerate(steps)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(step_id: str, path: list[str]) -> list[str] | None:
        if step_id == END or state.get(step_id) == 2:
            return None
        if state.get(step_id) == 1:
            return [*path[path.index(step_id) :], step_id]
        state[step_id] = 1
        for following in successors(steps, position[step_id]):
            if (loop := visit(following, [*path, step_id])) is not None:
                return loop
        state[step_id] = 2
        return None

    for step in steps:
        if (loop := visit(step["id"], [])) is not None:
            return loop
    return None


def check_steps(steps: Any, errors: Errors) -> None:
    if not isinstance(steps, list) or not steps:
        errors.add("steps", "a journey needs a list of at least one step")
        return
    seen: set[str] = set()
    for index, step in enumerate(steps):
        at = f"steps.{index}"
        if not isinstance(step, dict):
            errors.add(at, "a step is a mapping with an id and a type")
            continue
        step_id = step.get("id")
        if not isinstance(step_id, str) or not STEP_ID.match(step_id) or step_id == END:
            errors.add(f"{at}.id", "missing or bad id: lower-case letters, digits, - and _ (not 'end')")
        elif step_id in seen:
            errors.add(f"{at}.id", f"the id {step_id!r} is used twice")
        else:
            seen.add(step_id)
        _check_step(step, at, errors)
    if errors.by_field:
        return
    for index, step in enumerate(steps):
        if step["type"] == "branch":
            for arm in ("then", "else"):
                if step[arm] != END and step[arm] not in seen:
                    errors.add(f"steps.{index}.{arm}", f"no step with id {step[arm]!r}")
    if errors.by_field:
        return
    if (loop := _find_loop(steps)) is not None:
        errors.add("steps", f"the journey would loop: {' -> '.join(loop)}")


def check_exits(exits: Any, errors: Errors) -> None:
    if not isinstance(exits, list):
        errors.add("exit_on", "give a list of {kind, match}")
        return
    for index, item in enumerate(exits):
        if not isinstance(item, dict) or not isinstance(item.get("kind"), str) or not item["kind"]:
            errors.add(f"exit_on.{index}.kind", "missing kind (an event kind such as 'message.received')")
        elif "match" in item and not isinstance(item["match"], str):
            errors.add(
                f"exit_on.{index}.match", "match names one key of the enrollment's event, e.g. 'order'"
            )


def template_keys(steps: list[dict[str, Any]]) -> list[str]:
    return sorted({step["template"] for step in steps if step.get("type") == "send"})
