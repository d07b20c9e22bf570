"""Help desk fixtures: customers with identities, agents with profiles, a real SMTP server on loopback."""

from __future__ import annotations

import email
import email.message
import email.policy
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.helpdesk.models import AgentProfile, Department


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"


@pytest.fixture
def mailbox(settings: SettingsWrapper) -> Iterator[Mailbox]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    settings.TENURE_EMAIL_HOST = "127.0.0.1"
    settings.TENURE_EMAIL_PORT = port
    settings.TENURE_EMAIL_FROM = "care@shop.example"
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _data_dir(settings: SettingsWrapper, tmp_path: Any) -> None:
    settings.DATA_DIR = tmp_path


@pytest.fixture
def customer(db: None) -> Customer:
    return create_customer(
        name="Jane Doe", identities=[("email", "jane@example.org"), ("phone", "+12025550123")]
    )


@pytest.fixture
def make_customer(db: None) -> Callable[..., Customer]:
    counter = iter(range(1, 10_000))

    def make(name: str = "", **fields: Any) -> Customer:
        n = next(counter)
        tier = fields.pop("tier", "")
        made = create_customer(
            name=name or f"Customer {n}", identities=[("email", f"c{n}@example.org")], **fields
        )
        if tier:  # the customers services do not edit the SLA tier (yet); the admin does
            Customer.objects.filter(pk=made.pk).update(tier=tier)
            made.refresh_from_db()
        return made

    return make


@pytest.fixture
def make_agent(make_staff: Callable[..., User]) -> Callable[..., User]:
    def make(
        username: str, *, max_open: int = 25, available: bool = True, departments: tuple[str, ...] = ()
    ) -> User:
        user = make_staff("agent", username)
        profile = AgentProfile.objects.create(user=user, max_open=max_open, available=available)
        if departments:
            profile.departments.set(Department.objects.filter(slug__in=departments))
        return user

    return make
