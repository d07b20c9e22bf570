"""Real servers on loopback for tests: an SMTP server (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_django.fixtures import Settings as SettingsWrapper

SENDER = "care@shop.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReceivedMail:
    """An aiosmtpd handler that keeps every message it accepts, parsed; addresses in `refused` get a hard
    bounce (550) at RCPT. It offers PIPELINING, as most servers do, unless `pipelining` is turned off."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refused: set[str] = set()
        self.pipelining = True

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refused:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for message in self.messages if address in str(message["To"])]


@contextlib.contextmanager
def running_smtp(handler: ReceivedMail, settings: SettingsWrapper) -> Iterator[ReceivedMail]:
    """`handler` served by aiosmtpd on a free loopback port, with the outbox pointed at it."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.TENURE_EMAIL_HOST = "127.0.0.1"
    settings.TENURE_EMAIL_PORT = port
    settings.TENURE_EMAIL_FROM = SENDER
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def smtp_server(settings: SettingsWrapper) -> Iterator[ReceivedMail]:
    """A running SMTP server on loopback; the outbox is pointed at it."""
    with running_smtp(ReceivedMail(), settings) as handler:
        yield handler
