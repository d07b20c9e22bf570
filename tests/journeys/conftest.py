"""Shared helpers for the journeys tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.journeys.models import Journey, MessageTemplate

# The loopback SMTP server, the Twilio-format gateway and real worker processes, as the core tests run them.
from tests.core.conftest import start_worker  # noqa: F401
from tests.core.test_outbox import mailbox, sms_gateway  # noqa: F401


@pytest.fixture
def customer(db: None) -> Customer:
    return create_customer(
        name="Ada Lovelace",
        identities=[("email", "ada@example.com"), ("phone", "+12025550100")],
        lifecycle="active",
    )


@pytest.fixture
def make_journey(db: None) -> Callable[..., Journey]:
    def make(key: str = "test-journey", steps: list[dict[str, Any]] | None = None, **fields: Any) -> Journey:
        fields.setdefault("holdout_percent", 0)
        fields.setdefault("trigger", "manual")
        return Journey.objects.create(
            key=key,
            name=key.replace("-", " ").title(),
            steps=steps or [{"id": "hello", "type": "send", "template": "hello"}],
            **fields,
        )

    return make


@pytest.fixture
def hello_template(db: None) -> MessageTemplate:
    return MessageTemplate.objects.create(
        key="hello",
        language="en",
        subject="Hello {{ customer.first_name }}",
        body="Hi {{ customer.first_name }}!",
    )
