"""Fixtures shared by every test: staff users in each role and API tokens for them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from tenure.core.roles import ROLES
from tenure.core.services import create_api_token

PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_staff(db: None) -> Callable[..., User]:
    """A staff user in the given role (admin, manager, agent, dispatcher, technician)."""

    def make(role: str, username: str | None = None) -> User:
        assert role in ROLES
        user = User.objects.create_user(username or f"{role}-user", password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def client_as(make_staff: Callable[..., User]) -> Callable[[str], Client]:
    """A logged-in browser-less client for a new user in the given role."""

    def make(role: str) -> Client:
        client = Client()
        client.force_login(make_staff(role))
        return client

    return make


@pytest.fixture
def token_for(make_staff: Callable[..., User]) -> Callable[[str], str]:
    """The secret of a new API token for a new user in the given role."""

    def make(role: str) -> str:
        _, secret = create_api_token(user=make_staff(role, f"{role}-integration"), name="test")
        return secret

    return make


from tests.browser import browser, page  # noqa: E402, F401 - one shared Chromium for every test folder
from tests.loopback import smtp_server  # noqa: E402, F401 - a fixture for every test folder
