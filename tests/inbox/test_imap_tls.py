"""IMAP over TLS (IMAPS) against the same real dovecot, with a certificate from a private test CA."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.helpdesk.models import RequestMessage
from tenure.inbox.mail.poll import poll_mailbox
from tenure.inbox.models import Mailbox
from tests.missing import missing

from .conftest import ImapAccount
from .mails import mail


@pytest.fixture
def tls_account(imap_account: ImapAccount) -> ImapAccount:
    server = imap_account.server
    if server.tls_port is None:
        missing("openssl is not installed, so dovecot has no TLS listener")
    Mailbox.objects.filter(pk=imap_account.mailbox.pk).update(port=server.tls_port, use_ssl=True)
    imap_account.mailbox.refresh_from_db()
    return imap_account


def test_mail_is_fetched_over_tls_when_the_servers_ca_is_trusted(
    tls_account: ImapAccount, settings: SettingsWrapper
) -> None:
    settings.TENURE_INBOX_IMAP_CA_FILE = str(tls_account.server.ca_file)
    tls_account.append(mail(subject="Over TLS"))
    result = poll_mailbox(tls_account.mailbox)
    assert (result.fetched, result.error) == (1, "")
    assert RequestMessage.objects.get().request.subject == "Over TLS"


def test_an_untrusted_certificate_is_refused_and_the_mail_waits_on_the_server(
    tls_account: ImapAccount, settings: SettingsWrapper
) -> None:
    tls_account.append(mail(subject="Waiting"))
    # The system's CAs do not know the test CA: the certificate must not be accepted.
    refused = poll_mailbox(tls_account.mailbox)
    assert refused.fetched == 0 and "CERTIFICATE_VERIFY_FAILED" in refused.error
    mailbox = Mailbox.objects.get(pk=tls_account.mailbox.pk)
    assert mailbox.last_error == refused.error and mailbox.last_uid == 0
    assert not RequestMessage.objects.exists()

    settings.TENURE_INBOX_IMAP_CA_FILE = str(tls_account.server.ca_file)
    fetched = poll_mailbox(mailbox)
    assert (fetched.fetched, fetched.error) == (1, "")
    assert Mailbox.objects.get(pk=mailbox.pk).last_error == ""


def test_a_missing_ca_file_is_named_in_the_error(tls_account: ImapAccount, settings: SettingsWrapper) -> None:
    settings.TENURE_INBOX_IMAP_CA_FILE = str(tls_account.server.root / "no-such-ca.pem")
    result = poll_mailbox(tls_account.mailbox)
    assert result.fetched == 0
    assert "no-such-ca.pem" in result.error and "TENURE_INBOX_IMAP_CA_FILE" in result.error
