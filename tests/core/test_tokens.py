"""API tokens: only hashes are stored; revoked tokens and inactive users are refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tenure.core.models import ApiToken, AuditLog
from tenure.core.services import create_api_token, revoke_api_token, user_for_token

pytestmark = pytest.mark.django_db


def test_token_round_trip_stores_only_a_hash() -> None:
    user = User.objects.create_user("integration")
    token, secret = create_api_token(user=user, name="telephony")
    assert user_for_token(secret) == user
    assert secret not in token.key_hash and token.prefix == secret[:10]
    assert AuditLog.objects.filter(action="api_token.created").count() == 1


@pytest.mark.parametrize("secret", ["", "tnr_", "tnr_wrong", "Bearer x", "x" * 5000, "tnr_" + "\x00" * 10])
def test_unknown_tokens_are_refused(secret: str) -> None:
    create_api_token(user=User.objects.create_user("integration"), name="t")
    assert user_for_token(secret) is None


def test_revoked_token_and_inactive_user_are_refused() -> None:
    user = User.objects.create_user("integration")
    token, secret = create_api_token(user=user, name="t")
    revoke_api_token(token=token, actor=user)
    assert user_for_token(secret) is None

    _, other_secret = create_api_token(user=user, name="t2")
    user.is_active = False
    user.save()
    assert user_for_token(other_secret) is None
    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 1
