"""What a test does when a real part of the machine is missing: skip on a developer's machine, fail in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(message: str) -> NoReturn:
    """Skip with `message`; in CI, where every real part is installed, fail instead so nothing goes untested."""
    if in_ci():
        pytest.fail(f"{message}; in CI this test may not be skipped")
    pytest.skip(message)
