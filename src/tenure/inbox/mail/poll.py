"""Polling: fetch what arrived in a mailbox since the last UID, ingest each message, move the UID on."""

from __future__ import annotations

import datetime as dt
import imaplib
import logging
from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from tenure.core.progress import ProgressFn, no_progress
from tenure.core.sweeper import claim_due, register_sweeper
from tenure.inbox.conf import current
from tenure.inbox.mail import imap
from tenure.inbox.mail.ingest import ingest_email
from tenure.inbox.models import Mailbox

logger = logging.getLogger(__name__)
# While a poll runs, the mailbox is not due again for this long, so two workers do not poll it at once.
POLL_LEASE = dt.timedelta(minutes=10)


@dataclass
class PollResult:
    mailbox: str
    fetched: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    error: str = ""


def source_for(mailbox: Mailbox) -> str:
    return f"imap:{mailbox.pk}"


def _start(mailbox: Mailbox, validity: int) -> int:
    """The last UID already handled; a changed UIDVALIDITY means the old UIDs mean nothing any more."""
    if mailbox.uid_validity != validity:
        if mailbox.uid_validity is not None:
            logger.warning("Mailbox %s: UIDVALIDITY changed, reading the folder again", mailbox.name)
        mailbox.uid_validity = validity
        mailbox.last_uid = 0
        Mailbox.objects.filter(pk=mailbox.pk).update(uid_validity=validity, last_uid=0)
    return mailbox.last_uid


def poll_mailbox(mailbox: Mailbox, *, progress: ProgressFn = no_progress) -> PollResult:
    """Ingest every message after the mailbox's last UID. Safe to run again at any point."""
    config = current()
    result = PollResult(mailbox.name)
    try:
        with imap.session(mailbox, timeout=config.imap_timeout, ca_file=config.imap_ca_file) as conn:
            validity = imap.uid_validity(conn, mailbox.folder)
            uids = imap.uids_after(conn, _start(mailbox, validity))
            progress(mailbox.name, 0, len(uids))
            for offset in range(0, len(uids), config.imap_batch):
                for uid, raw in imap.fetch(conn, uids[offset : offset + config.imap_batch]):
                    log = ingest_email(raw, source=source_for(mailbox), log_id=f"{validity}:{uid}")
                    # Moved on after each message: a crash re-reads at most one, and the log dedupes it.
                    Mailbox.objects.filter(pk=mailbox.pk, last_uid__lt=uid).update(last_uid=uid)
                    mailbox.last_uid = uid
                    result.fetched += 1
                    result.outcomes[log.status] += 1
                    progress(mailbox.name, result.fetched, len(uids))
    except (imap.ImapError, imaplib.IMAP4.error, OSError) as error:
        # The connection broke off mid-poll: what was ingested stays, the rest comes next time.
        result.error = str(error) or type(error).__name__
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=timezone.now(), last_error=result.error)
    return result


def poll_due(now: dt.datetime) -> int:
    """Sweeper: poll the active mailboxes whose `next_poll_at` has passed."""
    with transaction.atomic():
        due = claim_due(Mailbox.objects.filter(active=True), "next_poll_at", now, limit=20)
        Mailbox.objects.filter(pk__in=[m.pk for m in due]).update(next_poll_at=now + POLL_LEASE)
    for mailbox in due:
        result = poll_mailbox(mailbox)
        if result.error:
            logger.warning("Mailbox %s: %s", mailbox.name, result.error)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            next_poll_at=timezone.now() + dt.timedelta(seconds=mailbox.poll_interval_seconds)
        )
    return len(due)


def register() -> None:
    register_sweeper("inbox.imap", poll_due)
