"""The lanes' notes of e-mails whose end went out whole (`journal.py`).

A real `tenure worker` sends to a real SMTP server on loopback that holds its reply back, and is SIGKILLed
while it waits: once after the message's final "." (the server has the message: the takeover must mark it
sent, not send it again) and once before it (the server has nothing: the takeover must send it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox import journal
from tenure.core.outbox.claim import REPLY_NOT_SEEN
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox.email import message_id_for
from tenure.core.outbox.settings import current
from tenure.core.outbox_models import MessageStatus, OutboundMessage
from tests.loopback import ReceivedMail, running_smtp

from .conftest import WorkerProcess, wait_until
from .test_outbox import customer_with, queue
from .test_outbox_smtp import received_by

pytestmark = pytest.mark.django_db


class HoldsItsReply(ReceivedMail):
    """Keeps what it receives, but while `holding` the reply to the stage named `at` ("RCPT": before the
    message's content is sent; "DATA": after its final "." is in, the message kept) does not come."""

    def __init__(self, at: str) -> None:
        super().__init__()
        self.at = at
        self.holding = True
        self.reached = threading.Event()

    async def _hold(self) -> None:
        self.reached.set()
        while self.holding:
            await asyncio.sleep(0.02)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.at == "RCPT" and self.holding:
            await self._hold()
        return await super().handle_RCPT(server, session, envelope, address, options)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.at == "DATA" and self.holding:
            await self._hold()
        return reply


@pytest.fixture
def notes_home(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path / "outbox-notes"


@contextlib.contextmanager
def holding_server(at: str, settings: SettingsWrapper) -> Iterator[HoldsItsReply]:
    handler = HoldsItsReply(at)
    with running_smtp(handler, settings):
        try:
            yield handler
        finally:
            handler.holding = False


def kill_worker_while_the_server_holds(
    start_worker: Callable[..., WorkerProcess], server: HoldsItsReply, settings: SettingsWrapper
) -> OutboundMessage:
    """Queue one e-mail, let a real worker send it up to the held reply, SIGKILL the worker, expire its
    claim and stop holding; returns the row as the dead worker left it."""
    message = queue(customer_with(("email", "ada@customer.example")), "held-reply")
    worker = start_worker(
        env={
            "TENURE_EMAIL_HOST": "127.0.0.1",
            "TENURE_EMAIL_PORT": str(settings.TENURE_EMAIL_PORT),
            "TENURE_EMAIL_FROM": settings.TENURE_EMAIL_FROM,
        }
    )
    wait_until(server.reached.is_set, f"the server to be reached; worker output:\n{worker.output()}")
    if server.at == "DATA":
        # The note follows the write of the end by microseconds; the server may get there first.
        wait_until(lambda: journal.ended_before([OutboundMessage.objects.get(pk=message.pk)]), "the note")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait_exit()
    server.holding = False
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENDING, 1)
    OutboundMessage.objects.filter(pk=message.pk).update(send_after=timezone.now() - dt.timedelta(seconds=1))
    return message


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_end_went_out_is_not_sent_again(
    notes_home: Path, start_worker: Callable[..., WorkerProcess], settings: SettingsWrapper
) -> None:
    with holding_server("DATA", settings) as server:  # holds its reply to the end of the message
        message = kill_worker_while_the_server_holds(start_worker, server, settings)
        deliver_due(timezone.now())

    assert [str(mail["To"]) for mail in server.messages] == ["ada@customer.example"]
    message.refresh_from_db()
    expected_id = message_id_for("held-reply", current().message_id_domain)
    assert (message.status, message.provider_id, message.send_after) == (
        MessageStatus.SENT,
        expected_id,
        None,
    )
    assert message.sent_at is not None and message.sent_at <= timezone.now()
    event = Event.objects.get(kind="message.sent")
    assert event.payload["provider_id"] == expected_id
    assert event.payload["reply"] == REPLY_NOT_SEEN
    # Settled: the dead lane's file has nothing left to say.
    assert list(notes_home.iterdir()) == []


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_before_the_content_went_out_leaves_it_to_be_sent(
    notes_home: Path, start_worker: Callable[..., WorkerProcess], settings: SettingsWrapper
) -> None:
    with holding_server("RCPT", settings) as server:  # holds its reply to the recipient
        message = kill_worker_while_the_server_holds(start_worker, server, settings)
        assert server.messages == []
        deliver_due(timezone.now())

    assert [str(mail["To"]) for mail in server.messages] == ["ada@customer.example"]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (MessageStatus.SENT, 2)
    assert "reply" not in Event.objects.get(kind="message.sent").payload
    assert list(notes_home.iterdir()) == []


def claim_expired(key: str, attempts: int = 1) -> OutboundMessage:
    """A row a worker claimed (attempt `attempts`) and never marked, whose claim has run out."""
    address = f"{key}@customer.example"
    message = queue(customer_with(("email", address)), key)
    OutboundMessage.objects.filter(pk=message.pk).update(
        status=MessageStatus.SENDING,
        attempts=attempts,
        recipient=address,
        send_after=timezone.now() - dt.timedelta(seconds=1),
    )
    message.refresh_from_db()
    return message


def lane_failed_after_noting(message: OutboundMessage, provider_id: str) -> None:
    """A lane that noted `message`'s end and then failed: its file stays, held by nobody."""
    with pytest.raises(RuntimeError), journal.LaneNotes() as notes:
        notes.write(notes.line_for(message, provider_id))
        raise RuntimeError("the database went away before the mark")


def test_a_note_about_an_earlier_attempt_does_not_stop_a_send(
    notes_home: Path, smtp_server: ReceivedMail
) -> None:
    message = claim_expired("kill-2", attempts=2)
    lane_failed_after_noting(OutboundMessage(pk=message.pk, attempts=1), "<old@shop.example>")

    deliver_due(timezone.now())

    assert [str(mail["To"]) for mail in smtp_server.messages] == ["kill-2@customer.example"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 3
    assert message.provider_id != "<old@shop.example>"
    assert list(notes_home.iterdir()) == []


def test_a_dead_lanes_file_stays_while_a_row_it_speaks_of_waits(notes_home: Path) -> None:
    message = claim_expired("kill-3")
    lane_failed_after_noting(message, "<kill-3@shop.example>")

    assert journal.forget_settled() == 0
    assert len(list(notes_home.iterdir())) == 1

    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    assert journal.forget_settled() == 1
    assert list(notes_home.iterdir()) == []


def test_a_running_lanes_file_is_never_removed_and_a_finished_one_is_gone(notes_home: Path) -> None:
    message = claim_expired("live-1")
    with journal.LaneNotes() as notes:
        notes.write(notes.line_for(message, "<live-1@shop.example>"))
        OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
        assert journal.forget_settled() == 0
        assert notes.path is not None and notes.path.exists()
    assert list(notes_home.iterdir()) == []


def test_a_lane_that_failed_leaves_its_notes_for_whoever_takes_over(notes_home: Path) -> None:
    message = claim_expired("fail-1")
    lane_failed_after_noting(message, "<fail-1@shop.example>")

    assert list(journal.ended_before([message])) == [message.pk]


def test_notes_survive_odd_provider_ids_and_a_line_cut_short() -> None:
    note = journal.Ended(7, 2, 1.5e9, "<a b\nc@x>")
    assert journal.Ended.parse(note.line().decode()) == journal.Ended(7, 2, 1.5e9, "<a b c@x>")
    assert journal.Ended.parse(note.line().decode()[:-1]) is None  # the kill came mid-write
    assert journal.Ended.parse("garbage\n") is None
    assert journal.Ended.parse("1 x 2 id\n") is None


def test_with_nowhere_to_keep_notes_messages_still_go_out(
    settings: SettingsWrapper, tmp_path: Path, smtp_server: ReceivedMail, caplog: pytest.LogCaptureFixture
) -> None:
    settings.DATA_DIR = tmp_path / "a-file-not-a-folder"
    settings.DATA_DIR.write_text("")
    taken_over = claim_expired("stranded-1")
    fresh = queue(customer_with(("email", "fresh@customer.example")), "fresh-1")

    deliver_due(timezone.now())

    assert sorted(received_by(smtp_server)) == ["fresh@customer.example", "stranded-1@customer.example"]
    assert {row.status for row in OutboundMessage.objects.filter(pk__in=[taken_over.pk, fresh.pk])} == {
        MessageStatus.SENT
    }
    assert "No outbox notes" in caplog.text
