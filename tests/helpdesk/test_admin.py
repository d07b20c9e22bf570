"""Help desk configuration in the admin refuses what would break intake: bad regexes, broken templates."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tenure.helpdesk.models import AcknowledgementTemplate, Macro, TriageRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(make_staff: Callable[..., User]) -> Client:
    user = make_staff("admin", "boss")
    user.is_superuser = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


def test_a_rule_with_a_bad_regex_or_no_condition_is_refused(admin_client_: Client) -> None:
    url = "/admin/helpdesk/triagerule/add/"
    bad = admin_client_.post(url, {"name": "x", "position": 1, "active": "on", "regex": "(unclosed"})
    assert bad.status_code == 200 and "not a regular expression" in bad.content.decode()
    empty = admin_client_.post(url, {"name": "y", "position": 1, "active": "on"})
    assert "give at least one condition" in empty.content.decode()
    good = admin_client_.post(url, {"name": "z", "position": 1, "active": "on", "keywords": "refund"})
    assert good.status_code == 302
    assert list(TriageRule.objects.values_list("name", flat=True)) == ["z"]


def test_broken_templates_are_refused_for_macros_and_acknowledgements(admin_client_: Client) -> None:
    macro = admin_client_.post(
        "/admin/helpdesk/macro/add/", {"name": "m", "body": "Hi {% if %}", "active": "on"}
    )
    assert macro.status_code == 200 and "template error" in macro.content.decode()
    ack = admin_client_.post(
        "/admin/helpdesk/acknowledgementtemplate/add/", {"channel": "", "body": "{{ x|nofilter }}"}
    )
    assert ack.status_code == 200 and "template error" in ack.content.decode()
    assert not Macro.objects.exists() and not AcknowledgementTemplate.objects.exists()
