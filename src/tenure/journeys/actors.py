"""Who is acting in a request, as the User the services record."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import HttpRequest


def acting_user(request: HttpRequest) -> User | None:
    """The signed-in staff member; pages and endpoints have already checked permissions."""
    user = request.user
    return user if isinstance(user, User) else None
