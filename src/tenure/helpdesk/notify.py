"""Staff notifications (SLA warnings and breaches, call-back reminders), each written once per key."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User

from tenure.core.roles import MANAGER
from tenure.helpdesk.models import Request, StaffNotification


def notify(users: Iterable[User | None], *, kind: str, request: Request | None, text: str, key: str) -> int:
    """Notify each distinct user once per `key`; returns how many new notifications were written."""
    written = 0
    seen: set[int] = set()
    for user in users:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        _, created = StaffNotification.objects.get_or_create(
            user=user, key=key, defaults={"kind": kind, "request": request, "text": text[:300]}
        )
        written += created
    return written


def leads_of(request: Request) -> list[User]:
    """The department's lead, or the managers when the department has none."""
    lead = request.department.lead if request.department_id and request.department else None
    if lead is not None:
        return [lead]
    return list(User.objects.filter(groups__name=MANAGER, is_active=True).order_by("id")[:10])
