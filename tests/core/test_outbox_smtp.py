"""The e-mail adapter on the wire: pipelined mail transactions (RFC 2920) where the server offers them, the
next message's envelope behind the previous message's end, one command at a time where the server does not
pipeline, and a refused recipient or message that fails alone."""

from __future__ import annotations

import contextlib
import fcntl
import smtplib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.outbox.base import PermanentSendError
from tenure.core.outbox.email import EmailAdapter, held_back, message_id_for
from tenure.core.outbox.settings import current
from tenure.core.outbox_models import TRANSACTIONAL, OutboundMessage
from tests.loopback import SENDER, ReceivedMail, running_smtp

BODY = "Your order has shipped.\n.a line that starts with a dot\nThanks.\n"


def message(recipient: str, key: str) -> OutboundMessage:
    return OutboundMessage(
        customer_id=1,
        channel="email",
        purpose=TRANSACTIONAL,
        subject="Shipped",
        body=BODY,
        recipient=recipient,
        idempotency_key=key,
    )


class StrictPipeliningServer(threading.Thread):
    """Offers PIPELINING and answers MAIL, RCPT and DATA only once all three have arrived; with several
    `messages`, answers the end of each (but the last) only once the next message's MAIL, RCPT and DATA
    have arrived behind it, then all four at once.

    A client that waits for a reply before it sends what follows gets no answer at all and times out, so a
    delivery through this server shows that those went out together.
    """

    def __init__(self, messages: int = 1) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.messages = messages
        self.envelopes: list[list[bytes]] = []
        self.contents: list[bytes] = []

    def run(self) -> None:
        connection, _ = self.listener.accept()
        with connection, connection.makefile("rb") as lines:
            connection.settimeout(10)
            connection.sendall(b"220 strict ESMTP\r\n")
            lines.readline()  # EHLO
            connection.sendall(b"250-strict\r\n250-PIPELINING\r\n250 SIZE 1000000\r\n")
            self.envelopes.append([lines.readline() for _ in range(3)])
            connection.sendall(b"250 OK\r\n250 OK\r\n354 Go ahead\r\n")
            for number in range(1, self.messages + 1):
                content = []
                while (line := lines.readline()) not in (b".\r\n", b""):
                    content.append(line)
                self.contents.append(b"".join(content))
                if number == self.messages:
                    connection.sendall(b"250 Queued\r\n")
                    break
                self.envelopes.append([lines.readline() for _ in range(3)])
                connection.sendall(b"250 Queued\r\n250 OK\r\n250 OK\r\n354 Go ahead\r\n")
            lines.readline()  # QUIT
            connection.sendall(b"221 Bye\r\n")


@contextlib.contextmanager
def serving_strictly(settings: SettingsWrapper, messages: int = 1) -> Iterator[StrictPipeliningServer]:
    server = StrictPipeliningServer(messages)
    server.start()
    settings.TENURE_EMAIL_HOST = "127.0.0.1"
    settings.TENURE_EMAIL_PORT = server.port
    settings.TENURE_EMAIL_FROM = SENDER
    # A client that waits would wait for a reply that never comes: fail in 3 s, not 30.
    settings.TENURE_EMAIL_TIMEOUT_SECONDS = 3
    try:
        yield server
    finally:
        server.listener.close()
        server.join(timeout=10)


@pytest.fixture
def strict_server(settings: SettingsWrapper) -> Iterator[StrictPipeliningServer]:
    with serving_strictly(settings) as server:
        yield server


def test_mail_rcpt_and_data_go_out_together_when_the_server_offers_pipelining(
    strict_server: StrictPipeliningServer,
) -> None:
    adapter = EmailAdapter(current())
    try:
        provider_id = adapter.send(message("ada@customer.example", "shipped:7"))
    finally:
        adapter.close()

    assert provider_id == message_id_for("shipped:7", "shop.example")
    (mail, rcpt, data), content = strict_server.envelopes[0], strict_server.contents[0]
    assert mail.startswith(f"MAIL FROM:<{SENDER}> SIZE=".encode())
    assert rcpt == b"RCPT TO:<ada@customer.example>\r\n"
    assert data == b"DATA\r\n"
    # The dot at the start of a line is doubled on the wire (RFC 5321 4.5.2), so the message does not end there.
    assert b"\r\n..a line that starts with a dot\r\nThanks.\r\n" in content
    assert f"Message-ID: {provider_id}".encode() in content


def test_the_next_message_starts_behind_the_end_of_the_one_before(settings: SettingsWrapper) -> None:
    mails = [message(f"c{n}@customer.example", f"shipped:{n}") for n in range(3)]
    with serving_strictly(settings, messages=3) as server:
        adapter = EmailAdapter(current())
        try:
            sent = [
                adapter.send(mail, following)
                for mail, following in zip(mails, [*mails[1:], None], strict=True)
            ]
        finally:
            adapter.close()

    assert sent == [message_id_for(f"shipped:{n}", "shop.example") for n in range(3)]
    assert [rcpt for _, rcpt, _ in server.envelopes] == [
        f"RCPT TO:<c{n}@customer.example>\r\n".encode() for n in range(3)
    ]
    for provider_id, content in zip(sent, server.contents, strict=True):
        assert f"Message-ID: {provider_id}".encode() in content
        assert b"\r\n..a line that starts with a dot\r\n" in content


def around(middle: str) -> list[OutboundMessage]:
    """Three messages: to Ada, to `middle`, to Bo."""
    recipients = ["ada@customer.example", middle, "bo@customer.example"]
    return [message(recipient, f"shipped:{n}") for n, recipient in enumerate(recipients, start=1)]


def received_by(handler: ReceivedMail) -> list[str]:
    return [str(received["To"]) for received in handler.messages]


class EndsNoted(list[str]):
    """The adapter's notes (`EndNotes`): the recipients of the messages whose end went out, in order."""

    def line_for(self, message: OutboundMessage, provider_id: str) -> bytes:
        assert provider_id == message_id_for(message.idempotency_key, "shop.example")
        return message.recipient.encode()

    def write(self, line: bytes) -> None:
        self.append(line.decode())


class RefusesContent(ReceivedMail):
    """Takes every envelope, but refuses at the end of data the messages to `refused_content`."""

    def __init__(self) -> None:
        super().__init__()
        self.refused_content: set[str] = set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if set(envelope.rcpt_tos) & self.refused_content:
            return "554 5.7.1 message refused"
        return await super().handle_DATA(server, session, envelope)


def test_a_message_refused_at_its_end_fails_alone_though_the_next_had_started(
    settings: SettingsWrapper,
) -> None:
    with running_smtp(RefusesContent(), settings) as handler:
        assert isinstance(handler, RefusesContent)
        handler.refused_content.add("spam@customer.example")
        first, refused, last = around("spam@customer.example")
        ended = EndsNoted()
        adapter = EmailAdapter(current(), ended)
        try:
            adapter.send(first, refused)
            with pytest.raises(PermanentSendError, match="554"):
                adapter.send(refused, last)
            adapter.send(last)
        finally:
            adapter.close()

    assert received_by(handler) == ["ada@customer.example", "bo@customer.example"]
    # Its end went out whole: only the server's reply said no.
    assert ended == ["ada@customer.example", "spam@customer.example", "bo@customer.example"]


def test_a_started_message_that_does_not_come_is_never_delivered(smtp_server: ReceivedMail) -> None:
    first, skipped, other = around("late@customer.example")
    adapter = EmailAdapter(current())
    try:
        adapter.send(first, skipped)
        adapter.send(other)  # the lane did not send `skipped` after all (too late to start)
    finally:
        adapter.close()

    assert received_by(smtp_server) == ["ada@customer.example", "bo@customer.example"]


@pytest.mark.parametrize("ahead", [True, False], ids=["next-started-early", "one-by-one"])
@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "one-command-at-a-time"])
def test_a_refused_recipient_fails_alone_and_the_next_message_still_goes_out(
    smtp_server: ReceivedMail, pipelining: bool, ahead: bool
) -> None:
    smtp_server.pipelining = pipelining
    smtp_server.refused.add("gone@customer.example")
    mails = around("gone@customer.example")
    following = [*mails[1:], None] if ahead else [None] * 3
    ended = EndsNoted()
    adapter = EmailAdapter(current(), ended)
    try:
        adapter.send(mails[0], following[0])
        with pytest.raises(PermanentSendError, match="550") as refused:
            adapter.send(mails[1], following[1])
        adapter.send(mails[2], following[2])
    finally:
        adapter.close()

    assert refused.value.bad_address
    assert received_by(smtp_server) == ["ada@customer.example", "bo@customer.example"]
    assert ended == ["ada@customer.example", "bo@customer.example"]  # the refused one had no content to end
    # aiosmtpd takes the doubled dot off again: the customer sees the line as written.
    assert ".a line that starts with a dot" in smtp_server.messages[0].get_content()


SIOCOUTQNSD = 0x894B  # Linux: bytes written to a TCP socket and not yet sent


def unsent(sock: socket.socket) -> int:
    return int(struct.unpack("i", fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, b"\0" * 4))[0])


@pytest.mark.skipif(not hasattr(socket, "TCP_CORK"), reason="TCP_CORK is Linux's")
def test_what_is_written_inside_held_back_leaves_only_when_the_block_ends() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        smtp = smtplib.SMTP()
        smtp.sock = socket.create_connection(listener.getsockname())
        peer, _ = listener.accept()
        with peer, smtp.sock:
            with held_back(smtp):
                smtp.send(b".\r\n")
                held = unsent(smtp.sock)
            assert (held, unsent(smtp.sock)) == (3, 0)
            assert peer.recv(16) == b".\r\n"
