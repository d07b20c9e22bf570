"""Each sending lane's own note of what the provider accepted, written before the database hears of it.

A worker killed between the provider's "accepted" and the row's `sent` mark would send that message again
once its claim expires. The note is one small append to a file the lane alone writes: no lock to wait
for and no fsync (a killed process loses nothing the kernel has taken). That shrinks the window in which a
kill still repeats a message from a database round trip (much longer while SQLite's write lock is busy)
to the few microseconds between reading the provider's reply and the write. A claim that takes over a row
from an expired claim first looks for it in the lanes' notes, and marks it sent instead.

The notes live in `DATA_DIR/outbox-accepted/`, one `*.notes` file per lane at work, held with an
exclusive `flock` for as long as the lane runs. A lane that finishes removes its file; a file nobody
holds belongs to a lane that died, and is removed once no row it speaks of is still waiting. Workers on
other hosts cannot see these files: a message they take over is sent again, as without notes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from tenure.core.outbox_models import MessageStatus, OutboundMessage

logger = logging.getLogger(__name__)

SUFFIX = ".notes"
OPENING_SUFFIX = ".opening"  # a lane's file until it holds the lock


def notes_dir() -> Path:
    return Path(settings.DATA_DIR) / "outbox-accepted"


@dataclass(frozen=True)
class Accepted:
    """One note: the provider accepted this attempt of this message, under this id, at this time."""

    message_id: int
    attempt: int
    sent_at: float  # seconds since the epoch
    provider_id: str

    def line(self) -> bytes:
        provider_id = " ".join(self.provider_id.split())  # one line, one field
        return f"{self.message_id} {self.attempt} {self.sent_at:.6f} {provider_id}\n".encode()

    @classmethod
    def parse(cls, line: str) -> Accepted | None:
        """None for a line a kill cut short (or anything else that is not a whole note)."""
        fields = line.split(" ", 3)
        if len(fields) != 4 or not line.endswith("\n"):
            return None
        try:
            return cls(int(fields[0]), int(fields[1]), float(fields[2]), fields[3].rstrip("\n"))
        except ValueError:
            return None


class LaneNotes:
    """The notes of one lane; `note()` after each accepted send. Use as a context manager."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self._fd = -1

    def __enter__(self) -> LaneNotes:
        folder = notes_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        opening = folder / f"{name}{OPENING_SUFFIX}"
        self._fd = os.open(opening, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        # Held before it gets the name readers look for, so no reader can take it for a dead lane's file.
        self.path = folder / f"{name}{SUFFIX}"
        os.rename(opening, self.path)
        return self

    def note(self, message: OutboundMessage, provider_id: str, sent_at: float) -> None:
        os.write(self._fd, Accepted(message.pk, message.attempts, sent_at, provider_id).line())

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        # After a clean run every noted message is marked; after an error one may not be, so the file stays
        # (unheld from now on) for whoever takes the row over.
        if kind is None and self.path is not None:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)


def _dead_lanes_files(suffix: str = SUFFIX) -> Iterator[Path]:
    """Files whose lane is gone: nobody holds their lock."""
    try:
        candidates = sorted(notes_dir().glob(f"*{suffix}"))
    except FileNotFoundError:
        return
    for path in candidates:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        os.close(fd)
        yield path


def _read(path: Path) -> list[Accepted]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [note for line in text.splitlines(keepends=True) if (note := Accepted.parse(line))]


def accepted_before(messages: Iterable[OutboundMessage]) -> dict[int, Accepted]:
    """Of rows taken over from an expired claim (`sending`), those a lane noted the provider accepted in
    that same attempt: by message id."""
    wanted = {message.pk: message.attempts for message in messages if message.status == MessageStatus.SENDING}
    if not wanted:
        return {}
    found: dict[int, Accepted] = {}
    # Live lanes' files too: a send may only start while its claim has time to finish, so a live lane
    # whose claim ran out has no send left in flight, and what it noted was accepted.
    for path in sorted(notes_dir().glob(f"*{SUFFIX}")):
        for note in _read(path):
            if wanted.get(note.message_id) == note.attempt:
                found[note.message_id] = note
    return found


def forget_settled() -> int:
    """Remove dead lanes' files none of whose notes speaks of a row still waiting in that attempt; returns
    how many were removed."""
    removed = 0
    for path in _dead_lanes_files():
        notes = _read(path)
        attempts = {(note.message_id, note.attempt) for note in notes}
        waiting = OutboundMessage.objects.filter(
            pk__in={message_id for message_id, _ in attempts}, status=MessageStatus.SENDING
        ).values_list("pk", "attempts")
        if not attempts.intersection(waiting):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
    # A lane killed before it held its file leaves it under the opening name, empty.
    for path in _dead_lanes_files(OPENING_SUFFIX):
        path.unlink(missing_ok=True)
    return removed
