"""The manager's help desk report page: figures and chart for managers, 403 for other roles, login for strangers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from tenure.customers.models import Customer
from tenure.helpdesk import services

pytestmark = pytest.mark.django_db
URL = "/helpdesk/report/"


def test_manager_sees_the_figures_and_the_chart(
    client_as: Callable[[str], Client], customer: Customer, make_staff: Callable[..., User]
) -> None:
    request = services.receive_message(customer=customer, channel="email", body="Question").request
    services.reply(request=request, author=make_staff("agent"), body="Answer")
    services.resolve(request=request, by=None)
    page = client_as("manager").get(URL + "?days=7")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html and "1 request" in html and "First-contact resolution" in html
    assert "100%" in html  # one request, answered on time, resolved at first contact


@pytest.mark.parametrize("role", ["agent", "dispatcher", "technician"])
def test_other_roles_are_refused(client_as: Callable[[str], Client], role: str) -> None:
    assert client_as(role).get(URL).status_code == 403


def test_strangers_are_sent_to_log_in() -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and "login" in response["Location"]
