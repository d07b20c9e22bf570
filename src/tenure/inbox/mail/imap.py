"""Read-only IMAP access with imaplib: the folder's UIDVALIDITY, UIDs after the last one seen, raw messages."""

from __future__ import annotations

import imaplib
import re
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from tenure.inbox.models import Mailbox

_UID = re.compile(rb"UID (\d+)")


class ImapError(Exception):
    """The server refused or broke off; the poll is retried on the next sweep."""


def _check(result: tuple[str, list[Any]], what: str) -> list[Any]:
    status, data = result
    if status != "OK":
        raise ImapError(f"{what} failed: {status} {data!r}")
    return data


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tls_context(ca_file: str) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except OSError as error:  # missing, unreadable or not PEM
        raise ImapError(f"cannot use the CA file {ca_file} (TENURE_INBOX_IMAP_CA_FILE): {error}") from error


@contextmanager
def session(mailbox: Mailbox, *, timeout: float, ca_file: str = "") -> Iterator[imaplib.IMAP4]:
    """Logged in with the folder selected read-only (fetching with BODY.PEEK leaves flags untouched).

    Over TLS the server's certificate and host name are always verified: against the system's CAs, or
    only against `ca_file` when one is given (a server with a private CA).
    """
    context = _tls_context(ca_file) if mailbox.use_ssl else None
    try:
        if context is not None:
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                mailbox.host, mailbox.port, ssl_context=context, timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=timeout)
    except (OSError, imaplib.IMAP4.error) as error:
        raise ImapError(f"cannot connect to {mailbox.host}:{mailbox.port}: {error}") from error
    try:
        try:
            _check(conn.login(mailbox.username, mailbox.password), "login")
            _check(conn.select(_quote(mailbox.folder), readonly=True), f"select {mailbox.folder}")
        except imaplib.IMAP4.error as error:
            raise ImapError(str(error)) from error
        yield conn
    finally:
        with suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def uid_validity(conn: imaplib.IMAP4, folder: str) -> int:
    """From the SELECT response, or asked for with STATUS when the server left it out."""
    _, data = conn.response("UIDVALIDITY")
    if not data or data[0] is None:
        data = _check(conn.status(_quote(folder), "(UIDVALIDITY)"), "status")
        data = [re.sub(rb"^.*UIDVALIDITY", b"", data[0]) if isinstance(data[0], bytes) else b""]
    first = data[0]
    match = re.search(rb"(\d+)", first if isinstance(first, bytes) else str(first).encode())
    if match is None:
        raise ImapError("the server did not report UIDVALIDITY")
    return int(match.group(1))


def uids_after(conn: imaplib.IMAP4, last_uid: int) -> list[int]:
    try:
        data = _check(conn.uid("SEARCH", f"UID {last_uid + 1}:*"), "search")
    except imaplib.IMAP4.error as error:
        raise ImapError(str(error)) from error
    found = [int(uid) for uid in (data[0] or b"").split()] if data and isinstance(data[0], bytes) else []
    # "n:*" always matches the highest UID, even when it is below n.
    return sorted(uid for uid in found if uid > last_uid)


def fetch(conn: imaplib.IMAP4, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
    """Raw messages for `uids`, in UID order."""
    if not uids:
        return
    try:
        data = _check(conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])"), "fetch")
    except imaplib.IMAP4.error as error:
        raise ImapError(str(error)) from error
    messages: dict[int, bytes] = {}
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            match = _UID.search(item[0])
            if match:
                messages[int(match.group(1))] = item[1]
    for uid in sorted(messages):
        yield uid, messages[uid]
