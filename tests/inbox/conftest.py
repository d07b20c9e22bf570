"""A real dovecot IMAP server on loopback, started once per test session; each test gets its own account."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tenure.inbox.models import Mailbox
from tests.loopback import smtp_server
from tests.missing import missing

from .dovecot import Dovecot, dovecot_binary, running_dovecot


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    binary = dovecot_binary()
    if binary is None:
        missing("dovecot is not installed (apt-get install dovecot-imapd)")
    with running_dovecot(binary) as server:
        yield server


@dataclass
class ImapAccount:
    server: Dovecot
    username: str
    password: str
    mailbox: Mailbox

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        conn = self.server.client(self.username, self.password)
        try:
            status, data = conn.append(folder, None, None, raw)
            assert status == "OK", data
        finally:
            conn.logout()


@pytest.fixture
def imap_account(dovecot: Dovecot, db: None) -> ImapAccount:
    username, password = dovecot.take_account()
    mailbox = Mailbox.objects.create(
        name=f"support-{username}",
        host="127.0.0.1",
        port=dovecot.port,
        use_ssl=False,
        username=username,
        password=password,
    )
    return ImapAccount(dovecot, username, password, mailbox)


__all__ = ["smtp_server"]
