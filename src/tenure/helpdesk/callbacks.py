"""Call-back reminders: the owner (else the request's assignee, else the leads) is told before it is due;
once it is overdue and still not done, the owner and the department lead (or the managers) are told again.

`remind_at` is the timer: first the reminder time, then the due time for the overdue check, then cleared.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from tenure.core.sweeper import claim_due
from tenure.helpdesk.models import Callback
from tenure.helpdesk.notify import leads_of, notify


def sweep(now: dt.datetime) -> int:
    with transaction.atomic():
        due = claim_due(
            Callback.objects.filter(done_at__isnull=True).select_related("request", "customer"),
            "remind_at",
            now,
        )
        # Nullable relations are prefetched: PostgreSQL cannot lock the outer side of a join.
        prefetch_related_objects(due, "owner", "request__assignee", "request__department__lead")
        for callback in due:
            request = callback.request
            owner = callback.owner or request.assignee
            local = timezone.localtime(callback.due_at)
            if callback.reminded_at is None:
                notify(
                    [owner] if owner else leads_of(request),
                    kind="callback.reminder",
                    request=request,
                    text=f"Call {callback.customer.name} back by {local:%H:%M} ({request.reference})",
                    key=f"callback_reminder:{callback.pk}",
                )
                callback.reminded_at = now
                callback.remind_at = callback.due_at if callback.due_at > now else None
            else:
                callback.remind_at = None
            if callback.remind_at is None:
                notify(
                    [owner, *leads_of(request)],
                    kind="callback.overdue",
                    request=request,
                    text=f"Overdue: call {callback.customer.name} back (was due {local:%H:%M}, {request.reference})",
                    key=f"callback_overdue:{callback.pk}",
                )
            callback.save(update_fields=["remind_at", "reminded_at"])
    return len(due)
