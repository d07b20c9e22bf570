"""Staff roles are Django groups; this module is the single place that says what each may do."""

from __future__ import annotations

from typing import Any

ADMIN, MANAGER, AGENT, DISPATCHER, TECHNICIAN = "admin", "manager", "agent", "dispatcher", "technician"
ROLES = (ADMIN, MANAGER, AGENT, DISPATCHER, TECHNICIAN)

_READ_CUSTOMERS = {"customers.view_customer"}
_READ_TIMELINE = {"core.view_event"}
# Whoever works customers also works their requests (agents, managers, admins).
_WORK_REQUESTS = {"helpdesk.view_request", "helpdesk.add_request", "helpdesk.work_request"}
_WORK_CUSTOMERS = _WORK_REQUESTS | {
    "customers.add_customer",
    "customers.change_customer",
    "customers.view_identity",
    "customers.add_identity",
    "customers.change_identity",
    "customers.delete_identity",
    "core.add_event",
    "insights.act_on_risk",
    *("journeys.view_journey", "journeys.view_messagetemplate", "journeys.view_task", "journeys.change_task"),
    *("inbox.add_callrecord", "inbox.view_callrecord"),
}
_MANAGE_CUSTOMERS = {
    "customers.delete_customer",
    "customers.merge_customer",
    "customers.import_customers",
    "customers.export_customer",
    "core.export_event",
    "core.view_auditlog",
    "core.add_apitoken",
    "core.view_apitoken",
    "insights.view_insights",
    "insights.add_retentiontarget",
    "helpdesk.manage_helpdesk",
    *("journeys.add_journey", "journeys.change_journey", "journeys.add_enrollment"),
    *("journeys.add_messagetemplate", "journeys.change_messagetemplate", "journeys.view_journey_report"),
}

_BOOK_FIELD = {"field.view_appointment", "field.add_appointment"}
_DISPATCH_FIELD = _BOOK_FIELD | {
    "field.view_appointment",
    "field.change_appointment",
    "field.view_dayplan",
    "field.change_dayplan",
}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    TECHNICIAN: _READ_CUSTOMERS | {"field.view_appointment"},
    DISPATCHER: _READ_CUSTOMERS | _READ_TIMELINE | _DISPATCH_FIELD,
    AGENT: _READ_CUSTOMERS | _READ_TIMELINE | _WORK_CUSTOMERS | _BOOK_FIELD,
    MANAGER: _READ_CUSTOMERS | _READ_TIMELINE | _WORK_CUSTOMERS | _MANAGE_CUSTOMERS | _DISPATCH_FIELD,
    # Admins are superusers in practice; the group carries every permission the others have.
    ADMIN: _READ_CUSTOMERS | _READ_TIMELINE | _WORK_CUSTOMERS | _MANAGE_CUSTOMERS | _DISPATCH_FIELD,
}


def ensure_roles(**_: Any) -> None:
    """Create the role groups and set their permissions exactly (runs after every migrate)."""
    from django.contrib.auth.models import Group, Permission

    for role, codes in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        wanted = []
        for code in sorted(codes):
            app_label, codename = code.split(".")
            permission = Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if permission is not None:  # the app may not be migrated yet in a partial migrate
                wanted.append(permission)
        group.permissions.set(wanted)
