"""Help desk fixtures: customers with identities and agents with profiles (the SMTP server is tests.loopback's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from pytest_django.fixtures import Settings as SettingsWrapper

from tenure.customers.models import Customer
from tenure.customers.services import create_customer
from tenure.helpdesk.models import AgentProfile, Department


@pytest.fixture(autouse=True)
def _data_dir(settings: SettingsWrapper, tmp_path: Any) -> None:
    settings.DATA_DIR = tmp_path


@pytest.fixture
def customer(db: None) -> Customer:
    return create_customer(
        name="Jane Doe", identities=[("email", "jane@example.org"), ("phone", "+12025550123")]
    )


@pytest.fixture
def make_customer(db: None) -> Callable[..., Customer]:
    counter = iter(range(1, 10_000))

    def make(name: str = "", **fields: Any) -> Customer:
        n = next(counter)
        tier = fields.pop("tier", "")
        made = create_customer(
            name=name or f"Customer {n}", identities=[("email", f"c{n}@example.org")], **fields
        )
        if tier:  # the customers services do not edit the SLA tier (yet); the admin does
            Customer.objects.filter(pk=made.pk).update(tier=tier)
            made.refresh_from_db()
        return made

    return make


@pytest.fixture
def make_agent(make_staff: Callable[..., User]) -> Callable[..., User]:
    def make(
        username: str, *, max_open: int = 25, available: bool = True, departments: tuple[str, ...] = ()
    ) -> User:
        user = make_staff("agent", username)
        profile = AgentProfile.objects.create(user=user, max_open=max_open, available=available)
        if departments:
            profile.departments.set(Department.objects.filter(slug__in=departments))
        return user

    return make
