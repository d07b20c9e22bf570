"""Message templates: Django templates limited to safe tags, rendered strictly.

A variable that does not resolve is an error, never a blank in a sent message: at save time the
variables a template names are checked against what a journey's context offers, and at send time
anything that still fails to resolve fails the step with the variable's name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, TokenType, VariableNode
from django.template.defaulttags import ForNode, WithNode

from tenure.customers.models import Customer

ALLOWED_TAGS = frozenset(
    {
        "if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith",
        "comment", "endcomment", "firstof", "now", "spaceless", "endspaceless", "cycle",
        "filter", "endfilter", "autoescape", "endautoescape", "ifchanged", "endifchanged",
    }
)  # fmt: skip
# The names a template can start a variable with; see `template_context`.
ROOTS = frozenset(
    {"customer", "event", "order", "appointment", "process", "fact", "context", "journey", "steps_ahead"}
)
CUSTOMER_KEYS = frozenset({"id", "name", "first_name", "language", "lifecycle", "kind", "rep"})
_MARK = "\x00missing:"
# Plain-text messages: no HTML escaping; anything the customer typed stays as typed.
ENGINE = Engine(autoescape=False, string_if_invalid=_MARK + "%s\x00", builtins=[], libraries={})


class RenderError(Exception):
    """A template that cannot be rendered completely; the message names what is missing."""


def _block_names(source: str) -> list[str]:
    return [
        token.contents.split()[0]
        for token in Lexer(source).tokenize()
        if token.token_type == TokenType.BLOCK and token.contents.strip()
    ]


def compile_template(source: str, field: str = "body") -> Any:
    """Compile, refusing tags outside the safe set; raises ValidationError naming `field`."""
    for name in _block_names(source):
        if name not in ALLOWED_TAGS:
            raise ValidationError({field: f"the tag {{% {name} %}} is not allowed in a message template"})
    try:
        return ENGINE.from_string(source)
    except TemplateSyntaxError as error:
        raise ValidationError({field: f"template error: {error}"}) from None


def check_template(source: str, field: str = "body") -> None:
    """Save-time check: safe tags, valid syntax, and only variables the context can offer."""
    template = compile_template(source, field)
    local: set[str] = set()
    for node in template.nodelist.get_nodes_by_type(ForNode):
        local.update(node.loopvars)
    for node in template.nodelist.get_nodes_by_type(WithNode):
        local.update(node.extra_context)
    for node in template.nodelist.get_nodes_by_type(VariableNode):
        var = node.filter_expression.var
        lookups = getattr(var, "lookups", None)
        if not lookups:
            continue  # a literal
        root = lookups[0]
        if root not in ROOTS and root not in local:
            raise ValidationError(
                {
                    field: f"unknown variable {'.'.join(lookups)!r}; start with one of {', '.join(sorted(ROOTS))}"
                }
            )
        if root == "customer" and len(lookups) > 1 and lookups[1] not in CUSTOMER_KEYS:
            raise ValidationError(
                {field: f"customer has no field {lookups[1]!r}; use {', '.join(sorted(CUSTOMER_KEYS))}"}
            )


def customer_view(customer: Customer) -> dict[str, Any]:
    """What templates may read of a customer: values, never the model (no methods to call)."""
    rep = customer.assigned_rep
    return {
        "id": customer.pk,
        "name": customer.name,
        "first_name": customer.name.split()[0] if customer.name.split() else customer.name,
        "language": customer.language,
        "lifecycle": customer.lifecycle,
        "kind": customer.kind,
        "rep": (rep.get_full_name() or rep.get_username()) if rep is not None else "",
    }


def template_context(
    customer: Customer, context: Mapping[str, Any], journey_name: str = ""
) -> dict[str, Any]:
    event = context.get("event", {})
    kind = str(context.get("event_kind", ""))
    process = context.get("process", {})
    return {
        "customer": customer_view(customer),
        "event": event,
        "order": context.get("order") or (event if kind.startswith("order.") else {}),
        "appointment": context.get("appointment")
        or (event if kind.startswith(("appointment.", "job.")) else {}),
        "process": process,
        "steps_ahead": process.get("steps_ahead", []) if isinstance(process, Mapping) else [],
        "fact": context.get("fact", {}),
        "context": context,
        "journey": {"name": journey_name},
    }


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    """Compiled once per process and source text; a step runner renders the same few thousands of times."""
    return ENGINE.from_string(source)


def render(source: str, values: Mapping[str, Any]) -> str:
    """Render completely or raise RenderError naming the first variable that did not resolve."""
    try:
        template = _compiled(source)
    except TemplateSyntaxError as error:
        raise RenderError(f"template error: {error}") from None
    text = template.render(Context(dict(values)))
    if _MARK in text:
        missing = text.split(_MARK, 1)[1].split("\x00", 1)[0]
        raise RenderError(f"the template needs {missing!r}, which this customer/event does not have")
    return text.strip()
