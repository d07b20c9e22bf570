"""Permission checks shared by pages and the API, so both deny the same things."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase

V = TypeVar("V", bound=Callable[..., HttpResponseBase])


def require_perms(request: HttpRequest, *perms: str) -> None:
    """Raise PermissionDenied unless the signed-in staff user holds every permission."""
    user = request.user
    if not user.is_authenticated or not user.is_active or not user.has_perms(perms):
        missing = [perm for perm in perms if not user.has_perm(perm)]
        raise PermissionDenied(f"your role does not allow this (needs {', '.join(missing) or 'sign-in'})")


def staff_page(*perms: str) -> Callable[[V], V]:
    """A page for signed-in staff holding `perms`: strangers go to the login page, others get 403."""

    def decorate(view: V) -> V:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            require_perms(request, *perms)
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
