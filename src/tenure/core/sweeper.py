"""Timers are data: a deadline is a column, and one periodic sweep acts on the rows that are due.

Apps register a function that handles their due rows; the sweep task (see `tasks.py`) calls each in turn.
A handler claims rows with `claim_due`, acts on them and moves or clears the due column in the same
transaction, so a row is handled once even with several workers sweeping at the same time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from django.db import connections, models

M = TypeVar("M", bound=models.Model)
SweepHandler = Callable[[dt.datetime], int]

_SWEEPERS: dict[str, SweepHandler] = {}


def register_sweeper(name: str, handler: SweepHandler) -> None:
    """`handler(now)` handles the rows due at `now` and returns how many it handled."""
    _SWEEPERS[name] = handler


def registered_sweepers() -> dict[str, SweepHandler]:
    return dict(_SWEEPERS)


def earliest_due(queryset: models.QuerySet[M], due_field: str) -> dt.datetime | None:
    """When the next row of `queryset` falls due (None when none has a deadline): one indexed read."""
    return (
        queryset.filter(**{f"{due_field}__isnull": False})
        .order_by(due_field)
        .values_list(due_field, flat=True)
        .first()
    )


def claim_due(queryset: models.QuerySet[M], due_field: str, now: dt.datetime, limit: int = 500) -> list[M]:
    """Rows whose `due_field` has passed, locked for this transaction.

    Call inside `transaction.atomic()`. PostgreSQL skips rows another sweeper holds; SQLite has one
    writer at a time (our transactions are IMMEDIATE), so the rows read are already ours.
    """
    due = queryset.filter(**{f"{due_field}__lte": now}).order_by(due_field)
    features = connections[queryset.db].features
    if features.has_select_for_update_skip_locked:
        # Only the claimed rows: with select_related, FOR UPDATE would also lock the joined rows (e.g. the
        # customer), and another sweeper would then skip every row sharing them.
        of = ("self",) if features.has_select_for_update_of else ()
        due = due.select_for_update(skip_locked=True, of=of)
    return list(due[:limit])
