"""The console's actions, each one call into the help desk or inbox services plus a poke to live sockets.

The pokes go out after the transaction commits, so a socket that looks never misses the new row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from tenure.helpdesk import services as helpdesk
from tenure.helpdesk.models import Macro, Request, RequestChannel
from tenure.inbox import calls
from tenure.inbox.chat import live


def _changed(request: Request) -> None:
    live.poke_after_commit(live.request_group(request.pk), "request.changed", request=request.pk)
    live.poke_after_commit(live.INBOX_GROUP, "inbox.changed", request=request.pk)


def _sent(request: Request, channel: str) -> None:
    if channel == RequestChannel.CHAT:
        live.poke_after_commit(live.chat_group(request.pk), "chat.reply", request=request.pk)
    _changed(request)


@transaction.atomic
def reply(request: Request, agent: Any, body: str, channel: str) -> None:
    helpdesk.reply(request=request, author=agent, body=body, channel=channel)
    _sent(request, channel)


@transaction.atomic
def apply_macro(request: Request, agent: Any, macro: Macro, channel: str) -> None:
    """Send the macro as it stands and apply its status, priority and tags."""
    helpdesk.apply_macro(request=request, macro=macro, by=agent, channel=channel)
    _sent(request, channel)


@transaction.atomic
def note(request: Request, agent: Any, body: str) -> None:
    helpdesk.add_note(request=request, author=agent, body=body)
    _changed(request)


@transaction.atomic
def set_status(request: Request, agent: Any, status: str) -> None:
    helpdesk.set_status(request=request, status=status, by=agent)
    _changed(request)


@transaction.atomic
def assign(request: Request, agent: Any, assignee: User | None) -> None:
    helpdesk.assign(request=request, assignee=assignee, by=agent)
    _changed(request)


@transaction.atomic
def log_call(
    request: Request, agent: Any, *, direction: str, duration: int, outcome: str, notes: str
) -> None:
    calls.log_call(
        customer=request.customer,
        direction=direction,
        duration=duration,
        outcome=outcome,
        notes=notes,
        agent=agent,
    )
    _changed(request)


def render_macro(macro: Macro, request: Request, agent: Any) -> str:
    return helpdesk.render_macro(macro, request, agent)
