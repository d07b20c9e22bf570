from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from tenure.core.services import user_for_token

pytestmark = pytest.mark.django_db


def test_create_list_revoke() -> None:
    user = User.objects.create_user("pbx")
    out = StringIO()
    call_command("token", "create", "pbx", "telephony", stdout=out)
    secret = out.getvalue().split(": ")[1].split()[0]
    assert user_for_token(secret) == user

    listing = StringIO()
    call_command("token", "list", stdout=listing)
    assert "telephony" in listing.getvalue() and secret not in listing.getvalue()

    token_id = int(listing.getvalue().split("\t")[0])
    call_command("token", "revoke", str(token_id), stdout=StringIO())
    assert user_for_token(secret) is None


def test_unknown_user_is_a_clear_error() -> None:
    with pytest.raises(CommandError, match="no user named 'ghost'"):
        call_command("token", "create", "ghost", "x")
