"""What happens after an unhappy answer is decided by the app that owns the subject (a request, a job).

Those apps register a handler here from their `AppConfig.ready`, so surveys never imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tenure.surveys.models import Survey

UnhappyHandler = Callable[["Survey"], None]

_UNHAPPY: dict[str, UnhappyHandler] = {}


def on_unhappy(subject_type: str, handler: UnhappyHandler) -> None:
    """`handler(survey)` runs in the answering transaction when a survey about `subject_type` is unhappy."""
    _UNHAPPY[subject_type] = handler


def unhappy_handler(subject_type: str) -> UnhappyHandler | None:
    return _UNHAPPY.get(subject_type)
