"""The system checks that refuse a sending timeout no send could fit in, and no lane to send over."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.core.outbox.checks import check_connections, check_sending_timeout


def test_the_defaults_pass() -> None:
    assert check_sending_timeout() == []
    assert check_connections() == []


def test_a_sending_timeout_within_an_adapter_timeout_stops_every_command(settings: SettingsWrapper) -> None:
    settings.TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS = 20
    settings.TENURE_SMS_TIMEOUT_SECONDS = 45
    [error] = check_sending_timeout()
    assert error.id == "tenure.outbox.E001"
    assert "20 s" in error.msg and "45 s" in error.msg
    with pytest.raises(SystemCheckError, match="TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS"):
        call_command("check")


def test_a_setting_that_is_not_a_number_is_named(settings: SettingsWrapper) -> None:
    settings.TENURE_OUTBOX_SENDING_TIMEOUT_SECONDS = "five minutes"
    [error] = check_sending_timeout()
    assert error.id == "tenure.outbox.E002" and "five minutes" in error.msg


@pytest.mark.parametrize("lanes", [0, -2])
def test_fewer_than_one_connection_stops_every_command(settings: SettingsWrapper, lanes: int) -> None:
    settings.TENURE_OUTBOX_CONNECTIONS = lanes
    [error] = check_connections()
    assert error.id == "tenure.outbox.E003" and f"({lanes})" in error.msg
    with pytest.raises(SystemCheckError, match="TENURE_OUTBOX_CONNECTIONS"):
        call_command("check")
