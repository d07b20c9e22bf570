"""Each sending lane's own note of the e-mails whose end went out whole, written before the server replies.

An SMTP server takes a message when its final "." arrives; the worker learns so only when it reads the
`250`, and marks the row `sent` after that. A worker killed in between leaves the row `sending`, and sending
it again once the claim expires would deliver it twice. Crash runs showed nearly every such kill lands in
the wait for the server's reply. So the lane notes each message the moment the write carrying its end
returns: the kernel has all of it, and kills the worker's process, not the connection's data, so the server
gets the whole message and takes it unless it refuses it. The note is one small append to a file the lane
alone writes: no lock to wait for and no fsync (a killed process loses nothing the kernel has taken). Its
line is made before the end is written, and the end is held in the kernel until the note is written
(`email.held_back`), so that write wakes no server on the same machine in between.

A claim that takes over a row from an expired claim first looks for it in the lanes' notes, and marks it
sent as of the note instead of sending it again. What is left:
- a kill in the microseconds between the write of the end and the note still sends the message twice;
- a message the server would have refused at its end, with the worker killed before it read the refusal,
  is counted as sent. The `message.sent` event says the reply was not seen, so staff can tell.
A live lane reads the reply itself and records the outcome as usual; its note is then never used (a note
names the attempt, and a retried message is a later attempt).

The notes live in `DATA_DIR/outbox-notes/`, one `*.notes` file per lane at work, held with an exclusive
`flock` for as long as the lane runs. A lane that finishes removes its file; a file nobody holds belongs to
a lane that died, and is removed once no row it speaks of is still waiting. Workers on other hosts cannot
see these files: a message they take over is sent again, as without notes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tenure.core.outbox_models import MessageStatus, OutboundMessage

logger = logging.getLogger(__name__)

SUFFIX = ".notes"
OPENING_SUFFIX = ".opening"  # a lane's file until it holds the lock


def notes_dir() -> Path:
    return Path(settings.DATA_DIR) / "outbox-notes"


@dataclass(frozen=True)
class Ended:
    """One note: this attempt of this message went out whole, under this provider id, at this time."""

    message_id: int
    attempt: int
    sent_at: float  # seconds since the epoch
    provider_id: str

    def line(self) -> bytes:
        provider_id = " ".join(self.provider_id.split())  # one line, one field
        return f"{self.message_id} {self.attempt} {self.sent_at:.6f} {provider_id}\n".encode()

    @classmethod
    def parse(cls, line: str) -> Ended | None:
        """None for a line a kill cut short (or anything else that is not a whole note)."""
        fields = line.split(" ", 3)
        if len(fields) != 4 or not line.endswith("\n"):
            return None
        try:
            return cls(int(fields[0]), int(fields[1]), float(fields[2]), fields[3].rstrip("\n"))
        except ValueError:
            return None


class LaneNotes:
    """The notes of one lane: `write(line_for(...))` as each message's end goes out. Use as a context
    manager."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._fd = -1

    def __enter__(self) -> LaneNotes:
        try:
            self._open()
        except OSError as error:
            # Sending goes on without notes: a kill then repeats the message in flight instead.
            logger.warning(
                "No outbox notes in %s, so a killed worker may repeat a message: %s", notes_dir(), error
            )
            self.close()
        return self

    def _open(self) -> None:
        folder = notes_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        opening = folder / f"{name}{OPENING_SUFFIX}"
        self._fd = os.open(opening, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        # Held before it gets the name readers look for, so no reader can take it for a dead lane's file.
        path = folder / f"{name}{SUFFIX}"
        os.rename(opening, path)
        self.path = path

    def line_for(self, message: OutboundMessage, provider_id: str) -> bytes:
        """The note for `message`, made before its end is written (`email.EndNotes`)."""
        return Ended(message.pk, message.attempts, time.time(), provider_id).line()

    def write(self, line: bytes) -> None:
        if self._fd >= 0:
            os.write(self._fd, line)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        # After a clean run every noted message has its outcome recorded; after an error one may not, so
        # the file stays (unheld from now on) for whoever takes the row over.
        if kind is None and self.path is not None:
            self.path.unlink(missing_ok=True)
        self.close()


def _files(suffix: str = SUFFIX) -> list[Path]:
    try:
        return sorted(path for path in notes_dir().iterdir() if path.name.endswith(suffix))
    except OSError:  # no folder yet (or none possible: the lanes then keep no notes)
        return []


def _dead_lanes_files(suffix: str = SUFFIX) -> Iterator[Path]:
    """Files whose lane is gone: nobody holds their lock."""
    for path in _files(suffix):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            continue
        finally:
            os.close(fd)
        yield path


def _read(path: Path) -> list[Ended]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [note for line in text.splitlines(keepends=True) if (note := Ended.parse(line))]


def ended_before(messages: Iterable[OutboundMessage]) -> dict[int, Ended]:
    """Of rows taken over from an expired claim (`sending`), those a lane noted went out whole in that same
    attempt: by message id."""
    wanted = {message.pk: message.attempts for message in messages if message.status == MessageStatus.SENDING}
    if not wanted:
        return {}
    found: dict[int, Ended] = {}
    # Live lanes' files too: a send may only start while its claim has time to finish, so a live lane
    # whose claim ran out has no send left in flight.
    for path in _files():
        for note in _read(path):
            if wanted.get(note.message_id) == note.attempt:
                found[note.message_id] = note
    return found


def forget_settled() -> int:
    """Remove dead lanes' files none of whose notes speaks of a row still waiting in that attempt; returns
    how many were removed."""
    removed = 0
    for path in _dead_lanes_files():
        attempts = {(note.message_id, note.attempt) for note in _read(path)}
        waiting = OutboundMessage.objects.filter(
            pk__any_of={message_id for message_id, _ in attempts}, status=MessageStatus.SENDING
        ).values_list("pk", "attempts")
        if not attempts.intersection(waiting):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
    # A lane killed before it held its file leaves it under the opening name, empty.
    for path in _dead_lanes_files(OPENING_SUFFIX):
        path.unlink(missing_ok=True)
    return removed
