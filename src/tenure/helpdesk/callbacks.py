"""Call-back reminders: the owner (else the request's assignee, else the leads) is told before it is due."""

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
            owners = (
                [callback.owner or request.assignee]
                if (callback.owner or request.assignee)
                else leads_of(request)
            )
            local = timezone.localtime(callback.due_at)
            notify(
                owners,
                kind="callback.reminder",
                request=request,
                text=f"Call {callback.customer.name} back by {local:%H:%M} ({request.reference})",
                key=f"callback_reminder:{callback.pk}",
            )
            callback.remind_at = None
            callback.reminded_at = now
            callback.save(update_fields=["remind_at", "reminded_at"])
    return len(due)
