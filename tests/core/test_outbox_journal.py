"""The lanes' notes of what the provider accepted (`journal.py`): a worker killed after the provider's
"accepted" but before the row's `sent` mark leaves a note, and whoever takes the row over marks it sent
instead of sending it again. The kill is real: a child process writes the note and SIGKILLs itself."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.models import Event
from tenure.core.outbox import journal
from tenure.core.outbox.delivery import deliver_due
from tenure.core.outbox_models import MessageStatus, OutboundMessage
from tests.core.conftest import REPO_ROOT
from tests.loopback import ReceivedMail

from .test_outbox import customer_with, queue

pytestmark = pytest.mark.django_db


@pytest.fixture
def notes_home(settings: SettingsWrapper, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path / "outbox-accepted"


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


def die_after_noting(data_dir: Path, message: OutboundMessage, provider_id: str) -> None:
    """A lane in another process notes the provider's "accepted", then the process is SIGKILLed."""
    script = textwrap.dedent(
        f"""
        import os, signal, django
        django.setup()
        from tenure.core.outbox import journal
        from tenure.core.outbox_models import OutboundMessage
        with journal.LaneNotes() as notes:
            notes.note(OutboundMessage(pk={message.pk}, attempts={message.attempts}), {provider_id!r}, 1.5e9)
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tenure.settings",
        "TENURE_DATA_DIR": str(data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    child = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()


def test_a_row_a_killed_lane_had_sent_is_marked_sent_not_sent_again(
    notes_home: Path, smtp_server: ReceivedMail
) -> None:
    message = claim_expired("kill-1")
    die_after_noting(notes_home.parent, message, "<kill-1@shop.example>")
    assert [path.suffix for path in notes_home.iterdir()] == [".notes"]

    deliver_due(timezone.now())

    assert smtp_server.messages == []
    message.refresh_from_db()
    assert (message.status, message.provider_id, message.send_after) == (
        MessageStatus.SENT,
        "<kill-1@shop.example>",
        None,
    )
    assert message.sent_at == dt.datetime.fromtimestamp(1.5e9, tz=dt.UTC)
    event = Event.objects.get(kind="message.sent")
    assert event.payload["provider_id"] == "<kill-1@shop.example>"
    # Settled: the dead lane's file has nothing left to say.
    assert list(notes_home.iterdir()) == []


def test_a_note_about_an_earlier_attempt_does_not_stop_a_send(
    notes_home: Path, smtp_server: ReceivedMail
) -> None:
    message = claim_expired("kill-2", attempts=2)
    die_after_noting(notes_home.parent, OutboundMessage(pk=message.pk, attempts=1), "<old@shop.example>")

    deliver_due(timezone.now())

    assert [str(mail["To"]) for mail in smtp_server.messages] == ["kill-2@customer.example"]
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 3
    assert message.provider_id != "<old@shop.example>"
    assert list(notes_home.iterdir()) == []


def test_a_dead_lanes_file_stays_while_a_row_it_speaks_of_waits(notes_home: Path) -> None:
    message = claim_expired("kill-3")
    die_after_noting(notes_home.parent, message, "<kill-3@shop.example>")

    assert journal.forget_settled() == 0
    assert len(list(notes_home.iterdir())) == 1

    OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    assert journal.forget_settled() == 1
    assert list(notes_home.iterdir()) == []


def test_a_running_lanes_file_is_never_removed_and_a_finished_one_is_gone(notes_home: Path) -> None:
    message = claim_expired("live-1")
    with journal.LaneNotes() as notes:
        notes.note(message, "<live-1@shop.example>", 1.5e9)
        OutboundMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
        assert journal.forget_settled() == 0
        assert notes.path is not None and notes.path.exists()
    assert list(notes_home.iterdir()) == []


def test_a_lane_that_failed_leaves_its_notes_for_whoever_takes_over(notes_home: Path) -> None:
    message = claim_expired("fail-1")
    with pytest.raises(RuntimeError), journal.LaneNotes() as notes:
        notes.note(message, "<fail-1@shop.example>", 1.5e9)
        raise RuntimeError("the database went away before the mark")

    assert list(journal.accepted_before([message])) == [message.pk]


def test_notes_survive_odd_provider_ids_and_a_line_cut_short() -> None:
    note = journal.Accepted(7, 2, 1.5e9, "<a b\nc@x>")
    assert journal.Accepted.parse(note.line().decode()) == journal.Accepted(7, 2, 1.5e9, "<a b c@x>")
    assert journal.Accepted.parse(note.line().decode()[:-1]) is None  # the kill came mid-write
    assert journal.Accepted.parse("garbage\n") is None
    assert journal.Accepted.parse("1 x 2 id\n") is None
