"""`tenure inbox mailbox|poll|retry` against the real dovecot."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.helpdesk.models import RequestMessage
from tenure.inbox.models import InboundLog, Mailbox

from .conftest import ImapAccount
from .dovecot import Dovecot
from .mails import mail


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("inbox", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_add_a_mailbox_and_poll_it(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    username, password = dovecot.take_account()
    conn = dovecot.client(username, password)
    conn.append("INBOX", None, None, mail())
    conn.logout()
    monkeypatch.setenv("TENURE_IMAP_PASSWORD", password)
    assert "Added mailbox" in run(
        "mailbox",
        "support",
        "--host",
        "127.0.0.1",
        "--port",
        str(dovecot.port),
        "--no-ssl",
        "--user",
        username,
    )
    assert Mailbox.objects.get(name="support").password == password
    output = run("poll", "--mailbox", "support")
    assert "support: 1 new e-mails; 1 accepted" in output
    assert RequestMessage.objects.filter(direction="in").count() == 1
    assert "support: 0 new e-mails; nothing to do" in run("poll")


@pytest.mark.django_db
def test_poll_errors_are_clear(imap_account: ImapAccount, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="no mailbox named 'nope'"):
        run("poll", "--mailbox", "nope")
    Mailbox.objects.filter(pk=imap_account.mailbox.pk).update(password="wrong")
    with pytest.raises(CommandError, match="could not be polled"):
        run("poll")
    monkeypatch.delenv("TENURE_IMAP_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="TENURE_IMAP_PASSWORD"):
        run("mailbox", "x", "--host", "h", "--user", "u")


@pytest.mark.django_db
def test_retry_ingests_what_failed_once_the_cause_is_fixed(
    imap_account: ImapAccount, settings: SettingsWrapper
) -> None:
    imap_account.append(mail(subject="kept for later"))
    settings.TENURE_EMAIL_PORT = "not-a-port"  # a broken outbox setting: reading e-mail needs it too
    run("poll")
    failed = InboundLog.objects.get()
    assert failed.status == "error" and failed.raw is not None
    assert not RequestMessage.objects.exists()
    settings.TENURE_EMAIL_PORT = 25
    assert "Retried 1 e-mails: 1 accepted" in run("retry")
    assert InboundLog.objects.get().status == "accepted"
    assert RequestMessage.objects.get().subject == "kept for later"
