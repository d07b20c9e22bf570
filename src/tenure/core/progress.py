"""The progress callback long jobs report through: `progress(stage, done, total)`; the CLI draws bars from it."""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """For callers that do not show progress."""
    return None
