"""Re-planning in the background: a day is re-optimised after something changes it (a job runs long,
is cancelled or moves), a little later so that a burst of changes costs one solve."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.models import DBTaskResult

from tenure.field.routing.planning import replan

SETTLE = dt.timedelta(seconds=30)


@task()
def replan_day(day: str) -> dict[str, int]:
    result = replan(dt.date.fromisoformat(day))
    return {"planned": result.planned, "unassigned": len(result.unassigned), "changed": result.changed_routes}


def request_replan(day: dt.date) -> bool:
    """Queue a re-plan of `day` (in the caller's transaction) unless one is already waiting; True if queued."""
    with transaction.atomic():
        waiting = DBTaskResult.objects.filter(
            task_path=replan_day.module_path,
            status=TaskResultStatus.READY,
            args_kwargs__args=[day.isoformat()],
        )
        if waiting.exists():
            return False
        replan_day.using(run_after=timezone.now() + SETTLE).enqueue(day.isoformat())
    return True
